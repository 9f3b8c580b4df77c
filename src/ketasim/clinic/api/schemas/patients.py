"""Patients and their consents (consent documents, signed consents, withdrawals)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from ketasim.clinic.api.schemas.common import RecordModel, RequestModel, UtcTime

__all__ = [
    "ConsentCreate",
    "ConsentDocumentCreate",
    "ConsentDocumentPublic",
    "ConsentPublic",
    "ConsentWithdraw",
    "PatientCreate",
    "PatientPublic",
    "PatientUpdate",
]


class PatientCreate(RequestModel):
    mrn: str = Field(min_length=1, max_length=64, description="medical record number")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    birth_date: dt.date
    sex: Literal["female", "male"]
    weight_kg: float = Field(ge=2, le=400)
    height_cm: float | None = Field(default=None, ge=40, le=250)
    ethnicity: str = Field(default="not stated", max_length=64)
    language: str = Field(default="not stated", max_length=64)
    postcode_area: str | None = Field(default=None, max_length=16)


class PatientUpdate(RequestModel):
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    weight_kg: float | None = Field(default=None, ge=2, le=400)
    height_cm: float | None = Field(default=None, ge=40, le=250)
    ethnicity: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=64)
    postcode_area: str | None = Field(default=None, max_length=16)


class PatientPublic(RecordModel):
    id: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    weight_kg: float
    height_cm: float | None
    ethnicity: str
    language: str
    postcode_area: str | None


class ConsentDocumentCreate(RequestModel):
    code: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=20)


class ConsentDocumentPublic(RecordModel):
    id: int
    code: str
    version: int
    title: str
    body: str
    current: bool


class ConsentCreate(RequestModel):
    document_id: int = Field(ge=1, le=2_147_483_647)
    signed_by_name: str = Field(min_length=1, max_length=200)


class ConsentWithdraw(RequestModel):
    reason: str = Field(default="", max_length=2000)


class ConsentPublic(RecordModel):
    id: int
    patient_id: int
    document_id: int = Field(ge=1, le=2_147_483_647)
    signed_at: UtcTime
    signed_by_name: str
    withdrawn_at: UtcTime | None
    withdrawn_reason: str | None
