"""Chair-side guardrails: the pre-dose check and the dose entry apply the same
:mod:`ketasim.safety` rules as ``ketasim plan`` (contraindications, BP threshold, medications,
age, protocol dose limits, sessions per week, minimum interval, weekly amount), to the dose
actually given at the time it is given, counting the doses already given; plus what only the
clinic knows.

Clinic findings (added to the rules' findings):

======================  ======  ==================================================================
``consent.not-current``  stop   no consent in force at the time of dosing (signed before it, not
                                withdrawn or superseded by then)
``dose.above-label-max`` stop   above the protocol's maximum when the protocol is the label
                                (``evidence`` starts with "label"): never overridden
``plan.dose-above-signed`` warn above the signed plan's dose for this session
``schedule.same-day``    warn   another dose of the patient on the same day (clinic time zone)
                                while the signed plan never schedules two sessions on one day
======================  ======  ==================================================================

Decisions: a ``stop`` refuses the dose. A ``warn`` the prescriber accepted when signing the plan
(the same rule with the same finding, the session numbers aside) is shown as ``acknowledged``;
any other ``warn`` is ``required``: the dose is refused until a prescriber overrides it with a
reason of substance (:func:`substantive_reason`); the override is stored on the session,
audited and raised as an alert.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.db.models import (
    Consent,
    Patient,
    Screening,
    TreatmentPlan,
    TreatmentSession,
    User,
)
from ketasim.clinic.services.base import Actor, Conflict, Invalid, ServiceError, get_or_404
from ketasim.clinic.services.clinical import (
    finding_dicts,
    library_protocol,
    patient_record,
    prior_sessions,
)
from ketasim.clinic.services.consent import consent_in_force
from ketasim.clinic.services.timezones import CLOCK_TOLERANCE, clinic_zone, local
from ketasim.regimens.protocols import PlannedDose
from ketasim.safety import check, default_rules

__all__ = [
    "CONSENT_SOURCE",
    "MIN_REASON_CHARS",
    "MIN_REASON_WORDS",
    "OVERRIDE_ROLE",
    "Forbidden",
    "chair_findings",
    "check_dose_times",
    "enforce",
    "planned_dose",
    "substantive_reason",
]

OVERRIDE_ROLE = "prescriber"
#: a reason of substance: at least this many characters and distinct words (ketasim's own
#: minimum, not a clinical number: "x" or "ok" is not a reason)
MIN_REASON_CHARS = 20
MIN_REASON_WORDS = 3
SIGNED_PLAN_SOURCE = "the signed treatment plan (the prescriber's order for this course)"
CONSENT_SOURCE = (
    "ketasim clinic policy: treatment only under a current, signed and not "
    "withdrawn consent (patient counselled before treatment: SPRAVATO REMS, "
    "clinical-rules.md 4a)"
)
_SESSIONS_PREFIX = re.compile(r"^Session\(s\) [0-9, \-]+: ")
_ORDER = {"stop": 0, "warn": 1, "info": 2}


class Forbidden(ServiceError):  # noqa: N818
    """The actor's role may not do this."""

    status = 403


def substantive_reason(field: str, text: str | None) -> str:
    """``text`` with whitespace collapsed, or :class:`Invalid` when it is shorter than
    :data:`MIN_REASON_CHARS` characters or has fewer than :data:`MIN_REASON_WORDS` distinct
    words (of two or more letters)."""
    t = " ".join((text or "").split())
    words = {w.lower() for w in re.findall(r"[^\W\d_]{2,}", t)}
    if len(t) < MIN_REASON_CHARS or len(words) < MIN_REASON_WORDS:
        raise Invalid(
            field,
            f"give a reason of substance: at least {MIN_REASON_CHARS} "
            f"characters and {MIN_REASON_WORDS} different words (got {len(t)} "
            f"characters, {len(words)} words)",
        )
    return t


def _f(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"stored plan dose is not a number: {value!r}")


def planned_dose(plan: TreatmentPlan, number: int, dose_mg: float | None = None) -> PlannedDose:
    """Session ``number`` of the signed plan (the last one beyond its end), or the dose
    ``dose_mg`` given instead (amount rescaled in the protocol's unit)."""
    d = plan.doses[min(number, len(plan.doses)) - 1]
    pd_ = PlannedDose(
        session=number,
        phase=str(d["phase"]),
        day=0.0,
        time_min=0.0,
        amount=_f(d["amount"]),
        unit=str(d["unit"]),
        route=str(d["route"]),
        duration_min=_f(d["duration_min"]),
        amount_mg=_f(d["amount_mg"]),
    )
    if dose_mg is not None:
        factor = dose_mg / pd_.amount_mg if pd_.amount_mg else 1.0
        pd_ = dataclasses.replace(pd_, amount=pd_.amount * factor, amount_mg=dose_mg)
    return pd_


def _key(f: dict[str, str]) -> tuple[str, str]:
    return f["rule_id"], _SESSIONS_PREFIX.sub("", f["message"])


def _plan_has_same_day_sessions(plan: TreatmentPlan) -> bool:
    days = [int(_f(d["time_min"]) // 1440.0) for d in plan.doses]
    return len(days) != len(set(days))


def _finding(rule_id: str, severity: str, message: str, source: str) -> dict[str, str]:
    return {"rule_id": rule_id, "severity": severity, "message": message, "source": source}


def chair_findings(
    session: Session,
    s: TreatmentSession,
    *,
    at: dt.datetime,
    dose_mg: float | None = None,
    zone: str = "UTC",
) -> list[dict[str, str]]:
    """Every finding for dosing session ``s`` at ``at`` (naive UTC) with ``dose_mg`` (default:
    the signed plan's dose), the vitals, medicines and new conditions of its pre-dose check and
    the doses already given. Each finding carries ``override``: ``"required"`` (a warning the
    signed plan did not contain), ``"acknowledged"`` (accepted when the plan was signed) or
    ``""`` (stop and info)."""
    plan = get_or_404(session, TreatmentPlan, s.plan_id, "plan")
    patient = get_or_404(session, Patient, s.patient_id, "patient")
    screening = get_or_404(session, Screening, plan.screening_id, "screening")
    rules = default_rules()
    record = patient_record(
        patient,
        rules,
        screening=screening,
        vitals={
            "sbp_mmhg": s.predose_sbp_mmhg,
            "dbp_mmhg": s.predose_dbp_mmhg,
            "heart_rate_bpm": s.predose_heart_rate_bpm,
        },
        medications=s.concomitant_medications,
        previous=prior_sessions(session, s.patient_id, now=at, exclude_session_id=s.id),
        conditions=sorted(set(screening.conditions) | set(s.predose_new_conditions or ())),
        on=at.date(),
    )
    protocol = library_protocol(plan.protocol_id)
    planned = planned_dose(plan, s.number)
    given = planned_dose(plan, s.number, dose_mg)
    findings = finding_dicts(check(protocol, record, [given], rules=rules))
    dose_rule = protocol.dose_rule_for_age(record.age_years)
    if (
        (protocol.evidence or "").lower().startswith("label")
        and dose_rule.max is not None
        and given.amount > dose_rule.max * (1 + 1e-9)
    ):
        findings.append(
            _finding(
                "dose.above-label-max",
                "stop",
                f"Dose {given.amount:g} {dose_rule.unit} is above the label's maximum of "
                f"{dose_rule.max:g} {dose_rule.unit} ({protocol.id}); not overridable.",
                dose_rule.source,
            )
        )
    if given.amount_mg > planned.amount_mg * (1 + 1e-3):
        findings.append(
            _finding(
                "plan.dose-above-signed",
                "warn",
                f"Dose {given.amount_mg:g} mg is above the {planned.amount_mg:g} mg of session "
                f"{s.number} in the signed plan {plan.id}.",
                SIGNED_PLAN_SOURCE,
            )
        )
    if consent_in_force(session, s.patient_id, at)[0] is None:
        findings.append(
            _finding(
                "consent.not-current",
                "stop",
                "No consent in force at the time of dosing (withdrawn, superseded, signed later "
                "or never signed): no dose until the patient signs the current consent document.",
                CONSENT_SOURCE,
            )
        )
    if not _plan_has_same_day_sessions(plan):
        day = local(at, zone)
        assert day is not None
        others = session.execute(
            select(TreatmentSession.dose_start_at).where(
                TreatmentSession.patient_id == s.patient_id,
                TreatmentSession.id != s.id,
                TreatmentSession.dose_start_at.is_not(None),
            )
        ).scalars()
        same = [o for o in others if (lo := local(o, zone)) is not None and lo.date() == day.date()]
        if same:
            findings.append(
                _finding(
                    "schedule.same-day",
                    "warn",
                    f"Another dose was given to this patient on {day.date().isoformat()} "
                    f"({zone}); the signed plan schedules one session per day "
                    f"({protocol.frequency.source if protocol.frequency else protocol.id}).",
                    SIGNED_PLAN_SOURCE,
                )
            )
    accepted = {_key(f) for f in plan.findings if f["severity"] == "warn"}
    for f in findings:
        f["override"] = (
            "" if f["severity"] != "warn" else "acknowledged" if _key(f) in accepted else "required"
        )
    return sorted(findings, key=lambda f: _ORDER[f["severity"]])


def _listed(findings: Sequence[dict[str, str]]) -> str:
    return "; ".join(f"{f['rule_id']}: {f['message'].rstrip('.')}" for f in findings)


def enforce(
    session: Session, actor: Actor, findings: Sequence[dict[str, str]], override_reason: str | None
) -> tuple[list[dict[str, str]], str | None]:
    """Refuse a dose with a stop, or with a ``required`` warning unless a prescriber overrides
    it with a reason of substance. Returns ``(overridden findings, reason)``."""
    stops = [f["rule_id"] for f in findings if f["severity"] == "stop"]
    if stops:
        raise Conflict(
            "dose refused: hard stop "
            + _listed([f for f in findings if f["severity"] == "stop"])
            + " (a hard stop is never overridden)",
            field="dose_mg",
            extra={"stops": stops},
        )
    required = [f for f in findings if f.get("override") == "required"]
    if not required:
        return [], None
    ids = [f["rule_id"] for f in required]
    if not (override_reason or "").strip():
        raise Conflict(
            "dose refused: " + _listed(required) + " (a prescriber may override these "
            "warnings with a reason)",
            field="override_reason",
            extra={"needs_override": ids},
        )
    user = session.get(User, actor.id) if actor.id is not None else None
    if user is None or user.role != OVERRIDE_ROLE:
        raise Forbidden(
            f"only a {OVERRIDE_ROLE} may override {', '.join(ids)}",
            field="override_reason",
            extra={"needs_override": ids},
        )
    reason = substantive_reason("override_reason", override_reason)
    return [{**f, "override": "given"} for f in required], reason


def _window_text(
    lo: dt.datetime, hi: dt.datetime | None, shown: Callable[[dt.datetime], str]
) -> str:
    return f"{shown(lo)} to {shown(hi) if hi is not None else 'now'}"


def check_dose_times(
    session: Session,
    s: TreatmentSession,
    start_at: dt.datetime,
    end_at: dt.datetime | None,
    now: dt.datetime,
    zone: str = "UTC",
    start_field: str = "start_at",
) -> Consent:
    """Refuse dose times (naive UTC) in the future of ``now`` (beyond :data:`CLOCK_TOLERANCE`),
    an end before the start, a start at which no consent of the patient was in force
    (:func:`.consent.consent_in_force`: a 409 hard stop ``consent.not-current``) and a start
    outside the session: before the end of the patient's previous session, before this one
    was opened (to the minute: forms take minutes), after it was discharged or cancelled
    (422). Each refusal names the field (``start_field``: the start's name in the caller's
    request, e.g. an amendment's ``value``; ``end_at``) and the window allowed, in the
    clinic's time zone ``zone``. Returns the consent in force at the start: it may have been
    withdrawn since, as consent at the moment of dosing is what counts."""
    clinic_zone(zone)

    def shown(t: dt.datetime) -> str:
        lt = local(t, zone)
        assert lt is not None
        return lt.isoformat(timespec="minutes")

    for name, t in ((start_field, start_at), ("end_at", end_at)):
        if t is not None and t > now + CLOCK_TOLERANCE:
            raise Invalid(
                name,
                f"{shown(t)} is in the future (now {shown(now)}, {zone}); record a dose once it "
                "is given",
            )
    if end_at is not None and end_at < start_at:
        raise Invalid("end_at", f"{shown(end_at)} is before the start {shown(start_at)}")
    consent, windows = consent_in_force(session, s.patient_id, start_at)
    if consent is None:
        listed = "; ".join(
            f"consent {c.id} in force {_window_text(lo, hi, shown)}" for c, lo, hi in windows
        )
        raise Conflict(
            f"dose refused: hard stop consent.not-current: {start_field} {shown(start_at)}: no "
            f"consent of the patient was in force at that time ({listed or 'none signed'}; "
            f"{zone}); no dose without consent at the moment of dosing",
            field=start_field,
            extra={"stops": ["consent.not-current"]},
        )
    before = [
        t
        for row in session.execute(
            select(TreatmentSession.dose_start_at, TreatmentSession.discharged_at).where(
                TreatmentSession.patient_id == s.patient_id,
                TreatmentSession.id < s.id,
                TreatmentSession.status != "cancelled",
            )
        ).all()
        for t in row
        if t is not None
    ]
    if before and start_at < max(before):
        raise Invalid(
            start_field,
            f"{shown(start_at)} is outside this session: before the end "
            f"of the previous session ({shown(max(before))})",
        )
    # the session's window: opened (to the minute) to closed, or now
    opened = s.created_at.replace(second=0, microsecond=0)
    closed = s.discharged_at or s.cancelled_at
    window = _window_text(opened, closed, shown)
    if start_at < opened:
        raise Invalid(
            start_field,
            f"{shown(start_at)} is before session {s.number} was opened "
            f"({shown(s.created_at)}); accepted {window} ({zone})",
        )
    if closed is not None and start_at > closed:
        raise Invalid(
            start_field,
            f"{shown(start_at)} is after session {s.number} was closed ({shown(closed)}); "
            f"accepted {window} ({zone})",
        )
    return consent
