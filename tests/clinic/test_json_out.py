"""Issue 12 (speed): the hot API reads and the vital-sign write return pydantic's JSON bytes
directly (no second validation in the thread pool). Their output must be byte for byte what
FastAPI's default serialisation of the same model gives, and the OpenAPI document unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from clinic_support import dosed_session, ok, patient_with_plan
from fastapi import FastAPI
from fastapi.testclient import TestClient

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
