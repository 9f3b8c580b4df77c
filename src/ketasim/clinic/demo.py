"""A realistic demo clinic for newcomers: staff of every role, a consent document, patients
of varied demographics screened and planned on library protocols, sessions with vitals and
REMS answers, and MADRS courses. Names are invented; numbers are plausible, not data.

The history is written on a clinic clock moved through it (consent signed before the first
session, each session opened before its dose, discharged and signed after it), so every record
passes the same rules about time as one typed at the chair."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy.orm import Session

from ketasim.clinic.clock import INFO_CLOCK, ManualClock, clock_of
from ketasim.clinic.services import consent, patients, plans, ratings, screening, sessions, users
from ketasim.clinic.services.appointments import schedule_plan
from ketasim.clinic.services.base import Actor

__all__ = ["DEMO_PASSWORD", "load_demo"]

DEMO_PASSWORD = "demo-password"
_STAFF = (
    ("admin", "Alex Admin", "admin"),
    ("prescriber", "Dr Priya Prescriber", "prescriber"),
    ("nurse", "Noah Nurse", "nurse"),
    ("auditor", "Ana Auditor", "auditor"),
)
_PATIENTS = (
    ("Maria", "Garcia", "1978-03-14", "female", 64.0, 162, "Hispanic", "Spanish"),
    ("James", "Okafor", "1969-11-02", "male", 88.0, 181, "Black", "English"),
    ("Mei", "Chen", "1990-07-21", "female", 55.0, 158, "Asian", "Mandarin"),
    ("Robert", "Smith", "1955-01-30", "male", 92.0, 178, "White", "English"),
    ("Aisha", "Khan", "1985-09-09", "female", 70.0, 165, "Asian", "Urdu"),
    ("Tom", "Nguyen", "1998-12-12", "male", 72.0, 175, "Asian", "Vietnamese"),
    ("Grace", "Miller", "1972-05-18", "female", 80.0, 170, "White", "English"),
    ("Daniel", "Brown", "1981-02-25", "male", 95.0, 185, "Black", "English"),
)


#: when (before today) the demo clinic opened with its staff and consent text, and when its
#: patients were registered, consented and planned (before their first sessions)
_CLINIC_OPENED_BEFORE = dt.timedelta(days=90)
_REGISTERED_BEFORE = dt.timedelta(days=40)


def load_demo(session: Session, *, if_empty: bool = True, seed: int = 7) -> bool:
    """Fill the database; False (nothing done) when ``if_empty`` and users exist."""
    if if_empty and users.count_users(session) > 0:
        return False
    real = clock_of(session)
    history = ManualClock(real.now())
    session.info[INFO_CLOCK] = history
    try:
        _load(session, seed, history)
    finally:
        session.info[INFO_CLOCK] = real
    return True


def _load(session: Session, seed: int, clock: ManualClock) -> None:
    """The demo's records, written at their own times on ``clock``."""
    rng = np.random.default_rng(seed)
    cli = Actor(None, "demo")
    now = clock.now()
    today = now.replace(hour=9, minute=0, second=0, microsecond=0)
    clock.set(today - _CLINIC_OPENED_BEFORE)
    staff = {}
    for username, name, role in _STAFF:
        u = users.create_user(
            session,
            cli,
            username=username,
            full_name=name,
            role=role,
            password=DEMO_PASSWORD,
            policy=False,
        )
        staff[role] = Actor(u.id, u.username)
    doc = consent.create_document(
        session,
        staff["admin"],
        code="ketamine-treatment",
        title="Consent to ketamine or esketamine treatment",
        body="I have been told about the expected benefits and the risks of treatment: "
        "sedation, dissociation, a rise in blood pressure, misuse, and that I must not drive "
        "until the next day. I can withdraw at any time.",
    )
    nurse, presc = staff["nurse"], staff["prescriber"]
    for i, (given, family, born, sex, weight, height, eth, lang) in enumerate(_PATIENTS):
        # registered, consented, screened and planned weeks before the first session
        clock.set(today - _REGISTERED_BEFORE)
        p = patients.create_patient(
            session,
            nurse,
            mrn=f"DEMO-{1001 + i}",
            given_name=given,
            family_name=family,
            birth_date=dt.date.fromisoformat(born),
            sex=sex,
            weight_kg=weight,
            height_cm=float(height),
            ethnicity=eth,
            language=lang,
        )
        consent.sign_consent(session, nurse, p.id, doc.id, f"{given} {family}")
        protocol = "esketamine-trd-us" if i % 2 == 0 else "depression-iv-course"
        sbp = float(rng.integers(115, 138))
        scr = screening.create_screening(
            session,
            nurse,
            p.id,
            protocol_id=protocol,
            sbp_mmhg=sbp,
            dbp_mmhg=sbp - 45,
            heart_rate_bpm=float(rng.integers(60, 85)),
            spo2_percent=98.0,
            pregnant=False if sex == "female" else None,
            history="Major depressive disorder; two adequate antidepressant trials failed.",
        )
        plan = plans.create_plan(session, presc, p.id, screening_id=scr.id)
        if plan.has_stop:
            continue
        plans.sign_plan(session, presc, plan.id)
        n_sessions = 1 + i % 4
        # on the signed plan's own schedule (the chair-side rules refuse more sessions per week)
        offsets = [
            dt.timedelta(minutes=float(d["time_min"]))  # type: ignore[arg-type]
            for d in plan.doses[:n_sessions]
        ]
        start = today - offsets[-1] - dt.timedelta(days=1)
        assert start > clock.now(), "the demo's sessions begin after registration"
        madrs = int(rng.integers(28, 38))
        clock.set(start - dt.timedelta(days=1))  # the baseline rating, the day before
        ratings.add_rating(
            session,
            nurse,
            p.id,
            scale="MADRS",
            score=madrs,
            taken_on=(start - dt.timedelta(days=1)).date(),
        )
        for k in range(n_sessions):
            when = start + offsets[k]
            clock.set(when - dt.timedelta(minutes=20))  # opened and checked before the dose
            s = sessions.open_session(session, nurse, plan.id)
            pre = float(rng.integers(118, 136))
            sessions.predose_check(
                session,
                nurse,
                s.id,
                sbp_mmhg=pre,
                dbp_mmhg=pre - 44,
                heart_rate_bpm=72.0,
                spo2_percent=98.0,
                fasting_confirmed=True,
                transport_arranged=True,
            )
            dose = float(plan.doses[min(k, len(plan.doses) - 1)]["amount_mg"])  # type: ignore[arg-type]
            lasted = dt.timedelta(minutes=40 if i % 2 else 10)
            recorded = when + lasted + dt.timedelta(minutes=1)  # recorded once given
            clock.set(recorded)
            sessions.give_dose(
                session,
                nurse,
                s.id,
                dose_mg=round(dose, 1),
                lot_number=f"LOT{2400 + i}{k}",
                start_at=when,
                end_at=when + lasted,
            )
            for minute, cp in (
                (0, "pre-dose"),
                (15, ""),
                (40, "40-min"),
                (90, ""),
                (125, "pre-discharge"),
            ):
                rise = 14.0 if minute == 40 else (6.0 if minute in (15, 90) else 0.0)
                clock.set(max(recorded, when + dt.timedelta(minutes=minute + 1)))
                sessions.add_observation(
                    session,
                    nurse,
                    s.id,
                    minutes_after_dose=float(minute),
                    checkpoint=cp,
                    sbp_mmhg=pre + rise,
                    dbp_mmhg=pre - 44 + rise / 2,
                    heart_rate_bpm=74.0 + rise / 2,
                    spo2_percent=97.0,
                    cadss=12.0 if minute == 40 else 2.0,
                    moaas=5 if minute != 40 else 4,
                )
            clock.set(when + dt.timedelta(minutes=131))
            sessions.discharge(
                session,
                nurse,
                s.id,
                discharged_at=when + dt.timedelta(minutes=130),
                criteria_met=True,
                ready_to_leave_min=95.0,
                vitals_acceptable_end=True,
                transport_arranged=True,
                first_treatment=k == 0,
                monitoring_provider="Noah Nurse",
                setting="outpatient",
                vitals_acceptable_before=True,
                sedation_observed=False,
                dissociation_observed=True,
                respiratory_depression_observed=False,
                serious_adverse_event=False,
            )
            clock.set(when + dt.timedelta(minutes=140))
            sessions.sign_session(session, nurse, s.id)
            madrs = max(4, int(madrs * float(rng.uniform(0.65, 0.9))))
            ratings.add_rating(
                session,
                nurse,
                p.id,
                scale="MADRS",
                score=madrs,
                taken_on=(when + dt.timedelta(days=1)).date(),
            )
        # the next sessions, the first of them on today's board
        clock.set(now)
        schedule_plan(
            session,
            nurse,
            plan.id,
            first_day=today.date(),
            time_utc=dt.time(8 + i, 30),
            chair=f"Chair {1 + i % 3}",
        )
