"""Treatment sessions: opening, timed vitals and scores, adverse events. The pre-dose check and
the dose are :mod:`.dosing` (by the rules of :mod:`.guardrails`); the end of a session, discharge
to amendments, is :mod:`.lifecycle`; the REMS form is :mod:`.rems`. All are re-exported here.

States: ``open`` -> (pre-dose check) -> ``dosed`` -> ``discharged`` -> ``signed``, or ``open``
-> ``cancelled``. A session is opened only on a signed plan with a current consent. The pre-dose
check and the dose apply the same :mod:`ketasim.safety` rules as ``ketasim plan``: a stop refuses
the dose; a warning the signed plan did not contain needs a prescriber's override.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, raiseload

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import (
    AdverseEvent,
    Observation,
    TreatmentPlan,
    TreatmentSession,
)
from ketasim.clinic.services.alerts import session_alert
from ketasim.clinic.services.base import Actor, Conflict, Invalid, assign, get_or_404, log
from ketasim.clinic.services.consent import current_consent
from ketasim.clinic.services.dosing import (
    BP_ALERT_SOURCE,
    give_dose,
    predose_check,
    raise_bp_alert,
)
from ketasim.clinic.services.guardrails import chair_findings
from ketasim.clinic.services.lifecycle import (
    amend_session,
    cancel_session,
    discharge,
    ensure_writable,
    get_session,
    sign_session,
)
from ketasim.clinic.services.rems import (
    MIN_MONITORING_MIN,
    REMS_FIELDS,
    REMS_SOURCE,
    missing_fields,
    rems_form,
)
from ketasim.clinic.services.timezones import recorded_time

__all__ = [
    "BP_ALERT_SOURCE",
    "MIN_MONITORING_MIN",
    "REMS_FIELDS",
    "REMS_SOURCE",
    "add_adverse_event",
    "add_observation",
    "amend_session",
    "cancel_session",
    "discharge",
    "give_dose",
    "list_sessions",
    "missing_fields",
    "open_session",
    "predose_check",
    "rems_form",
    "sign_session",
    "update_session",
]

AE_CATEGORIES = (
    "sedation",
    "dissociation",
    "respiratory-depression",
    "blood-pressure",
    "nausea-vomiting",
    "other",
)
AE_SEVERITIES = ("mild", "moderate", "severe")


def open_session(
    session: Session,
    actor: Actor,
    plan_id: int,
    *,
    early_request: bool = False,
    zone: str = "UTC",
) -> TreatmentSession:
    """Open the next session of a signed plan (needs a current consent). The rules are applied
    to the planned dose now (sessions per week, minimum interval, same day, ...): their findings
    are returned in ``predose_findings`` until the pre-dose check replaces them."""
    plan = get_or_404(session, TreatmentPlan, plan_id, "plan")
    if plan.status != "signed":
        raise Conflict(f"plan {plan_id} is not signed by a prescriber", field="plan_id")
    if current_consent(session, plan.patient_id) is None:
        raise Conflict(
            "no current consent: sign the current consent document first", field="consent"
        )
    busy = session.execute(
        select(TreatmentSession.id).where(
            TreatmentSession.patient_id == plan.patient_id,
            TreatmentSession.status.in_(("open", "dosed")),
        )
    ).first()
    if busy:
        raise Conflict(
            f"session {busy[0]} of this patient is still open: complete it, or cancel it if no "
            f"dose was given (POST /api/v1/sessions/{busy[0]}/cancel)",
            extra={"open_session_id": busy[0]},
        )
    number = (
        int(
            session.execute(
                select(func.count(TreatmentSession.id)).where(
                    TreatmentSession.plan_id == plan.id, TreatmentSession.status != "cancelled"
                )
            ).scalar_one()
        )
        + 1
    )
    s = TreatmentSession(
        patient_id=plan.patient_id,
        plan_id=plan.id,
        number=number,
        status="open",
        created_by=actor.id or 0,
        early_request=early_request,
    )
    session.add(s)
    session.flush()
    s.predose_findings = chair_findings(session, s, at=clinic_now(session), zone=zone)
    log(session, actor, "create", s, None)
    if number > len(plan.doses):
        session_alert(
            session,
            actor,
            s,
            kind="extra-session",
            message=f"session {number} requested beyond the {len(plan.doses)} sessions "
            "of the signed plan",
        )
    if early_request:
        session_alert(
            session,
            actor,
            s,
            kind="early-session",
            message=f"session {number} requested earlier than scheduled",
        )
    return s


def add_observation(
    session: Session,
    actor: Actor,
    session_id: int,
    *,
    minutes_after_dose: float,
    checkpoint: str = "",
    sbp_mmhg: float | None = None,
    dbp_mmhg: float | None = None,
    heart_rate_bpm: float | None = None,
    spo2_percent: float | None = None,
    cadss: float | None = None,
    moaas: int | None = None,
    bp_alert: tuple[float, float] | None = (180.0, 110.0),
    taken_at: dt.datetime | None = None,
) -> Observation:
    """Timed vitals (mmHg, beats/min, %) and scores (CADSS 0-92, MOAA/S 0-5); a BP at or above
    ``bp_alert`` raises an alert (``None``: the caller has raised it already)."""
    s = get_session(session, session_id, collections=False)
    ensure_writable(s)
    checks = {
        "sbp_mmhg": (sbp_mmhg, 50, 300),
        "dbp_mmhg": (dbp_mmhg, 20, 200),
        "heart_rate_bpm": (heart_rate_bpm, 20, 250),
        "spo2_percent": (spo2_percent, 50, 100),
        "cadss": (cadss, 0, 92),
        "moaas": (moaas, 0, 5),
        "minutes_after_dose": (minutes_after_dose, -120, 1440),
    }
    for name, (v, lo, hi) in checks.items():
        if v is not None and not lo <= v <= hi:
            raise Invalid(name, f"{v:g} is out of range; accepted {lo} to {hi}")
    if (sbp_mmhg is None) != (dbp_mmhg is None):
        raise Invalid(
            "dbp_mmhg" if dbp_mmhg is None else "sbp_mmhg", "give systolic and diastolic together"
        )
    if sbp_mmhg is not None and dbp_mmhg is not None and dbp_mmhg >= sbp_mmhg:
        raise Invalid("dbp_mmhg", "must be below sbp_mmhg")
    if checkpoint not in ("", "pre-dose", "40-min", "pre-discharge"):
        raise Invalid("checkpoint", f"{checkpoint!r}; accepted pre-dose, 40-min, pre-discharge")
    if taken_at is not None:
        taken_at = recorded_time(taken_at, "taken_at", clinic_now(session))
    obs = Observation(
        session_id=s.id,
        minutes_after_dose=minutes_after_dose,
        checkpoint=checkpoint,
        sbp_mmhg=sbp_mmhg,
        dbp_mmhg=dbp_mmhg,
        heart_rate_bpm=heart_rate_bpm,
        spo2_percent=spo2_percent,
        cadss=cadss,
        moaas=moaas,
        recorded_by=actor.id or 0,
        taken_at=taken_at,
    )
    session.add(obs)
    log(session, actor, "create", obs, None)
    if sbp_mmhg is not None and dbp_mmhg is not None and bp_alert is not None:
        raise_bp_alert(
            session, actor, s, sbp_mmhg, dbp_mmhg, f"at {minutes_after_dose:g} min", bp_alert
        )
    session.expire(s, ["observations"])
    return obs


def add_adverse_event(
    session: Session,
    actor: Actor,
    session_id: int,
    *,
    category: str,
    severity: str,
    description: str,
    serious: bool = False,
    onset_min: float | None = None,
    action: str = "",
) -> AdverseEvent:
    """An adverse event of a session."""
    s = get_session(session, session_id)
    ensure_writable(s)
    if category not in AE_CATEGORIES:
        raise Invalid("category", f"{category!r}; accepted: {', '.join(AE_CATEGORIES)}")
    if severity not in AE_SEVERITIES:
        raise Invalid("severity", f"{severity!r}; accepted: {', '.join(AE_SEVERITIES)}")
    if not description.strip():
        raise Invalid("description", "required")
    ae = AdverseEvent(
        session_id=s.id,
        category=category,
        severity=severity,
        serious=serious,
        description=description.strip(),
        onset_min=onset_min,
        action=action,
        recorded_by=actor.id or 0,
    )
    session.add(ae)
    log(session, actor, "create", ae, None)
    session.expire(s, ["adverse_events"])
    return ae


def list_sessions(
    session: Session, patient_id: int | None = None, *, collections: bool = True
) -> list[TreatmentSession]:
    """Sessions, newest first (``collections=False``: without their vitals, adverse events and
    amendments, e.g. for a list of sessions)."""
    stmt = select(TreatmentSession).order_by(TreatmentSession.id.desc())
    if not collections:
        stmt = stmt.options(raiseload("*"))
    if patient_id is not None:
        stmt = stmt.where(TreatmentSession.patient_id == patient_id)
    return list(session.execute(stmt).scalars())


def update_session(
    session: Session, actor: Actor, session_id: int, values: dict[str, object]
) -> TreatmentSession:
    """Fill REMS/discharge fields of an open or dosed session (audited); a discharged or
    signed session is corrected by amendment (:func:`.lifecycle.amend_session`)."""
    s = get_session(session, session_id)
    if s.status == "discharged":
        raise Conflict(
            f"session {session_id} is discharged; correct it by amendment "
            f"(POST /api/v1/sessions/{session_id}/amendments)",
            field="status",
        )
    ensure_writable(s, allowed=("open", "dosed"))
    values = {
        k: recorded_time(v, k, clinic_now(session)) if isinstance(v, dt.datetime) else v
        for k, v in values.items()
    }
    start = values.get("infusion_start_at", s.infusion_start_at)
    stop = values.get("infusion_stop_at", s.infusion_stop_at)
    if isinstance(start, dt.datetime) and isinstance(stop, dt.datetime) and stop < start:
        raise Invalid("infusion_stop_at", "before infusion_start_at")
    before = audit.snapshot(s)
    assign(s, values)
    log(session, actor, "update", s, before)
    return s
