"""The SPRAVATO REMS patient monitoring form of a session, filled from the record, and the
fields a session needs before it can be signed (clinical-rules.md 4a)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ketasim.clinic.db.models import Observation, Patient, TreatmentPlan, TreatmentSession
from ketasim.clinic.services.base import get_or_404
from ketasim.clinic.services.timezones import local

__all__ = [
    "DISCHARGE_ANSWERS",
    "MIN_MONITORING_MIN",
    "REMS_FIELDS",
    "REMS_SOURCE",
    "bp_checkpoints",
    "missing_answers",
    "missing_fields",
    "rems_form",
]

REMS_SOURCE = "SPRAVATO REMS patient monitoring form (clinical-rules.md 4a)"
#: REMS patient monitoring form fields (label, how the record answers it)
REMS_FIELDS = (
    "first_treatment",
    "concomitant_medications",
    "monitoring_provider",
    "setting",
    "treatment_date",
    "dose_mg",
    "lot_number",
    "monitoring_minutes",
    "ready_to_leave_min",
    "vitals_acceptable_before",
    "vitals_acceptable_end",
    "bp_pre_dose",
    "bp_40_min",
    "bp_pre_discharge",
    "sedation_observed",
    "dissociation_observed",
    "respiratory_depression_observed",
    "serious_adverse_event",
)
#: the form's answers known only at discharge: asked then, so a discharged session can be signed
DISCHARGE_ANSWERS = (
    "first_treatment",
    "monitoring_provider",
    "setting",
    "ready_to_leave_min",
    "vitals_acceptable_before",
    "vitals_acceptable_end",
    "sedation_observed",
    "dissociation_observed",
    "respiratory_depression_observed",
    "serious_adverse_event",
)
#: SPRAVATO US PI boxed warning and section 2: monitor for at least 2 hours
MIN_MONITORING_MIN = 120.0


def bp_checkpoints(s: TreatmentSession) -> dict[str, Observation | None]:
    """The observations answering the form's three BP checkpoints (None: missing)."""
    obs = [o for o in s.observations if o.sbp_mmhg is not None]
    pre = next((o for o in obs if o.checkpoint == "pre-dose"), None) or next(
        (o for o in obs if o.minutes_after_dose <= 0), None
    )
    forty = next((o for o in obs if o.checkpoint == "40-min"), None) or next(
        (o for o in obs if 30 <= o.minutes_after_dose <= 60), None
    )
    dis = next((o for o in obs if o.checkpoint == "pre-discharge"), None)
    return {"bp_pre_dose": pre, "bp_40_min": forty, "bp_pre_discharge": dis}


def _monitoring_minutes(s: TreatmentSession) -> float | None:
    if s.monitoring_end_at is None or s.dose_start_at is None:
        return None
    return (s.monitoring_end_at - s.dose_start_at).total_seconds() / 60.0


def missing_answers(s: TreatmentSession) -> list[str]:
    """The REMS answers a discharge must give (and monitoring of at least 2 h)."""
    missing = [k for k in DISCHARGE_ANSWERS if getattr(s, k) is None]
    minutes = _monitoring_minutes(s)
    if minutes is not None and minutes < MIN_MONITORING_MIN:
        missing.append(f"monitoring_minutes (>= {MIN_MONITORING_MIN:g}; {minutes:.0f} recorded)")
    return missing


def missing_fields(session: Session, s: TreatmentSession) -> list[str]:
    """Fields that must be filled before the session can be signed."""
    plan = get_or_404(session, TreatmentPlan, s.plan_id, "plan")
    missing = []
    if s.dose_mg is None:
        missing.append("dose_mg")
    if s.discharged_at is None:
        missing.append("discharged_at")
    if not s.observations:
        missing.append("observations")
    if plan.drug == "esketamine":
        form = rems_form(session, s)
        missing += [k for k in REMS_FIELDS if form.get(k) is None and k not in missing]
        mins = form.get("monitoring_minutes")
        if isinstance(mins, float) and mins < MIN_MONITORING_MIN:
            missing.append(f"monitoring_minutes (>= {MIN_MONITORING_MIN:g})")
    return missing


def rems_form(session: Session, s: TreatmentSession, zone: str = "UTC") -> dict[str, object]:
    """The REMS patient monitoring form filled from the record (None: not recorded); dates
    are those of the clinic's time zone ``zone``."""
    patient = get_or_404(session, Patient, s.patient_id, "patient")
    bp = bp_checkpoints(s)
    start = local(s.dose_start_at, zone)

    def fmt(o: Observation | None) -> str | None:
        return None if o is None else f"{o.sbp_mmhg:g}/{o.dbp_mmhg:g}"

    return {
        "form": "SPRAVATO REMS patient monitoring form",
        "source": REMS_SOURCE,
        "patient_mrn": patient.mrn,
        "patient_name": f"{patient.given_name} {patient.family_name}",
        "session_id": s.id,
        "session_number": s.number,
        "first_treatment": s.first_treatment,
        "concomitant_medications": (
            None if s.predose_blocked is None else list(s.concomitant_medications)
        ),
        "monitoring_provider": s.monitoring_provider,
        "setting": s.setting,
        "treatment_date": None if start is None else start.date().isoformat(),
        "dose_mg": s.dose_mg,
        "lot_number": s.lot_number,
        "monitoring_minutes": _monitoring_minutes(s),
        "ready_to_leave_min": s.ready_to_leave_min,
        "vitals_acceptable_before": s.vitals_acceptable_before,
        "vitals_acceptable_end": s.vitals_acceptable_end,
        "bp_pre_dose": fmt(bp["bp_pre_dose"]),
        "bp_40_min": fmt(bp["bp_40_min"]),
        "bp_pre_discharge": fmt(bp["bp_pre_discharge"]),
        "sedation_observed": s.sedation_observed,
        "dissociation_observed": s.dissociation_observed,
        "respiratory_depression_observed": s.respiratory_depression_observed,
        "serious_adverse_event": s.serious_adverse_event,
        "adverse_events": [
            {
                "category": a.category,
                "severity": a.severity,
                "serious": a.serious,
                "description": a.description,
            }
            for a in s.adverse_events
        ],
        "due_by": None if start is None else (start + dt.timedelta(days=7)).date().isoformat(),
    }
