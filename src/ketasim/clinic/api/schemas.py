"""Typed request (Create/Update) and response (Public) schemas of the REST API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FindingPublic(BaseModel):
    rule_id: str
    severity: Literal["stop", "warn", "info"]
    message: str
    source: str


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class LoginOut(BaseModel):
    token: str = Field(description="bearer token for API clients")
    csrf_token: str
    username: str
    role: str


class UserCreate(_In):
    username: str = Field(min_length=2, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "prescriber", "nurse", "auditor"]
    password: str = Field(min_length=10, max_length=200)


class UserUpdate(_In):
    active: bool


class UserPublic(_Out):
    id: int
    username: str
    full_name: str
    role: str
    active: bool


class PatientCreate(_In):
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


class PatientUpdate(_In):
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    weight_kg: float | None = Field(default=None, ge=2, le=400)
    height_cm: float | None = Field(default=None, ge=40, le=250)
    ethnicity: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=64)
    postcode_area: str | None = Field(default=None, max_length=16)


class PatientPublic(_Out):
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


class ConsentDocumentCreate(_In):
    code: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=20)


class ConsentDocumentPublic(_Out):
    id: int
    code: str
    version: int
    title: str
    body: str
    current: bool


class ConsentCreate(_In):
    document_id: int = Field(ge=1, le=2_147_483_647)
    signed_by_name: str = Field(min_length=1, max_length=200)


class ConsentWithdraw(_In):
    reason: str = Field(default="", max_length=2000)


class ConsentPublic(_Out):
    id: int
    patient_id: int
    document_id: int = Field(ge=1, le=2_147_483_647)
    signed_at: dt.datetime
    signed_by_name: str
    withdrawn_at: dt.datetime | None
    withdrawn_reason: str | None


class ScreeningCreate(_In):
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


class ScreeningPublic(_Out):
    id: int
    patient_id: int
    created_at: dt.datetime
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


class PlanCreate(_In):
    screening_id: int = Field(ge=1, le=2_147_483_647)
    dose: float | None = Field(default=None, gt=0, le=10_000, description="protocol's dose unit")
    duration_min: float | None = Field(default=None, ge=0, le=1440)
    weeks: int | None = Field(default=None, ge=1, le=104)


class PlanPublic(_Out):
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
    signed_at: dt.datetime | None


class SessionCreate(_In):
    plan_id: int = Field(ge=1, le=2_147_483_647)
    early_request: bool = False


class PredoseIn(_In):
    sbp_mmhg: float = Field(ge=50, le=300)
    dbp_mmhg: float = Field(ge=20, le=200)
    heart_rate_bpm: float = Field(ge=20, le=250)
    spo2_percent: float = Field(ge=50, le=100)
    medications: list[str] = Field(default_factory=list)
    fasting_confirmed: bool | None = None
    transport_arranged: bool | None = None
    new_conditions: list[str] = Field(default_factory=list,
                                      description="condition ids found since screening")


class DoseIn(_In):
    dose_mg: float = Field(gt=0, le=1000)
    lot_number: str = Field(min_length=1, max_length=64)
    start_at: dt.datetime
    end_at: dt.datetime | None = None
    rationale: str | None = Field(default=None, max_length=2000)


class ObservationIn(_In):
    minutes_after_dose: float = Field(ge=-120, le=1440)
    checkpoint: Literal["", "pre-dose", "40-min", "pre-discharge"] = ""
    sbp_mmhg: float | None = Field(default=None, ge=50, le=300)
    dbp_mmhg: float | None = Field(default=None, ge=20, le=200)
    heart_rate_bpm: float | None = Field(default=None, ge=20, le=250)
    spo2_percent: float | None = Field(default=None, ge=50, le=100)
    cadss: float | None = Field(default=None, ge=0, le=92, description="CADSS total")
    moaas: int | None = Field(default=None, ge=0, le=5, description="MOAA/S")
    taken_at: dt.datetime | None = Field(default=None, description="clock time (UTC)")


class ObservationPublic(_Out):
    id: int
    minutes_after_dose: float
    checkpoint: str
    sbp_mmhg: float | None
    dbp_mmhg: float | None
    heart_rate_bpm: float | None
    spo2_percent: float | None
    cadss: float | None
    moaas: int | None
    taken_at: dt.datetime | None = None


class AdverseEventIn(_In):
    category: Literal["sedation", "dissociation", "respiratory-depression", "blood-pressure",
                      "nausea-vomiting", "other"]
    severity: Literal["mild", "moderate", "severe"]
    description: str = Field(min_length=1, max_length=2000)
    serious: bool = False
    onset_min: float | None = Field(default=None, ge=-120, le=1440)
    action: str = Field(default="", max_length=2000)


class AdverseEventPublic(_Out):
    id: int
    category: str
    severity: str
    serious: bool
    description: str
    onset_min: float | None
    action: str


class SessionUpdate(_In):
    first_treatment: bool | None = None
    monitoring_provider: str | None = Field(default=None, max_length=200)
    setting: Literal["outpatient", "inpatient"] | None = None
    vitals_acceptable_before: bool | None = None
    vitals_acceptable_end: bool | None = None
    sedation_observed: bool | None = None
    dissociation_observed: bool | None = None
    respiratory_depression_observed: bool | None = None
    serious_adverse_event: bool | None = None
    ready_to_leave_min: float | None = Field(default=None, ge=0, le=1440)
    notes: str | None = Field(default=None, max_length=5000)
    chair: str | None = Field(default=None, max_length=32)
    infusion_rate_ml_per_h: float | None = Field(default=None, gt=0, le=2000)
    infusion_volume_ml: float | None = Field(default=None, gt=0, le=5000)
    infusion_start_at: dt.datetime | None = None
    infusion_stop_at: dt.datetime | None = None


class DischargeIn(SessionUpdate):
    discharged_at: dt.datetime
    criteria_met: bool
    monitoring_end_at: dt.datetime | None = None
    transport_arranged: bool | None = None


class SessionPublic(_Out):
    id: int
    patient_id: int
    plan_id: int = Field(ge=1, le=2_147_483_647)
    number: int
    status: str
    early_request: bool
    predose_sbp_mmhg: float | None
    predose_dbp_mmhg: float | None
    predose_heart_rate_bpm: float | None
    predose_spo2_percent: float | None
    predose_findings: list[FindingPublic]
    predose_blocked: bool | None
    concomitant_medications: list[str]
    dose_mg: float | None
    lot_number: str | None
    dose_start_at: dt.datetime | None
    dose_end_at: dt.datetime | None
    first_treatment: bool | None
    monitoring_provider: str | None
    setting: str | None
    monitoring_end_at: dt.datetime | None
    ready_to_leave_min: float | None
    vitals_acceptable_before: bool | None
    vitals_acceptable_end: bool | None
    sedation_observed: bool | None
    dissociation_observed: bool | None
    respiratory_depression_observed: bool | None
    serious_adverse_event: bool | None
    discharge_criteria_met: bool | None
    discharged_at: dt.datetime | None
    signed_by: int | None
    signed_at: dt.datetime | None
    observations: list[ObservationPublic]
    adverse_events: list[AdverseEventPublic]
    chair: str | None = None
    checked_in_at: dt.datetime | None = None
    infusion_rate_ml_per_h: float | None = None
    infusion_volume_ml: float | None = None
    infusion_start_at: dt.datetime | None = None
    infusion_stop_at: dt.datetime | None = None
    rems_submitted_at: dt.datetime | None = None
    rems_submitted_by: int | None = None


class RatingCreate(_In):
    scale: Literal["MADRS", "PHQ-9", "GAD-7"]
    score: int | None = Field(default=None, ge=0, le=60,
                              description="total; required unless items are given")
    taken_on: dt.date
    items: list[int] | None = Field(default=None, max_length=10,
                                    description="item answers (MADRS 10 items 0-6)")


class RatingPublic(_Out):
    id: int
    patient_id: int
    scale: str
    score: int
    taken_on: dt.date
    items: list[int] | None = None
    source: str = "staff"


class CoursePointPublic(_Out):
    taken_on: dt.date
    score: int
    change_percent: float | None
    response: bool
    remission: bool


class AlertPublic(_Out):
    id: int
    patient_id: int
    session_id: int | None
    kind: str
    severity: str
    message: str
    source: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None


class AuditEntryPublic(_Out):
    seq: int
    at: str
    username: str
    action: str
    entity: str
    entity_id: str
    before: str
    after: str
    hash: str


class AuditVerifyPublic(BaseModel):
    entries: int
    intact: bool
    problems: list[str]
