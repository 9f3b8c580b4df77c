"""Treatment sessions: opening, pre-dose check, dose given, timed vitals and scores, adverse
events (the end of a session, discharge to amendments, is :mod:`.lifecycle`; the REMS form is
:mod:`.rems`; the rules at the chair side are :mod:`.guardrails`).

States: ``open`` -> (pre-dose check) -> ``dosed`` -> ``discharged`` -> ``signed``, or ``open``
-> ``cancelled``. A session is opened only on a signed plan with a current consent. The pre-dose
check and the dose apply the same :mod:`ketasim.safety` rules as ``ketasim plan``: a stop refuses
the dose; a warning the signed plan did not contain needs a prescriber's override.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.db.models import (
    AdverseEvent,
    Observation,
    TreatmentPlan,
    TreatmentSession,
    utcnow,
)
from ketasim.clinic.services.alerts import MISUSE_SOURCE, raise_alert
from ketasim.clinic.services.base import Actor, Conflict, Invalid, assign, get_or_404, log
from ketasim.clinic.services.consent import current_consent
from ketasim.clinic.services.guardrails import (
    chair_findings,
    check_dose_times,
    enforce,
    planned_dose,
)
from ketasim.clinic.services.lifecycle import (
    amend_session,
    cancel_session,
    discharge,
    ensure_writable,
    sign_session,
)
from ketasim.clinic.services.rems import (
    MIN_MONITORING_MIN,
    REMS_FIELDS,
    REMS_SOURCE,
    missing_fields,
    rems_form,
)
from ketasim.clinic.services.timezones import utc_naive

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

BP_ALERT_SOURCE = (
    "Williams B et al. 2018 ESC/ESH hypertension guidelines (grade 3: >= 180/110 "
    "mmHg); aligning ketamine BP protocols with hypertension guidelines proposed by "
    "Yip et al. 2022 (PMC9556663); threshold configurable"
)
AE_CATEGORIES = (
    "sedation",
    "dissociation",
    "respiratory-depression",
    "blood-pressure",
    "nausea-vomiting",
    "other",
)
AE_SEVERITIES = ("mild", "moderate", "severe")


def _session(session: Session, session_id: int) -> TreatmentSession:
    return get_or_404(session, TreatmentSession, session_id, "session")


def _plan(session: Session, s: TreatmentSession) -> TreatmentPlan:
    return get_or_404(session, TreatmentPlan, s.plan_id, "plan")


def open_session(
    session: Session, actor: Actor, plan_id: int, *, early_request: bool = False,
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
            f"dose was given (POST /api/v1/sessions/{busy[0]}/cancel)"
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
    s.predose_findings = chair_findings(session, s, at=utcnow(), zone=zone)
    log(session, actor, "create", s, None)
    if number > len(plan.doses):
        raise_alert(
            session,
            actor,
            patient_id=plan.patient_id,
            session_id=s.id,
            kind="extra-session",
            severity="warn",
            source=MISUSE_SOURCE,
            message=f"session {number} requested beyond the {len(plan.doses)} sessions "
            "of the signed plan",
        )
    if early_request:
        raise_alert(
            session,
            actor,
            patient_id=plan.patient_id,
            session_id=s.id,
            kind="early-session",
            severity="warn",
            source=MISUSE_SOURCE,
            message=f"session {number} requested earlier than scheduled",
        )
    return s


_ALERT_OF_RULE = {
    "frequency.": "frequency-escalation",
    "cumulative.weekly": "cumulative-exposure",
    "dose.above": "dose-escalation",
}


def _bp_alert(
    session: Session,
    actor: Actor,
    s: TreatmentSession,
    sbp: float,
    dbp: float,
    when: str,
    bp_alert: tuple[float, float],
) -> None:
    if sbp >= bp_alert[0] or dbp >= bp_alert[1]:
        raise_alert(
            session,
            actor,
            patient_id=s.patient_id,
            session_id=s.id,
            kind="bp-above-threshold",
            severity="warn",
            source=BP_ALERT_SOURCE,
            message=f"BP {sbp:g}/{dbp:g} mmHg {when} is at or above "
            f"{bp_alert[0]:g}/{bp_alert[1]:g} mmHg",
        )


def predose_check(
    session: Session,
    actor: Actor,
    session_id: int,
    *,
    sbp_mmhg: float,
    dbp_mmhg: float,
    heart_rate_bpm: float,
    spo2_percent: float,
    medications: Sequence[str] = (),
    fasting_confirmed: bool | None = None,
    transport_arranged: bool | None = None,
    new_conditions: Sequence[str] = (),
    bp_alert: tuple[float, float] = (180.0, 110.0),
    zone: str = "UTC",
) -> TreatmentSession:
    """Re-check eligibility before dosing with today's vitals and medicines, the doses already
    given and the current consent (``new_conditions``: intercurrent illness since screening),
    by :func:`.guardrails.chair_findings`: stop findings block the dose, warnings the signed
    plan did not contain need a prescriber's override; frequency, cumulative and dose findings
    and a BP at or above ``bp_alert`` raise alerts."""
    s = _session(session, session_id)
    if s.status != "open":
        raise Conflict(f"session {session_id} is {s.status}; the pre-dose check comes first")
    if not 50.0 <= spo2_percent <= 100.0:
        raise Invalid("spo2_percent", f"{spo2_percent:g} % is out of range; accepted 50 to 100")
    if dbp_mmhg >= sbp_mmhg:
        raise Invalid("dbp_mmhg", "must be below sbp_mmhg")
    before = audit.snapshot(s)
    s.predose_sbp_mmhg, s.predose_dbp_mmhg = sbp_mmhg, dbp_mmhg
    s.predose_heart_rate_bpm, s.predose_spo2_percent = heart_rate_bpm, spo2_percent
    s.concomitant_medications = list(medications)
    s.predose_new_conditions = list(new_conditions)
    s.fasting_confirmed, s.transport_arranged = fasting_confirmed, transport_arranged
    findings = chair_findings(session, s, at=utcnow(), zone=zone)
    s.predose_findings = findings
    s.predose_blocked = any(f["severity"] == "stop" for f in findings)
    log(session, actor, "predose-check", s, before)
    for f in findings:
        kind = next(
            (k for prefix, k in _ALERT_OF_RULE.items() if f["rule_id"].startswith(prefix)), None
        )
        if kind and f["severity"] in ("stop", "warn"):
            raise_alert(
                session,
                actor,
                patient_id=s.patient_id,
                session_id=s.id,
                kind=kind,
                severity=f["severity"],
                message=f["message"],
                source=f["source"],
            )
    _bp_alert(session, actor, s, sbp_mmhg, dbp_mmhg, "before dosing", bp_alert)
    return s


def give_dose(
    session: Session,
    actor: Actor,
    session_id: int,
    *,
    dose_mg: float,
    lot_number: str,
    start_at: dt.datetime,
    end_at: dt.datetime | None = None,
    rationale: str | None = None,
    override_reason: str | None = None,
    zone: str = "UTC",
) -> TreatmentSession:
    """Record the dose given (mg), its lot number and times (aware, or naive UTC). Refused
    without a pre-dose check, with a stop (the check's, or the rules applied again to this
    dose at this time: label maximum, consent withdrawn since, ...), with times in the future
    or before the previous session, and with a warning the signed plan did not contain unless
    a prescriber gives ``override_reason`` (a reason of substance; audited and alerted)."""
    s = _session(session, session_id)
    if s.status != "open":
        ensure_writable(s, allowed=("open",))
    if s.predose_blocked is None:
        raise Conflict("the pre-dose check has not been done", field="predose")
    if s.predose_blocked:
        stops = [f["rule_id"] for f in s.predose_findings if f["severity"] == "stop"]
        raise Conflict(
            f"the pre-dose check found hard stops: {', '.join(stops)}", extra={"stops": stops}
        )
    if not 0 < dose_mg <= 1000:
        raise Invalid("dose_mg", f"{dose_mg:g} mg is out of range; accepted > 0 to 1000 mg")
    if not lot_number.strip():
        raise Invalid("lot_number", "required")
    start_at = utc_naive(start_at, "start_at")
    end_at = utc_naive(end_at, "end_at") if end_at is not None else None
    check_dose_times(session, s, start_at, end_at, utcnow(), zone)
    findings = chair_findings(session, s, at=start_at, dose_mg=dose_mg, zone=zone)
    overridden, reason = enforce(session, actor, findings, override_reason)
    plan = _plan(session, s)
    previous = session.execute(
        select(TreatmentSession.dose_mg)
        .where(
            TreatmentSession.patient_id == s.patient_id,
            TreatmentSession.dose_mg.is_not(None),
            TreatmentSession.id != s.id,
        )
        .order_by(TreatmentSession.dose_start_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    before = audit.snapshot(s)
    s.dose_mg, s.lot_number = dose_mg, lot_number.strip()
    s.dose_start_at, s.dose_end_at = start_at, end_at
    s.dose_rationale = (rationale or "").strip() or reason
    s.status = "dosed"
    if overridden:
        s.dose_override_by, s.dose_override_reason = actor.id, reason
        s.dose_override_findings = overridden
    log(session, actor, "dose", s, before)
    if overridden:
        raise_alert(
            session,
            actor,
            patient_id=s.patient_id,
            session_id=s.id,
            kind="prescriber-override",
            severity="warn",
            source="; ".join(sorted({f["source"] for f in overridden})),
            message=f"{actor.username} overrode "
            + "; ".join(f"{f['rule_id']} ({f['message']})" for f in overridden)
            + f" for {dose_mg:g} mg: {reason}",
        )
    if previous is not None and dose_mg > previous * 1.001:
        raise_alert(
            session,
            actor,
            patient_id=s.patient_id,
            session_id=s.id,
            kind="dose-escalation",
            severity="warn",
            source=MISUSE_SOURCE,
            message=f"dose escalated from {previous:g} mg to {dose_mg:g} mg",
        )
    planned_total = sum(planned_dose(plan, k + 1).amount_mg for k in range(len(plan.doses)))
    given_total = float(
        session.execute(
            select(func.sum(TreatmentSession.dose_mg)).where(TreatmentSession.plan_id == plan.id)
        ).scalar_one()
        or 0.0
    )
    if given_total > planned_total * 1.001:
        raise_alert(
            session,
            actor,
            patient_id=s.patient_id,
            session_id=s.id,
            kind="cumulative-exposure",
            severity="warn",
            source=MISUSE_SOURCE,
            message=f"cumulative {given_total:g} mg exceeds the {planned_total:g} mg of "
            "the signed plan",
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
    bp_alert: tuple[float, float] = (180.0, 110.0),
) -> Observation:
    """Timed vitals (mmHg, beats/min, %) and scores (CADSS 0-92, MOAA/S 0-5)."""
    s = _session(session, session_id)
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
    )
    session.add(obs)
    log(session, actor, "create", obs, None)
    if sbp_mmhg is not None and dbp_mmhg is not None:
        _bp_alert(session, actor, s, sbp_mmhg, dbp_mmhg, f"at {minutes_after_dose:g} min", bp_alert)
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
    s = _session(session, session_id)
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


def list_sessions(session: Session, patient_id: int | None = None) -> list[TreatmentSession]:
    """Sessions, newest first."""
    stmt = select(TreatmentSession).order_by(TreatmentSession.id.desc())
    if patient_id is not None:
        stmt = stmt.where(TreatmentSession.patient_id == patient_id)
    return list(session.execute(stmt).scalars())


def update_session(
    session: Session, actor: Actor, session_id: int, values: dict[str, object]
) -> TreatmentSession:
    """Fill REMS/discharge fields of an open or dosed session (audited); a discharged or
    signed session is corrected by amendment (:func:`.lifecycle.amend_session`)."""
    s = _session(session, session_id)
    if s.status == "discharged":
        raise Conflict(
            f"session {session_id} is discharged; correct it by amendment "
            f"(POST /api/v1/sessions/{session_id}/amendments)",
            field="status",
        )
    ensure_writable(s, allowed=("open", "dosed"))
    before = audit.snapshot(s)
    assign(s, values)
    log(session, actor, "update", s, before)
    return s
