"""Shared helpers of the clinic tests (imported by conftest and the test modules)."""

from __future__ import annotations

import warnings
from typing import Any

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
    """(patient id, plan id): consent signed, screened, plan created (and signed)."""
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


def dosed_session(c: dict[str, Any], plan_id: int, dose_mg: float = 56.0) -> int:
    """A session through the pre-dose check and the dose; returns its id."""
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
            json={"dose_mg": dose_mg, "lot_number": "LOT-42", "start_at": "2026-01-05T10:00:00"},
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
