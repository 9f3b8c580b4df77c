"""Treatment sessions: opening, the pre-dose check, the dose, vitals, adverse events,
discharge, cancellation and amendments."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from ketasim.clinic.api.schemas.common import (
    FindingPublic,
    RecordModel,
    RequestModel,
    UtcTime,
)

__all__ = [
    "AdverseEventIn",
    "AdverseEventPublic",
    "AmendmentIn",
    "AmendmentPublic",
    "DischargeIn",
    "DoseIn",
    "ObservationIn",
    "ObservationPublic",
    "PredoseIn",
    "SessionCancel",
    "SessionCreate",
    "SessionPublic",
    "SessionUpdate",
]


class SessionCreate(RequestModel):
    plan_id: int = Field(ge=1, le=2_147_483_647)
    early_request: bool = False


class PredoseIn(RequestModel):
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


class DoseIn(RequestModel):
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


class SessionCancel(RequestModel):
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="why (at least 20 characters and 3 different words)",
    )


class AmendmentIn(RequestModel):
    field: str = Field(min_length=1, max_length=64, description="the field corrected")
    value: bool | float | str = Field(description="the corrected value")
    reason: str = Field(
        min_length=1,
        max_length=2000,
        description="why (at least 20 characters and 3 different words)",
    )
    override_reason: str | None = Field(
        default=None,
        max_length=2000,
        description="an amended dose_mg: a prescriber's reason for overriding the warnings "
        "the amended dose raised (as at dose entry)",
    )


class AmendmentPublic(RecordModel):
    id: int
    session_id: int
    field: str
    original_value: bool | float | str | None
    amended_value: bool | float | str | None
    reason: str
    created_by: int
    created_at: UtcTime


class ObservationIn(RequestModel):
    minutes_after_dose: float = Field(ge=-120, le=1440)
    checkpoint: Literal["", "pre-dose", "40-min", "pre-discharge"] = ""
    sbp_mmhg: float | None = Field(default=None, ge=50, le=300)
    dbp_mmhg: float | None = Field(default=None, ge=20, le=200)
    heart_rate_bpm: float | None = Field(default=None, ge=20, le=250)
    spo2_percent: float | None = Field(default=None, ge=50, le=100)
    cadss: float | None = Field(default=None, ge=0, le=92, description="CADSS total")
    moaas: int | None = Field(default=None, ge=0, le=5, description="MOAA/S")
    taken_at: dt.datetime | None = Field(default=None, description="clock time (UTC)")


class ObservationPublic(RecordModel):
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


class AdverseEventIn(RequestModel):
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


class AdverseEventPublic(RecordModel):
    id: int
    category: str
    severity: str
    serious: bool
    description: str
    onset_min: float | None
    action: str


class SessionUpdate(RequestModel):
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


class SessionPublic(RecordModel):
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
