"""Typed request (Create/Update) and response (Public) schemas of the REST API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _utc(value: dt.datetime) -> dt.datetime:
    """Stored times are naive UTC: answer them with their offset (``Z``)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: a stored (naive UTC) time answered with its offset; a serializer of the datetime fields only
#: (one on every field, ``field_serializer("*")``, cost a Python call per field of every row)
UtcTime = Annotated[dt.datetime, PlainSerializer(_utc, return_type=dt.datetime)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FindingPublic(BaseModel):
    rule_id: str
    severity: Literal["stop", "warn", "info"]
    message: str
    source: str
    override: Literal["", "required", "acknowledged", "given"] = Field(
        default="",
        description="warnings: required = needs a prescriber's override before "
        "dosing; acknowledged = accepted when the plan was signed; given = overridden",
    )


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    totp_code: str | None = Field(
        default=None, max_length=10, description="authenticator code (users with a second factor)"
    )


class LoginOut(BaseModel):
    token: str = Field(description="bearer token for API clients")
    csrf_token: str
    username: str
    role: str
    must_change_password: bool = Field(
        default=False,
        description="true after an admin's reset: only POST /api/v1/auth/password "
        "(and logout) are allowed until the password is changed",
    )


class PasswordChange(_In):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class PasswordReset(_In):
    new_password: str = Field(
        min_length=1, max_length=200, description="temporary password; the user must change it"
    )


class TotpCode(_In):
    code: str = Field(min_length=1, max_length=10)


class TotpEnrolment(BaseModel):
    secret: str = Field(description="base32 secret (shown once)")
    uri: str = Field(description="otpauth:// URI for an authenticator app")


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
    must_change_password: bool = False
    totp_enabled: bool = False


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
    signed_at: UtcTime
    signed_by_name: str
    withdrawn_at: UtcTime | None
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
    signed_at: UtcTime | None


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
    new_conditions: list[str] = Field(
        default_factory=list, description="condition ids found since screening"
    )


class DoseIn(_In):
    dose_mg: float = Field(gt=0, le=1000)
    lot_number: str = Field(min_length=1, max_length=64)
    start_at: dt.datetime
    end_at: dt.datetime | None = None
    rationale: str | None = Field(default=None, max_length=2000)
    override_reason: str | None = Field(
        default=None,
        max_length=2000,
        description="a prescriber's reason for overriding the warnings the dose raised "
        "(at least 20 characters and 3 different words)",
    )


class SessionCancel(_In):
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="why (at least 20 characters and 3 different words)",
    )


class AmendmentIn(_In):
    field: str = Field(min_length=1, max_length=64, description="the field corrected")
    value: bool | float | str = Field(description="the corrected value")
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="why (at least 20 characters and 3 different words)",
    )


class AmendmentPublic(_Out):
    id: int
    session_id: int
    field: str
    original_value: bool | float | str | None
    amended_value: bool | float | str | None
    reason: str
    created_by: int
    created_at: UtcTime


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
    taken_at: UtcTime | None = None


class AdverseEventIn(_In):
    category: Literal[
        "sedation",
        "dissociation",
        "respiratory-depression",
        "blood-pressure",
        "nausea-vomiting",
        "other",
    ]
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
    dose_start_at: UtcTime | None
    dose_end_at: UtcTime | None
    first_treatment: bool | None
    monitoring_provider: str | None
    setting: str | None
    monitoring_end_at: UtcTime | None
    ready_to_leave_min: float | None
    vitals_acceptable_before: bool | None
    vitals_acceptable_end: bool | None
    sedation_observed: bool | None
    dissociation_observed: bool | None
    respiratory_depression_observed: bool | None
    serious_adverse_event: bool | None
    discharge_criteria_met: bool | None
    discharged_at: UtcTime | None
    signed_by: int | None
    signed_at: UtcTime | None
    observations: list[ObservationPublic]
    adverse_events: list[AdverseEventPublic]
    dose_rationale: str | None = None
    dose_override_by: int | None = None
    dose_override_reason: str | None = None
    dose_override_findings: list[FindingPublic] | None = None
    cancelled_at: UtcTime | None = None
    cancelled_by: int | None = None
    cancel_reason: str | None = None
    amendments: list[AmendmentPublic] = Field(default_factory=list)
    chair: str | None = None
    checked_in_at: UtcTime | None = None
    infusion_rate_ml_per_h: float | None = None
    infusion_volume_ml: float | None = None
    infusion_start_at: UtcTime | None = None
    infusion_stop_at: UtcTime | None = None
    rems_submitted_at: UtcTime | None = None
    rems_submitted_by: int | None = None


class RatingCreate(_In):
    scale: Literal["MADRS", "PHQ-9", "GAD-7"]
    score: int | None = Field(
        default=None, ge=0, le=60, description="total; required unless items are given"
    )
    taken_on: dt.date
    items: list[int] | None = Field(
        default=None, max_length=10, description="item answers (MADRS 10 items 0-6)"
    )


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
    created_at: UtcTime
    acknowledged_at: UtcTime | None


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
