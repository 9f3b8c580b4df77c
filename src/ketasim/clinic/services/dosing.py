"""Dosing at the chair side: the pre-dose check and the dose given, by the rules of
:mod:`.guardrails` (the same :mod:`ketasim.safety` rules as ``ketasim plan``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Consent, TreatmentPlan, TreatmentSession
from ketasim.clinic.services.alerts import session_alert
from ketasim.clinic.services.base import Actor, Conflict, Invalid, get_or_404, log
from ketasim.clinic.services.consent import consent_window
from ketasim.clinic.services.guardrails import (
    CONSENT_SOURCE,
    chair_findings,
    check_dose_times,
    enforce,
    planned_dose,
)
from ketasim.clinic.services.lifecycle import alert_override, ensure_writable, get_session
from ketasim.clinic.services.timezones import utc_naive

__all__ = ["BP_ALERT_SOURCE", "give_dose", "predose_check", "raise_bp_alert"]

BP_ALERT_SOURCE = (
    "Williams B et al. 2018 ESC/ESH hypertension guidelines (grade 3: >= 180/110 "
    "mmHg); aligning ketamine BP protocols with hypertension guidelines proposed by "
    "Yip et al. 2022 (PMC9556663); threshold configurable"
)


def _plan(session: Session, s: TreatmentSession) -> TreatmentPlan:
    return get_or_404(session, TreatmentPlan, s.plan_id, "plan")


_ALERT_OF_RULE = {
    "frequency.": "frequency-escalation",
    "cumulative.weekly": "cumulative-exposure",
    "dose.above": "dose-escalation",
}


def raise_bp_alert(
    session: Session,
    actor: Actor,
    s: TreatmentSession,
    sbp: float,
    dbp: float,
    when: str,
    bp_alert: tuple[float, float],
) -> None:
    if sbp >= bp_alert[0] or dbp >= bp_alert[1]:
        session_alert(
            session,
            actor,
            s,
            kind="bp-above-threshold",
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
    s = get_session(session, session_id)
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
    findings = chair_findings(session, s, at=clinic_now(session), zone=zone)
    s.predose_findings = findings
    s.predose_blocked = any(f["severity"] == "stop" for f in findings)
    log(session, actor, "predose-check", s, before)
    for f in findings:
        kind = next(
            (k for prefix, k in _ALERT_OF_RULE.items() if f["rule_id"].startswith(prefix)), None
        )
        if kind and f["severity"] in ("stop", "warn"):
            session_alert(
                session,
                actor,
                s,
                kind=kind,
                severity=f["severity"],
                message=f["message"],
                source=f["source"],
            )
    raise_bp_alert(session, actor, s, sbp_mmhg, dbp_mmhg, "before dosing", bp_alert)
    return s


def _alert_consent_ended_since(
    session: Session, actor: Actor, s: TreatmentSession, consent: Consent, now: dt.datetime
) -> None:
    """Alert when the consent in force at the dose's start has ended before it was recorded."""
    end = consent_window(session, consent)[1]
    if end is not None and end <= now:
        assert s.dose_start_at is not None
        how = "withdrawn" if consent.withdrawn_at == end else "superseded by a newer document"
        session_alert(
            session,
            actor,
            s,
            kind="consent-ended-since-dose",
            source=CONSENT_SOURCE,
            message=f"dose started {s.dose_start_at.isoformat(timespec='minutes')} UTC under "
            f"consent {consent.id}, which was {how} at {end.isoformat(timespec='minutes')} UTC "
            "before the dose was recorded (recorded: consent at the moment of dosing counts); "
            "no further dose without a new consent",
        )


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
    dose at its start time: label maximum, ...), with a start outside the session or at a time
    no consent was in force, in the future or before the previous session
    (:func:`.guardrails.check_dose_times`), and with a warning the signed plan did not contain
    unless a prescriber gives ``override_reason`` (a reason of substance; audited and alerted).

    A dose documented after the fact whose consent was withdrawn (or superseded) after the
    dose's start is recorded, since consent at the moment of dosing is what counts and a dose
    given must be on the record, and it raises a ``consent-ended-since-dose`` alert."""
    s = get_session(session, session_id)
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
    now = clinic_now(session)
    consent = check_dose_times(session, s, start_at, end_at, now, zone)
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
        alert_override(session, actor, s, overridden, reason, f"{dose_mg:g} mg")
    _alert_consent_ended_since(session, actor, s, consent, now)
    if previous is not None and dose_mg > previous * 1.001:
        session_alert(
            session,
            actor,
            s,
            kind="dose-escalation",
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
        session_alert(
            session,
            actor,
            s,
            kind="cumulative-exposure",
            message=f"cumulative {given_total:g} mg exceeds the {planned_total:g} mg of "
            "the signed plan",
        )
    return s
