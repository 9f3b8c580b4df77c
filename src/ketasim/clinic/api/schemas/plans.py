"""Screenings and treatment plans (findings of the safety rules with their sources)."""

from __future__ import annotations

from pydantic import Field

from ketasim.clinic.api.schemas.common import (
    FindingPublic,
    RecordModel,
    RequestModel,
    UtcTime,
)

__all__ = ["PlanCreate", "PlanPublic", "ScreeningCreate", "ScreeningPublic"]


class ScreeningCreate(RequestModel):
    protocol_id: str
    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    heart_rate_bpm: float | None = None
    spo2_percent: float | None = None
    conditions: list[str] = Field(default_factory=list, description="condition ids of the rules")
    medications: list[str] = Field(default_factory=list)
    pregnant: bool | None = None
    substance_use: str = Field(default="", max_length=2000)
    history: str = Field(default="", max_length=5000)


class ScreeningPublic(RecordModel):
    id: int
    patient_id: int
    created_at: UtcTime
    protocol_id: str
    sbp_mmhg: float | None
    dbp_mmhg: float | None
    heart_rate_bpm: float | None
    spo2_percent: float | None
    conditions: list[str]
    medications: list[str]
    pregnant: bool | None
    substance_use: str
    history: str
    findings: list[FindingPublic]
    eligible: bool
    rules_version: str


class PlanCreate(RequestModel):
    screening_id: int = Field(ge=1, le=2_147_483_647)
    dose: float | None = Field(default=None, gt=0, le=10_000, description="protocol's dose unit")
    duration_min: float | None = Field(default=None, ge=0, le=1440)
    weeks: int | None = Field(default=None, ge=1, le=104)


class PlanPublic(RecordModel):
    id: int
    patient_id: int
    screening_id: int = Field(ge=1, le=2_147_483_647)
    protocol_id: str
    drug: str
    route: str
    dose: float
    dose_unit: str
    duration_min: float
    doses: list[dict[str, object]]
    findings: list[FindingPublic]
    monitoring: list[dict[str, object]]
    discharge_not_before_min: float | None
    has_stop: bool
    status: str
    signed_by: int | None
    signed_at: UtcTime | None
