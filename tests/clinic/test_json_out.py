"""Issue 12 (speed): the hot API reads and the vital-sign write return pydantic's JSON bytes
directly (no second validation in the thread pool). Their output must be byte for byte what
FastAPI's default serialisation of the same model gives, and the OpenAPI document unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from clinic_support import dosed_session, ok, patient_with_plan
from fastapi import FastAPI
from fastapi.testclient import TestClient
from guard_support import DAY, complete_session

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.db.models import TreatmentSession
from ketasim.clinic.services import alerts as al
from ketasim.clinic.services import patients as pa


def _reference_app(app: Any) -> TestClient:
    """The three reads written the default way (return the model; FastAPI serialises)."""
    ref = FastAPI()
    db = app.state.db

    @ref.get("/patients/{pid}")
    def patient(pid: int) -> sc.PatientPublic:
        with db.read() as s:
            return sc.PatientPublic.model_validate(pa.get_patient(s, pid))

    @ref.get("/sessions/{sid}")
    def session(sid: int) -> sc.SessionPublic:
        with db.read() as s:
            return sc.SessionPublic.model_validate(s.get(TreatmentSession, sid))

    @ref.get("/alerts")
    def alerts() -> list[sc.AlertPublic]:
        with db.read() as s:
            return [sc.AlertPublic.model_validate(a) for a in al.list_alerts(s, open_only=True)]

    return TestClient(ref)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_fast_json_is_byte_identical_to_fastapi_default(app: Any, as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    ok(as_role["nurse"].patch(f"/api/v1/patients/{pid}", json={"given_name": "Zoë-Ångström"}))
    sid = dosed_session(as_role, plan_id)
    nurse = as_role["nurse"]
    for k, sbp in enumerate((128, 190, 131.5)):  # 190: a BP alert, so alerts are listed
        r = nurse.post(
            f"/api/v1/sessions/{sid}/observations",
            json={"minutes_after_dose": 10 * k, "sbp_mmhg": sbp, "dbp_mmhg": 80},
        )
        assert r.status_code == 201 and r.headers["content-type"] == "application/json"
        assert r.json()["sbp_mmhg"] == sbp
    ref = _reference_app(app)
    pairs = [
        (f"/api/v1/patients/{pid}", f"/patients/{pid}"),
        (f"/api/v1/sessions/{sid}", f"/sessions/{sid}"),
        ("/api/v1/alerts?open_only=true", "/alerts"),
    ]
    for ours, theirs in pairs:
        a, b = nurse.get(ours), ref.get(theirs)
        assert a.status_code == b.status_code == 200
        assert a.headers["content-type"] == b.headers["content-type"] == "application/json"
        assert a.content == b.content, ours
    body = nurse.get(f"/api/v1/sessions/{sid}").json()
    assert len(body["observations"]) == 3
    assert "Zoë-Ångström".encode() in nurse.get(f"/api/v1/patients/{pid}").content
    assert ok(nurse.get("/api/v1/alerts?open_only=true"))  # the 190 mmHg alert is there
    # errors keep their shape: unknown session 404 with a detail
    assert nurse.get(f"/api/v1/sessions/{sid + 999}").status_code == 404


def test_session_read_without_orm_objects_is_byte_identical(
    app: Any, as_role: dict[str, Any]
) -> None:
    """The session read built from Core rows (``api/session_read.py``) against the ORM object
    validated by FastAPI's default path, on a session with every collection filled: vitals with
    equal minutes (entry order decides), an adverse event, an amendment, findings, REMS
    answers; and an unknown session is still a 404 naming it."""
    _, plan_id = patient_with_plan(as_role)
    nurse = as_role["nurse"]
    sid = complete_session(as_role, plan_id, DAY)
    ok(
        nurse.post(
            f"/api/v1/sessions/{sid}/adverse-events",
            json={"category": "nausea-vomiting", "severity": "mild", "description": "nausea"},
        ),
        201,
    )
    # a discharged session still takes vitals; three at the same minute, entered in this order
    for sbp in (150, 141, 147):
        ok(
            nurse.post(
                f"/api/v1/sessions/{sid}/observations",
                json={"minutes_after_dose": 40, "sbp_mmhg": sbp, "dbp_mmhg": 85},
            ),
            201,
        )
    why = "typed 90 in error; the chart says ready at 75 min"
    ok(
        nurse.post(
            f"/api/v1/sessions/{sid}/amendments",
            json={"field": "ready_to_leave_min", "value": 75, "reason": why},
        ),
        201,
    )
    ours = nurse.get(f"/api/v1/sessions/{sid}")
    theirs = _reference_app(app).get(f"/sessions/{sid}")
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content
    body = ours.json()
    assert len(body["adverse_events"]) == 1 and len(body["amendments"]) == 1
    assert body["predose_findings"] and body["ready_to_leave_min"] == 75
    at_40 = [o["sbp_mmhg"] for o in body["observations"] if o["minutes_after_dose"] == 40]
    assert at_40 == [130, 150, 141, 147]  # the checkpoint first, then entry order
    missing = nurse.get(f"/api/v1/sessions/{sid + 999}")
    assert missing.status_code == 404 and f"session {sid + 999}" in missing.json()["detail"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_openapi_still_documents_the_models(app: Any) -> None:
    spec = app.openapi()["paths"]

    def ref(path: str, method: str, code: str) -> Any:
        return spec[path][method]["responses"][code]["content"]["application/json"]["schema"]

    assert ref("/api/v1/sessions/{session_id}", "get", "200")["$ref"].endswith("/SessionPublic")
    assert ref("/api/v1/patients/{patient_id}", "get", "200")["$ref"].endswith("/PatientPublic")
    assert ref("/api/v1/alerts", "get", "200")["items"]["$ref"].endswith("/AlertPublic")
    obs = ref("/api/v1/sessions/{session_id}/observations", "post", "201")
    assert obs["$ref"].endswith("/ObservationPublic")
