"""The day board: today's appointments and sessions by chair with their phase, plans awaiting
signature, ratings due or overdue, open alerts and REMS forms due or overdue.

Phases of a session: scheduled (appointment, not checked in) -> checked in -> pre-dose (check
passed, dose not yet given; ``blocked`` when it found a hard stop) -> dosed (within the planned
dose duration) -> monitoring (after the dose, with the minutes to the 40-min blood pressure and
to the earliest discharge) -> ready (earliest discharge reached) -> discharged (and signed).

Monitoring times: BP before dosing, at about 40 min and before discharge, and at least 2 h of
observation for esketamine (SPRAVATO US PI 2.5/5.6 and REMS; clinical-rules.md 4a); the earliest
discharge is the signed plan's ``discharge_not_before_min``. The REMS form is due within 7 days
of the session (the clinic's existing ``rems_form.due_by``). Ratings are due every
``RATING_INTERVAL_DAYS`` during a signed course, as the weekly ratings of the esketamine trials
(e.g. Popova V et al. Am J Psychiatry 2019;176:428-38): a clinic policy, configurable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload, load_only

from ketasim.clinic.db.models import (
    Alert,
    Appointment,
    Observation,
    Patient,
    Rating,
    TreatmentPlan,
    TreatmentSession,
    User,
)
from ketasim.clinic.services import timezones as tz

__all__ = [
    "RATING_INTERVAL_DAYS",
    "BoardRow",
    "DayBoard",
    "day_board",
    "session_phase",
]

RATING_INTERVAL_DAYS = 7
BP_CHECK_MIN = 40.0
REMS_DUE_DAYS = 7


@dataclass(frozen=True)
class BoardRow:
    """One patient's place on the board today."""

    chair: str
    starts_at: dt.datetime | None
    patient_id: int
    patient: str
    mrn: str
    phase: str
    session_id: int | None
    appointment_id: int | None
    session_number: int | None
    planned_dose_mg: float | None
    minutes_since_dose: float | None
    to_bp_40_min: float | None
    to_discharge_min: float | None


@dataclass(frozen=True)
class DayBoard:
    """Everything the board shows for one day (UTC)."""

    day: dt.date
    now: dt.datetime
    chairs: dict[str, list[BoardRow]]
    plans_awaiting_signature: list[dict[str, object]] = field(default_factory=list)
    ratings_due: list[dict[str, object]] = field(default_factory=list)
    open_alerts: list[dict[str, object]] = field(default_factory=list)
    rems_forms: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "day": self.day.isoformat(),
            "now": self.now.isoformat(),
            "chairs": {k: [r.__dict__ for r in v] for k, v in self.chairs.items()},
            "plans_awaiting_signature": self.plans_awaiting_signature,
            "ratings_due": self.ratings_due,
            "open_alerts": self.open_alerts,
            "rems_forms": self.rems_forms,
        }


def _planned_mg(plan: TreatmentPlan | None, number: int) -> float | None:
    if plan is None or not plan.doses:
        return None
    v = plan.doses[min(number, len(plan.doses)) - 1].get("amount_mg")
    return float(v) if isinstance(v, int | float) else None


def session_phase(
    s: TreatmentSession, plan: TreatmentPlan | None, now: dt.datetime, has_40_min_bp: bool
) -> tuple[str, float | None, float | None, float | None]:
    """(phase, minutes since the dose, minutes to the 40-min BP, minutes to earliest
    discharge); negative minutes are overdue / passed."""
    if s.status == "cancelled":
        return "cancelled", None, None, None
    if s.status in ("discharged", "signed"):
        return ("signed" if s.status == "signed" else "discharged"), None, None, None
    if s.status == "open":
        if s.predose_blocked:
            return "blocked", None, None, None
        return ("pre-dose" if s.predose_blocked is False else "checked in"), None, None, None
    assert s.dose_start_at is not None
    since = (now - s.dose_start_at).total_seconds() / 60.0
    duration = plan.duration_min if plan is not None else 0.0
    to_bp = None if has_40_min_bp else BP_CHECK_MIN - since
    limit = plan.discharge_not_before_min if plan is not None else None
    to_discharge = None if limit is None else limit - since
    if since < duration:
        return "dosed", since, to_bp, to_discharge
    if to_discharge is not None and to_discharge <= 0 and has_40_min_bp:
        return "ready", since, to_bp, to_discharge
    return "monitoring", since, to_bp, to_discharge


# only the columns the board reads (the JSON columns of plans and sessions are costly to decode)
_SESSION_COLS = (
    TreatmentSession.id,
    TreatmentSession.patient_id,
    TreatmentSession.plan_id,
    TreatmentSession.number,
    TreatmentSession.status,
    TreatmentSession.created_at,
    TreatmentSession.checked_in_at,
    TreatmentSession.chair,
    TreatmentSession.predose_blocked,
    TreatmentSession.dose_start_at,
)
_PATIENT_COLS = (Patient.id, Patient.mrn, Patient.given_name, Patient.family_name)
_PLAN_COLS = (
    TreatmentPlan.id,
    TreatmentPlan.duration_min,
    TreatmentPlan.discharge_not_before_min,
    TreatmentPlan.doses,
)


#: the day a session belongs to: its dose, else its check-in, else its opening
_session_day = func.coalesce(
    TreatmentSession.dose_start_at, TreatmentSession.checked_in_at, TreatmentSession.created_at
)


def _name(p: Any) -> str:
    return f"{p.family_name}, {p.given_name}"


def day_board(session: Session, day: dt.date, now: dt.datetime, zone: str = "UTC") -> DayBoard:
    """The board of the clinic's calendar ``day`` in its time zone ``zone`` (midnight to
    midnight there, DST included) at ``now`` (naive UTC)."""
    start = tz.from_clinic_clock(dt.datetime.combine(day, dt.time()), zone, "day")
    end = tz.from_clinic_clock(
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time()), zone, "day"
    )
    assert start is not None and end is not None
    appts = list(
        session.execute(
            select(Appointment).where(Appointment.starts_at >= start, Appointment.starts_at < end)
        ).scalars()
    )
    sessions = {
        s.id: s
        for s in session.execute(
            select(TreatmentSession)
            .options(load_only(*_SESSION_COLS), lazyload("*"))
            .where(
                _session_day.between(start, end - dt.timedelta(microseconds=1))
                | TreatmentSession.id.in_([a.session_id for a in appts if a.session_id])
            )
        ).scalars()
    }
    patient_ids = {a.patient_id for a in appts} | {s.patient_id for s in sessions.values()}
    patients = (
        {
            p.id: p
            for p in session.execute(
                select(Patient)
                .options(load_only(*_PATIENT_COLS))
                .where(Patient.id.in_(patient_ids))
            ).scalars()
        }
        if patient_ids
        else {}
    )
    plan_ids = {a.plan_id for a in appts} | {s.plan_id for s in sessions.values()}
    plans = (
        {
            p.id: p
            for p in session.execute(
                select(TreatmentPlan)
                .options(load_only(*_PLAN_COLS))
                .where(TreatmentPlan.id.in_(plan_ids))
            ).scalars()
        }
        if plan_ids
        else {}
    )
    forty = (
        set(
            session.execute(
                select(Observation.session_id).where(
                    Observation.session_id.in_(list(sessions)),
                    Observation.sbp_mmhg.is_not(None),
                    (Observation.checkpoint == "40-min")
                    | Observation.minutes_after_dose.between(30, 60),
                )
            ).scalars()
        )
        if sessions
        else set()
    )
    rows: list[BoardRow] = []
    seen: set[int] = set()
    for a in appts:
        s = sessions.get(a.session_id) if a.session_id else None
        rows.append(
            _row(
                a.chair,
                a.starts_at,
                patients[a.patient_id],
                s,
                plans.get(a.plan_id),
                now,
                a.id,
                a.session_number,
                forty,
            )
        )
        if s is not None:
            seen.add(s.id)
    for s in sessions.values():
        if s.id not in seen:
            rows.append(
                _row(
                    s.chair or "",
                    s.checked_in_at or s.created_at,
                    patients[s.patient_id],
                    s,
                    plans.get(s.plan_id),
                    now,
                    None,
                    s.number,
                    forty,
                )
            )
    chairs: dict[str, list[BoardRow]] = {}
    for r in sorted(rows, key=lambda r: (r.chair or "~", r.starts_at or now)):
        chairs.setdefault(r.chair or "unassigned", []).append(r)
    return DayBoard(
        day,
        now,
        chairs,
        _plans_awaiting(session),
        _ratings_due(session, day),
        _open_alerts(session),
        _rems(session, day),
    )


def _row(
    chair: str,
    starts_at: dt.datetime | None,
    p: Patient,
    s: TreatmentSession | None,
    plan: TreatmentPlan | None,
    now: dt.datetime,
    appointment_id: int | None,
    number: int,
    forty: set[int],
) -> BoardRow:
    if s is None:
        phase, since, to_bp, to_dis = "scheduled", None, None, None
    else:
        phase, since, to_bp, to_dis = session_phase(s, plan, now, s.id in forty)
    return BoardRow(
        chair,
        starts_at,
        p.id,
        _name(p),
        p.mrn,
        phase,
        None if s is None else s.id,
        appointment_id,
        number,
        _planned_mg(plan, number),
        since,
        to_bp,
        to_dis,
    )


def _plans_awaiting(session: Session) -> list[dict[str, object]]:
    rows = session.execute(
        select(
            TreatmentPlan.id,
            TreatmentPlan.protocol_id,
            TreatmentPlan.created_at,
            TreatmentPlan.has_stop,
            *_PATIENT_COLS,
        )
        .join(Patient, Patient.id == TreatmentPlan.patient_id)
        .where(TreatmentPlan.status == "draft")
        .order_by(TreatmentPlan.created_at)
    ).all()
    return [
        {
            "plan_id": r[0],
            "patient_id": r[4],
            "patient": f"{r.family_name}, {r.given_name}",
            "protocol_id": r.protocol_id,
            "created_at": r.created_at.isoformat(),
            "has_stop": r.has_stop,
        }
        for r in rows
    ]


def _ratings_due(session: Session, day: dt.date) -> list[dict[str, object]]:
    """Patients on a signed course whose last PHQ-9 or MADRS (or, without one, the plan's
    signature) is at least the interval old."""
    last = (
        select(Rating.patient_id, func.max(Rating.taken_on).label("last_on"))
        .where(Rating.scale.in_(("PHQ-9", "MADRS")))
        .group_by(Rating.patient_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Patient.id,
            Patient.family_name,
            Patient.given_name,
            func.min(TreatmentPlan.signed_at).label("signed_at"),
            last.c.last_on,
        )
        .join(TreatmentPlan, TreatmentPlan.patient_id == Patient.id)
        .outerjoin(last, last.c.patient_id == Patient.id)
        .where(TreatmentPlan.status == "signed")
        .group_by(Patient.id, Patient.family_name, Patient.given_name, last.c.last_on)
    ).all()
    out = []
    for r in rows:
        signed = r.signed_at.date() if r.signed_at else day
        since = r.last_on or signed
        due = since + dt.timedelta(days=RATING_INTERVAL_DAYS)
        if due <= day:
            out.append(
                {
                    "patient_id": r.id,
                    "patient": _name(r),
                    "last_rating_on": None if r.last_on is None else r.last_on.isoformat(),
                    "due_on": due.isoformat(),
                    "status": "overdue" if due < day else "due",
                }
            )
    return sorted(out, key=lambda r: (str(r["due_on"]), str(r["patient"])))


def _open_alerts(session: Session, limit: int = 50) -> list[dict[str, object]]:
    rows = session.execute(
        select(
            Alert.id,
            Alert.kind,
            Alert.severity,
            Alert.message,
            Alert.created_at,
            Alert.patient_id,
            Patient.family_name,
            Patient.given_name,
        )
        .join(Patient, Patient.id == Alert.patient_id)
        .where(Alert.acknowledged_at.is_(None))
        .order_by(Alert.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "alert_id": a.id,
            "patient_id": a.patient_id,
            "patient": _name(a),
            "kind": a.kind,
            "severity": a.severity,
            "message": a.message,
            "created_at": a.created_at.isoformat(),
        }
        for a in rows
    ]


def _rems(session: Session, day: dt.date) -> list[dict[str, object]]:
    """Esketamine sessions dosed whose REMS form is not submitted, and those submitted in the
    last week (due by, submitted on, by whom)."""
    week_ago = dt.datetime.combine(day - dt.timedelta(days=REMS_DUE_DAYS), dt.time())
    rows = session.execute(
        select(
            TreatmentSession.id,
            TreatmentSession.dose_start_at,
            TreatmentSession.rems_submitted_at,
            TreatmentSession.patient_id,
            Patient.family_name,
            Patient.given_name,
            User.full_name,
        )
        .join(TreatmentPlan, TreatmentPlan.id == TreatmentSession.plan_id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .outerjoin(User, User.id == TreatmentSession.rems_submitted_by)
        .where(
            TreatmentPlan.drug == "esketamine",
            TreatmentSession.dose_start_at.is_not(None),
            TreatmentSession.rems_submitted_at.is_(None)
            | (TreatmentSession.rems_submitted_at >= week_ago),
        )
        .order_by(TreatmentSession.dose_start_at)
    ).all()
    out = []
    for s in rows:
        assert s.dose_start_at is not None
        due = s.dose_start_at.date() + dt.timedelta(days=REMS_DUE_DAYS)
        status = (
            "submitted" if s.rems_submitted_at is not None else "overdue" if due < day else "due"
        )
        out.append(
            {
                "session_id": s.id,
                "patient_id": s.patient_id,
                "patient": _name(s),
                "treatment_date": s.dose_start_at.date().isoformat(),
                "due_by": due.isoformat(),
                "status": status,
                "submitted_on": None
                if s.rems_submitted_at is None
                else s.rems_submitted_at.isoformat(timespec="minutes"),
                "submitted_by": s.full_name,
            }
        )
    return out
