"""Shared helpers of the clinic tests (imported by conftest and the test modules)."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ketasim.clinic.clock import ManualClock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
ROLES = ("admin", "prescriber", "nurse", "auditor")


def login(app: Any, role: str) -> TestClient:
    """A client logged in with a bearer token as the user of ``role``."""
    c = TestClient(app)
    r = c.post("/api/v1/auth/login", json={"username": role, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"
    c.cookies.clear()
    return c


#: when the test patients sign their consent, are screened and planned: before every dose time
#: of the tests (a dose needs a consent in force at its start)
CONSENT_AT = dt.datetime(2025, 12, 1, 8, 0, tzinfo=dt.UTC)
#: how long before a dose's start a test session is opened and checked
OPENED_BEFORE = dt.timedelta(minutes=15)


def clinic_clock(c: Any) -> ManualClock:
    """The clinic clock of the app behind ``c`` (an app, a client or a dict of clients)."""
    app = c if hasattr(c, "state") else (c["nurse"] if isinstance(c, dict) else c).app
    clock = app.state.settings.clock
    assert isinstance(clock, ManualClock), "the test app has no ManualClock (see conftest)"
    return clock


@contextmanager
def clock_at(c: Any, at: dt.datetime | str) -> Iterator[ManualClock]:
    """Stand the clinic clock of ``c``'s app at ``at`` (naive: UTC) for the block, then let it
    follow the machine's clock again."""
    clock = clinic_clock(c)
    if isinstance(at, str):
        at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    clock.set(at)
    try:
        yield clock
    finally:
        clock.follow()


def as_utc_time(t: dt.datetime | str, zone: str = "UTC") -> dt.datetime:
    """``t`` as aware UTC: a naive datetime is UTC; naive ISO text is clock time of ``zone``
    (as the API reads it); an offset wins."""
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
        if t.tzinfo is None:
            from zoneinfo import ZoneInfo

            t = t.replace(tzinfo=ZoneInfo(zone))
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def clinic_zone_of(c: Any) -> str:
    """The clinic time zone of ``c``'s app."""
    app = c if hasattr(c, "state") else (c["nurse"] if isinstance(c, dict) else c).app
    return str(app.state.settings.clinic_tz)


CONSENT = {
    "code": "ketamine-treatment",
    "title": "Consent to ketamine treatment",
    "body": "I understand the risks of sedation, dissociation and raised blood pressure.",
}
PATIENT = {
    "mrn": "MRN-1",
    "given_name": "Test",
    "family_name": "Patient-One",
    "birth_date": "1980-05-01",
    "sex": "female",
    "weight_kg": 70.0,
    "height_cm": 168,
}


#: the REMS patient monitoring form's answers asked at discharge
REMS_ANSWERS = {
    "first_treatment": True,
    "monitoring_provider": "Nurse User",
    "setting": "outpatient",
    "ready_to_leave_min": 90,
    "vitals_acceptable_before": True,
    "vitals_acceptable_end": True,
    "sedation_observed": False,
    "dissociation_observed": True,
    "respiratory_depression_observed": False,
    "serious_adverse_event": False,
}


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def patient_with_plan(
    c: dict[str, Any],
    *,
    protocol: str = "esketamine-trd-us",
    mrn: str = "MRN-1",
    conditions: list[str] | None = None,
    sign: bool = True,
) -> tuple[int, int]:
    """(patient id, plan id): consent signed, screened, plan created (and signed), all at
    :data:`CONSENT_AT` on the clinic clock."""
    with clock_at(c, CONSENT_AT):
        return _patient_with_plan(c, protocol, mrn, conditions, sign)


def _patient_with_plan(
    c: dict[str, Any], protocol: str, mrn: str, conditions: list[str] | None, sign: bool
) -> tuple[int, int]:
    docs = ok(c["admin"].get("/api/v1/consent-documents"))
    doc = docs[-1] if docs else ok(c["admin"].post("/api/v1/consent-documents", json=CONSENT), 201)
    pid = ok(c["nurse"].post("/api/v1/patients", json={**PATIENT, "mrn": mrn}), 201)["id"]
    ok(
        c["nurse"].post(
            f"/api/v1/patients/{pid}/consents",
            json={"document_id": doc["id"], "signed_by_name": "Test Patient-One"},
        ),
        201,
    )
    scr = ok(
        c["nurse"].post(
            f"/api/v1/patients/{pid}/screenings",
            json={
                "protocol_id": protocol,
                "sbp_mmhg": 128,
                "dbp_mmhg": 78,
                "heart_rate_bpm": 72,
                "conditions": conditions or [],
                "pregnant": False,
            },
        ),
        201,
    )
    plan = ok(
        c["prescriber"].post(f"/api/v1/patients/{pid}/plans", json={"screening_id": scr["id"]}), 201
    )
    if sign:
        ok(c["prescriber"].post(f"/api/v1/plans/{plan['id']}/sign"))
    return pid, plan["id"]


def dosed_session(
    c: dict[str, Any], plan_id: int, dose_mg: float = 56.0, start_at: str = "2026-01-05T10:00:00"
) -> int:
    """A session opened and checked :data:`OPENED_BEFORE` its dose's start ``start_at`` (on the
    clinic clock), then dosed; returns its id."""
    with clock_at(c, as_utc_time(start_at, clinic_zone_of(c)) - OPENED_BEFORE):
        sid = ok(c["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)["id"]
        ok(
            c["nurse"].post(
                f"/api/v1/sessions/{sid}/predose",
                json={"sbp_mmhg": 126, "dbp_mmhg": 80, "heart_rate_bpm": 70, "spo2_percent": 98},
            )
        )
    ok(
        c["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": dose_mg, "lot_number": "LOT-42", "start_at": start_at},
        )
    )
    return sid


def drop_audit_triggers(conn: Any) -> None:
    """What an attacker with DDL rights would do before editing the audit log."""
    from sqlalchemy import text

    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))


def sleepy_job(payload: dict[str, Any], progress: Any) -> dict[str, Any]:
    """A background job that reports progress, sleeps ``payload['sleep_s']`` and returns
    ``payload['tag']`` (module-level here: the job's child process imports it by name)."""
    import time

    progress(1, 2)
    time.sleep(float(payload["sleep_s"]))
    progress(2, 2)
    return {"echo": payload["tag"]}
