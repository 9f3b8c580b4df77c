"""Appointments scheduled from a signed plan, and check-in (an appointment becomes a session).

Times are naive UTC like every time in the clinic's tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Appointment, TreatmentPlan, TreatmentSession
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services.base import Actor, Conflict, Invalid, get_or_404, log

__all__ = ["check_in", "list_appointments", "schedule_plan"]


def _number(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"stored plan value is not a number: {value!r}")


def schedule_plan(
    session: Session,
    actor: Actor,
    plan_id: int,
    *,
    first_day: dt.date,
    time_utc: dt.time,
    chair: str = "",
) -> list[Appointment]:
    """Appointments for the signed plan's sessions not yet scheduled nor held: the first of
    them on ``first_day`` at ``time_utc``, the others at the plan's day offsets from it."""
    plan = get_or_404(session, TreatmentPlan, plan_id, "plan")
    if plan.status != "signed":
        raise Conflict(f"plan {plan_id} is not signed by a prescriber", field="plan_id")
    if len(chair) > 32:
        raise Invalid("chair", "at most 32 characters")
    taken = set(
        session.execute(
            select(Appointment.session_number).where(Appointment.plan_id == plan_id)
        ).scalars()
    ) | set(
        session.execute(
            select(TreatmentSession.number).where(
                TreatmentSession.plan_id == plan_id, TreatmentSession.status != "cancelled"
            )
        ).scalars()
    )
    todo = [(i, d) for i, d in enumerate(plan.doses, start=1) if i not in taken]
    if not todo:
        return []
    day0 = _number(todo[0][1].get("day", 0.0))
    out = []
    for i, d in todo:
        day = first_day + dt.timedelta(days=_number(d.get("day", 0.0)) - day0)
        a = Appointment(
            patient_id=plan.patient_id,
            plan_id=plan.id,
            session_number=i,
            starts_at=dt.datetime.combine(day, time_utc),
            chair=chair,
            created_by=actor.id or 0,
        )
        session.add(a)
        log(session, actor, "create", a, None)
        out.append(a)
    return out


def list_appointments(
    session: Session, *, day: dt.date | None = None, patient_id: int | None = None
) -> list[Appointment]:
    """Appointments of a day (UTC) and/or a patient, by time."""
    stmt = select(Appointment).order_by(Appointment.starts_at, Appointment.id)
    if day is not None:
        start = dt.datetime.combine(day, dt.time())
        stmt = stmt.where(
            Appointment.starts_at >= start, Appointment.starts_at < start + dt.timedelta(days=1)
        )
    if patient_id is not None:
        stmt = stmt.where(Appointment.patient_id == patient_id)
    return list(session.execute(stmt).scalars())


def check_in(
    session: Session, actor: Actor, appointment_id: int, *, chair: str | None = None
) -> TreatmentSession:
    """Check the patient in: opens the plan's next session (consent and plan checks of
    :func:`sessions.open_session`) and records the chair and time."""
    a = get_or_404(session, Appointment, appointment_id, "appointment")
    if a.session_id is not None:
        raise Conflict(
            f"appointment {appointment_id} is checked in already (session {a.session_id})"
        )
    s = se.open_session(session, actor, a.plan_id)
    before = audit.snapshot(s)
    s.chair = (chair if chair is not None else a.chair) or None
    s.checked_in_at = clinic_now(session)
    log(session, actor, "check-in", s, before)
    before_a = audit.snapshot(a)
    a.session_id = s.id
    log(session, actor, "check-in", a, before_a)
    return s
