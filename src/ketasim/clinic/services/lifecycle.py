"""The end of a session's life: discharge (with the REMS answers), signature, cancellation and
amendments.

States: ``open`` -> ``dosed`` -> ``discharged`` -> ``signed``; ``open`` -> ``cancelled``.
A discharge asks the REMS form's answers, so a discharged session can always be signed; a
signed (or cancelled) session is locked: corrections are amendments that keep the original
value, carry a reason and are audited, never silent edits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, lazyload

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import SessionAmendment, TreatmentPlan, TreatmentSession
from ketasim.clinic.services.alerts import session_alert
from ketasim.clinic.services.base import Actor, Conflict, Invalid, NotFound, get_or_404, log
from ketasim.clinic.services.guardrails import (
    chair_findings,
    check_dose_times,
    enforce,
    substantive_reason,
)
from ketasim.clinic.services.rems import bp_checkpoints, missing_answers, missing_fields
from ketasim.clinic.services.timezones import CLOCK_TOLERANCE, from_clinic_clock, utc_naive

__all__ = [
    "AMENDABLE",
    "amend_session",
    "cancel_session",
    "discharge",
    "ensure_writable",
    "get_session",
    "sign_session",
]

_DISCHARGE_EXTRAS = (
    "first_treatment",
    "monitoring_provider",
    "setting",
    "vitals_acceptable_before",
    "sedation_observed",
    "dissociation_observed",
    "respiratory_depression_observed",
    "serious_adverse_event",
    "notes",
)
#: fields an amendment may correct, with their accepted values
AMENDABLE: dict[str, str] = {
    "first_treatment": "bool",
    "vitals_acceptable_before": "bool",
    "vitals_acceptable_end": "bool",
    "sedation_observed": "bool",
    "dissociation_observed": "bool",
    "respiratory_depression_observed": "bool",
    "serious_adverse_event": "bool",
    "transport_arranged": "bool",
    "fasting_confirmed": "bool",
    "monitoring_provider": "text",
    "lot_number": "text",
    "notes": "text",
    "setting": "setting",
    "ready_to_leave_min": "minutes",
    "dose_mg": "dose",
    "dose_start_at": "time",
}
#: rules not applied again when a dose is amended: the consent was checked when the dose was
#: recorded, and a later withdrawal must not keep a mistyped amount in the record
_NOT_RECHECKED = ("consent.not-current",)


def get_session(session: Session, session_id: int, *, collections: bool = True) -> TreatmentSession:
    """The session row ``session_id`` (404 naming it). ``collections=False`` loads its vitals,
    adverse events and amendments only when they are read (a write that appends one does not
    load all of them)."""
    if collections:
        return get_or_404(session, TreatmentSession, session_id, "session")
    obj = session.get(TreatmentSession, session_id, options=[lazyload("*")])
    if obj is None:
        raise NotFound(f"session {session_id} not found")
    return obj


def ensure_writable(
    s: TreatmentSession, *, allowed: tuple[str, ...] = ("open", "dosed", "discharged")
) -> None:
    """Refuse a write to a session in a state outside ``allowed`` (409 naming the way out)."""
    if s.status in allowed:
        return
    if s.status == "signed":
        raise Conflict(
            f"session {s.id} is signed and locked; correct it by amendment "
            f"(POST /api/v1/sessions/{s.id}/amendments)",
            field="status",
        )
    if s.status == "cancelled":
        raise Conflict(f"session {s.id} was cancelled and is locked", field="status")
    raise Conflict(
        f"session {s.id} is {s.status}; accepted in state {', '.join(allowed)}", field="status"
    )


def discharge(
    session: Session,
    actor: Actor,
    session_id: int,
    *,
    discharged_at: dt.datetime,
    criteria_met: bool,
    monitoring_end_at: dt.datetime | None = None,
    ready_to_leave_min: float | None = None,
    vitals_acceptable_end: bool | None = None,
    transport_arranged: bool | None = None,
    **rems: object,
) -> TreatmentSession:
    """Discharge after monitoring. For esketamine the REMS answers are required (refused with
    the list of what is missing); missing BP checkpoints raise a missed-monitoring alert (they
    can still be recorded before signing)."""
    s = get_session(session, session_id)
    if s.status != "dosed":
        raise Conflict(f"session {session_id} is {s.status}; discharge follows the dose")
    if not criteria_met:
        raise Conflict("discharge criteria are not met: continue monitoring", field="criteria_met")
    assert s.dose_start_at is not None
    discharged_at = utc_naive(discharged_at, "discharged_at")
    monitoring_end_at = (
        utc_naive(monitoring_end_at, "monitoring_end_at") if monitoring_end_at else None
    )
    now = clinic_now(session)
    for name, t in (("discharged_at", discharged_at), ("monitoring_end_at", monitoring_end_at)):
        if t is None:
            continue
        if t < s.dose_start_at:
            raise Invalid(name, "before the dose")
        if t > now + CLOCK_TOLERANCE:
            raise Invalid(name, "in the future: record the discharge when it happens")
    plan = get_or_404(session, TreatmentPlan, s.plan_id, "plan")
    before = audit.snapshot(s)
    s.discharged_at, s.discharge_criteria_met = discharged_at, criteria_met
    s.monitoring_end_at = monitoring_end_at or discharged_at
    if ready_to_leave_min is not None:
        s.ready_to_leave_min = ready_to_leave_min
    if vitals_acceptable_end is not None:
        s.vitals_acceptable_end = vitals_acceptable_end
    if transport_arranged is not None:
        s.transport_arranged = transport_arranged
    for k, v in rems.items():
        if k not in _DISCHARGE_EXTRAS:
            raise Invalid(k, "unknown field")
        if v is not None:
            setattr(s, k, v)
    if plan.drug == "esketamine":
        missing = missing_answers(s)
        if missing:
            raise Conflict(
                "cannot discharge: the REMS patient monitoring form needs " + ", ".join(missing),
                field="rems",
                extra={"missing": missing},
            )
    s.status = "discharged"
    log(session, actor, "discharge", s, before)
    gaps = [k for k, o in bp_checkpoints(s).items() if o is None]
    minutes = (s.monitoring_end_at - s.dose_start_at).total_seconds() / 60.0
    limit = plan.discharge_not_before_min
    if limit is not None and minutes < limit:
        gaps.append(f"monitoring {minutes:.0f} min < {limit:g} min")
    if gaps:
        session_alert(
            session,
            actor,
            s,
            kind="missed-monitoring",
            source="SPRAVATO US PI 5.6 and REMS (BP before, at ~40 min, before discharge;"
            " >= 2 h observation); Sanacora 2017 APA consensus",
            message="missed monitoring: " + ", ".join(gaps),
        )
    return s


def sign_session(session: Session, actor: Actor, session_id: int) -> TreatmentSession:
    """The clinician's signature; refused while a required field is missing."""
    s = get_session(session, session_id)
    if s.status != "discharged":
        ensure_writable(s, allowed=("discharged",))
    missing = missing_fields(session, s)
    if missing:
        raise Conflict("cannot sign: missing " + ", ".join(missing), extra={"missing": missing})
    before = audit.snapshot(s)
    s.status, s.signed_by, s.signed_at = "signed", actor.id, clinic_now(session)
    log(session, actor, "sign", s, before)
    return s


def cancel_session(
    session: Session, actor: Actor, session_id: int, reason: str
) -> TreatmentSession:
    """Cancel an open session (no dose given) with a reason; it no longer blocks the next."""
    s = get_session(session, session_id)
    if s.status != "open":
        raise Conflict(
            f"session {session_id} is {s.status}; only an open session (no dose "
            "given) can be cancelled",
            field="status",
        )
    text = substantive_reason("reason", reason)
    before = audit.snapshot(s)
    s.status, s.cancelled_at, s.cancelled_by, s.cancel_reason = (
        "cancelled",
        clinic_now(session),
        actor.id,
        text,
    )
    log(session, actor, "cancel", s, before)
    return s


def _amended_value(field: str, value: object, zone: str = "UTC") -> object:
    kind = AMENDABLE.get(field)
    if kind is None:
        raise Invalid(
            "field", f"{field!r} cannot be amended; accepted: " + ", ".join(sorted(AMENDABLE))
        )
    if kind == "bool":
        if not isinstance(value, bool):
            raise Invalid("value", f"{field} takes true or false")
        return value
    if kind == "minutes":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1440:
            raise Invalid("value", f"{field} takes minutes from 0 to 1440")
        return float(value)
    if kind == "dose":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1000:
            raise Invalid("value", f"{field} takes mg, accepted > 0 to 1000 mg")
        return float(value)
    if kind == "time":
        if not isinstance(value, str):
            raise Invalid("value", f"{field} takes a date and time (YYYY-MM-DDTHH:MM[+offset])")
        try:
            typed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid(
                "value", f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM[+offset])"
            ) from None
        return from_clinic_clock(typed, zone, "value")
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise Invalid("value", f"{field} takes text of 1 to 2000 characters")
    if kind == "setting" and value not in ("outpatient", "inpatient"):
        raise Invalid("value", "setting: accepted outpatient, inpatient")
    return value.strip()


def alert_override(
    session: Session,
    actor: Actor,
    s: TreatmentSession,
    overridden: list[dict[str, str]],
    reason: str | None,
    what: str,
) -> None:
    """The ``prescriber-override`` alert for the warnings ``actor`` overrode for ``what``."""
    session_alert(
        session,
        actor,
        s,
        kind="prescriber-override",
        source="; ".join(sorted({f["source"] for f in overridden})),
        message=f"{actor.username} overrode "
        + "; ".join(f"{f['rule_id']} ({f['message']})" for f in overridden)
        + f" for {what}: {reason}",
    )


def _recheck_dose(
    session: Session,
    actor: Actor,
    s: TreatmentSession,
    dose_mg: float,
    override_reason: str | None,
    zone: str,
    at: dt.datetime | None = None,
) -> None:
    """The amended ``dose_mg`` (or the dose at the amended start ``at``) through the dose
    entry's rules at the dose's start time (:func:`.guardrails.chair_findings`,
    :func:`.guardrails.enforce`): a hard stop (label maximum, ...) refuses the amendment, a
    warning the signed plan did not contain needs a prescriber's ``override_reason`` (audited
    on the session and alerted, as at entry)."""
    at = at or s.dose_start_at
    assert at is not None
    findings = [
        f
        for f in chair_findings(session, s, at=at, dose_mg=dose_mg, zone=zone)
        if f["rule_id"] not in _NOT_RECHECKED
    ]
    overridden, reason = enforce(session, actor, findings, override_reason)
    if overridden:
        s.dose_override_by, s.dose_override_reason = actor.id, reason
        s.dose_override_findings = overridden
        what = (
            f"the dose amended to {dose_mg:g} mg"
            if at == s.dose_start_at
            else f"the dose's start amended to {at.isoformat(timespec='minutes')} UTC"
        )
        alert_override(session, actor, s, overridden, reason, what)


def _stored(value: object) -> object:
    """A value as the amendment's JSON keeps it (a time: ISO 8601 UTC with ``Z``)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds") + "Z"
    return value


def amend_session(
    session: Session,
    actor: Actor,
    session_id: int,
    *,
    field: str,
    value: object,
    reason: str,
    override_reason: str | None = None,
    zone: str = "UTC",
) -> SessionAmendment:
    """Correct one field of a discharged or signed session: the original value is kept in the
    amendment, both are audited; the signature stays on the original record. An amended
    ``dose_mg`` is checked again by the dose entry's rules (:func:`_recheck_dose`): an
    amendment is no way round a hard stop or an override. An amended ``dose_start_at``
    (clock time of the clinic's zone ``zone`` unless it has an offset) must pass the dose
    entry's rules about time (:func:`.guardrails.check_dose_times`: within the session, opened
    to discharged, under a consent in force then, not in the future) and its rules at the new
    time (:func:`_recheck_dose`)."""
    s = get_session(session, session_id)
    if s.status not in ("discharged", "signed"):
        raise Conflict(
            f"session {session_id} is {s.status}; amendments correct discharged or "
            "signed sessions (edit an open session directly)",
            field="status",
        )
    new = _amended_value(field, value, zone)
    text = substantive_reason("reason", reason)
    old = getattr(s, field)
    if old == new:
        raise Invalid("value", f"{field} is {old!r} already")
    before = audit.snapshot(s)
    if field == "dose_mg":
        assert isinstance(new, float)
        _recheck_dose(session, actor, s, new, override_reason, zone)
    if field == "dose_start_at":
        assert isinstance(new, dt.datetime)
        check_dose_times(session, s, new, s.dose_end_at, clinic_now(session), zone, "value")
        assert s.dose_mg is not None
        _recheck_dose(session, actor, s, s.dose_mg, override_reason, zone, at=new)
    amendment = SessionAmendment(
        session_id=s.id,
        field=field,
        original_value=_stored(old),
        amended_value=_stored(new),
        reason=text,
        created_by=actor.id or 0,
    )
    session.add(amendment)
    log(session, actor, "create", amendment, None)
    setattr(s, field, new)
    log(session, actor, "amend", s, before)
    session.expire(s, ["amendments"])
    return amendment
