"""The clinic day: appointments and check-in on the day board with each session's phase, the REMS
form as a PDF (rendered by poppler's pdftoppm, text read back with pdftotext), its submission on
the board, the FHIR R4 export validated by fhirclient's R4 models, FHIR import, and charts."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from clinic_support import clock_at, dosed_session, ok, patient_with_plan

from ketasim.clinic.db.models import TreatmentPlan, TreatmentSession
from ketasim.clinic.services.board import session_phase
from ketasim.clinic.web.timecharts import Marker, Series, nice_ticks, time_chart_svg

POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")
REMS = {
    "first_treatment": True,
    "monitoring_provider": "Nurse N",
    "setting": "outpatient",
    "vitals_acceptable_before": True,
    "sedation_observed": False,
    "dissociation_observed": True,
    "respiratory_depression_observed": False,
    "serious_adverse_event": False,
}


def _complete_session(c: dict[str, Any], plan_id: int) -> int:
    sid = dosed_session(c, plan_id)
    for minute, cp, sbp in ((0, "pre-dose", 126), (40, "40-min", 151), (125, "pre-discharge", 131)):
        ok(
            c["nurse"].post(
                f"/api/v1/sessions/{sid}/observations",
                json={
                    "minutes_after_dose": minute,
                    "checkpoint": cp,
                    "sbp_mmhg": sbp,
                    "dbp_mmhg": 84,
                    "heart_rate_bpm": 74,
                    "spo2_percent": 97,
                },
            ),
            201,
        )
    ok(
        c["nurse"].post(
            f"/api/v1/sessions/{sid}/discharge",
            json={
                "discharged_at": "2026-01-05T12:10:00",
                "criteria_met": True,
                "ready_to_leave_min": 95,
                "vitals_acceptable_end": True,
                **REMS,
            },
        )
    )
    ok(c["nurse"].post(f"/api/v1/sessions/{sid}/sign"))
    return sid


@pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftoppm, pdftotext) not installed")
def test_rems_form_pdf_renders_with_the_session_fields(
    as_role: dict[str, Any], tmp_path: Path
) -> None:
    _pid, plan_id = patient_with_plan(as_role)
    sid = _complete_session(as_role, plan_id)
    r = as_role["auditor"].get(f"/api/v1/sessions/{sid}/rems-form.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    pdf = tmp_path / "rems.pdf"
    pdf.write_bytes(r.content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True, timeout=60
    )
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1 and pages[0].stat().st_size > 5_000
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    for expected in (
        "SPRAVATO REMS patient monitoring form",
        "Lot number",
        "LOT-42",
        "Test Patient-One",
        "2026-01-05",
        "126/84",
        "151/84",
        "131/84",
        "Dose (mg)",
        "56",
        "Due by 2026-01-12",
        "Complete: every field answered",
    ):
        assert expected in text, expected
    fonts = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, timeout=60
    ).stdout
    assert "DejaVuSans" in fonts and " yes " in fonts  # embedded TTF


def test_rems_submission_and_the_board(as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)
    early = as_role["nurse"].post(f"/api/v1/sessions/{sid}/rems-submitted")
    assert early.status_code == 409  # not discharged yet
    board = ok(as_role["nurse"].get("/api/v1/board?day=2026-01-13"))
    form = next(f for f in board["rems_forms"] if f["session_id"] == sid)
    assert form["status"] == "overdue" and form["due_by"] == "2026-01-12"
    assert (
        ok(as_role["nurse"].get("/api/v1/board?day=2026-01-07"))["rems_forms"][0]["status"] == "due"
    )
    for minute, cp in ((0, "pre-dose"), (40, "40-min"), (125, "pre-discharge")):
        ok(
            as_role["nurse"].post(
                f"/api/v1/sessions/{sid}/observations",
                json={
                    "minutes_after_dose": minute,
                    "checkpoint": cp,
                    "sbp_mmhg": 130,
                    "dbp_mmhg": 80,
                },
            ),
            201,
        )
    ok(
        as_role["nurse"].post(
            f"/api/v1/sessions/{sid}/discharge",
            json={
                "discharged_at": "2026-01-05T12:10:00",
                "criteria_met": True,
                "ready_to_leave_min": 95,
                "vitals_acceptable_end": True,
                **REMS,
            },
        )
    )
    s = ok(as_role["nurse"].post(f"/api/v1/sessions/{sid}/rems-submitted"))
    assert s["rems_submitted_at"] is not None and s["rems_submitted_by"] is not None
    again = as_role["nurse"].post(f"/api/v1/sessions/{sid}/rems-submitted")
    assert again.status_code == 409
    today = dt.datetime.now(dt.UTC).date().isoformat()
    board = ok(as_role["nurse"].get(f"/api/v1/board?day={today}"))
    form = next(f for f in board["rems_forms"] if f["session_id"] == sid)
    assert form["status"] == "submitted" and form["submitted_by"] == "Nurse User"
    page = as_role["nurse"].get("/board")
    assert page.status_code == 200 and "Nurse User" in page.text and "submitted" in page.text
    assert form["patient_id"] == pid


def test_appointments_check_in_and_phases_on_the_board(app: Any, as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    today = dt.datetime.now(dt.UTC).date()
    appts = ok(
        as_role["nurse"].post(
            f"/api/v1/plans/{plan_id}/appointments",
            json={"first_day": today.isoformat(), "time_utc": "08:30", "chair": "Chair 2"},
        ),
        201,
    )
    with app.state.db.read() as s:
        plan = s.get(TreatmentPlan, plan_id)
        assert plan is not None
        days = [float(d["day"]) for d in plan.doses]
    assert len(appts) == len(days)
    assert [dt.datetime.fromisoformat(a["starts_at"]).date() for a in appts] == [
        today + dt.timedelta(days=d) for d in days
    ]
    assert (
        ok(
            as_role["nurse"].post(
                f"/api/v1/plans/{plan_id}/appointments", json={"first_day": today.isoformat()}
            ),
            201,
        )
        == []
    )  # nothing left to schedule
    board = ok(as_role["nurse"].get("/api/v1/board"))
    row = board["chairs"]["Chair 2"][0]
    assert row["phase"] == "scheduled" and row["patient_id"] == pid
    assert row["planned_dose_mg"] == 56.0
    # checked in and checked 40 min ago on the clinic clock: the dose started 30 min ago
    with clock_at(as_role, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40)):
        s = ok(as_role["nurse"].post(f"/api/v1/appointments/{appts[0]['id']}/check-in"), 201)
        assert s["chair"] == "Chair 2" and s["checked_in_at"] is not None
        again = as_role["nurse"].post(f"/api/v1/appointments/{appts[0]['id']}/check-in")
        assert again.status_code == 409
        phase = ok(as_role["nurse"].get("/api/v1/board"))["chairs"]["Chair 2"][0]["phase"]
        assert phase == "checked in"
        ok(
            as_role["nurse"].post(
                f"/api/v1/sessions/{s['id']}/predose",
                json={"sbp_mmhg": 126, "dbp_mmhg": 80, "heart_rate_bpm": 70, "spo2_percent": 98},
            )
        )
        phase = ok(as_role["nurse"].get("/api/v1/board"))["chairs"]["Chair 2"][0]["phase"]
        assert phase == "pre-dose"
    start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=30)
    ok(
        as_role["nurse"].post(
            f"/api/v1/sessions/{s['id']}/dose",
            json={"dose_mg": 56, "lot_number": "L1", "start_at": start.isoformat()},
        )
    )
    row = ok(as_role["nurse"].get("/api/v1/board"))["chairs"]["Chair 2"][0]
    assert row["phase"] == "monitoring"
    assert 9 < row["to_bp_40_min"] <= 10.5 and 89 < row["to_discharge_min"] <= 90.5
    page = as_role["prescriber"].get("/")  # the landing page is the board
    assert page.status_code == 200 and "Day board" in page.text and "40-min BP in" in page.text


def _plan(duration_min: float = 5.0, limit: float | None = 120.0) -> TreatmentPlan:
    return TreatmentPlan(duration_min=duration_min, discharge_not_before_min=limit, doses=[])


def test_session_phase_clocks() -> None:
    """Phases and clocks against hand-computed minutes (dose at 10:00, 120-min earliest
    discharge, 40-min BP)."""
    t0 = dt.datetime(2026, 1, 5, 10, 0)
    s = TreatmentSession(status="open", predose_blocked=None)
    assert session_phase(s, _plan(), t0, False)[0] == "checked in"
    s.predose_blocked = True
    assert session_phase(s, _plan(), t0, False)[0] == "blocked"
    s = TreatmentSession(status="dosed", dose_start_at=t0, predose_blocked=False)
    assert session_phase(s, _plan(), t0 + dt.timedelta(minutes=2), False) == (
        "dosed",
        2.0,
        38.0,
        118.0,
    )
    assert session_phase(s, _plan(), t0 + dt.timedelta(minutes=45), False) == (
        "monitoring",
        45.0,
        -5.0,
        75.0,
    )
    assert session_phase(s, _plan(), t0 + dt.timedelta(minutes=121), True) == (
        "ready",
        121.0,
        None,
        -1.0,
    )
    # the 40-min BP missing keeps the patient in monitoring
    assert session_phase(s, _plan(), t0 + dt.timedelta(minutes=121), False)[0] == "monitoring"
    s.status = "discharged"
    assert session_phase(s, _plan(), t0, True)[0] == "discharged"


def test_fhir_export_is_a_valid_r4_bundle_and_imports_back(as_role: dict[str, Any]) -> None:
    from fhirclient.models.bundle import Bundle

    pid, plan_id = patient_with_plan(as_role)
    _complete_session(as_role, plan_id)
    for scale, score in (("PHQ-9", 14), ("GAD-7", 9), ("MADRS", 28)):
        ok(
            as_role["nurse"].post(
                f"/api/v1/patients/{pid}/ratings",
                json={"scale": scale, "score": score, "taken_on": "2026-01-04"},
            ),
            201,
        )
    body = ok(as_role["auditor"].get(f"/api/v1/patients/{pid}/fhir"))
    bundle = Bundle(body, strict=True)  # raises FHIRValidationError on any R4 violation
    kinds = [e.resource.resource_type for e in bundle.entry]
    for k in ("Patient", "Encounter", "MedicationAdministration", "Observation", "Consent"):
        assert k in kinds, k
    codes = {
        c.code: e.resource
        for e in bundle.entry
        if e.resource.resource_type == "Observation"
        for c in (e.resource.code.coding or [])
    }
    assert codes["44261-6"].valueQuantity.value == 14  # PHQ-9 total
    assert codes["70274-6"].valueQuantity.value == 9  # GAD-7 total
    bp = codes["85354-9"]
    parts = {c.code.coding[0].code: c.valueQuantity.value for c in bp.component}
    assert parts["8462-4"] == 84 and parts["8480-6"] in (126, 151, 131)
    med = next(
        e.resource for e in bundle.entry if e.resource.resource_type == "MedicationAdministration"
    )
    assert med.dosage.dose.value == 56 and med.contained[0].batch.lotNumber == "LOT-42"
    # round trip: the export's Patient and PHQ-9 observation import as a new patient
    patient = next(e for e in body["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["resource"]["identifier"][0]["value"] = "IMPORTED-1"
    wanted = {"29463-7", "44261-6"}
    obs = [
        e
        for e in body["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"].get("coding", [{}])[0].get("code") in wanted
    ]
    result = ok(
        as_role["nurse"].post(
            "/api/v1/fhir/import",
            json={"resourceType": "Bundle", "type": "collection", "entry": [patient, *obs]},
        ),
        201,
    )
    new_id = result["patients_created"][0]
    assert result["ratings_created"] == 1
    p = ok(as_role["nurse"].get(f"/api/v1/patients/{new_id}"))
    assert p["mrn"] == "IMPORTED-1" and p["weight_kg"] == 70.0
    assert ok(as_role["nurse"].get(f"/api/v1/patients/{new_id}/ratings"))[0]["score"] == 14
    bad = as_role["nurse"].post(
        "/api/v1/fhir/import",
        json={
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "valueQuantity": {"value": "not a number"},
        },
    )
    assert bad.status_code == 422 and bad.json()["field"] == "resource"


def test_time_chart_has_labelled_axes_and_ticks() -> None:
    assert nice_ticks(40, 200) == [50, 100, 150, 200]  # step 32 rounds up to 50
    assert nice_ticks(0, 27) == [0, 10, 20]  # step 5.4 rounds up to 10
    assert nice_ticks(0, 60) == [0, 20, 40, 60]  # step 12 rounds up to 20
    t0 = dt.datetime(2026, 1, 5, 10, 0)
    svg = time_chart_svg(
        [Series("systolic BP (mmHg)", [(t0, 130), (t0 + dt.timedelta(minutes=40), 150)])],
        x_label="clock time (UTC)",
        y_label="mmHg",
        y_range=(40, 200),
        markers=[
            Marker("alert 180", value=180),
            Marker("40-min BP", at=t0 + dt.timedelta(minutes=40)),
        ],
    )
    assert "clock time (UTC)" in svg and ">mmHg<" in svg
    assert svg.count('class="xtick"') >= 3 and svg.count('class="ytick"') >= 4
    assert ">10:00<" in svg and ">10:40<" in svg and "alert 180" in svg


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_api_docs_use_a_swagger_ui_that_reads_openapi_3_1(as_role: dict[str, Any]) -> None:
    """FastAPI's schema is OpenAPI 3.1; Swagger UI 4.15 cannot render it, Swagger UI 5 has the
    OAS 3.1 plugins (isOAS31). Served from the installed package, no CDN."""
    c = as_role["nurse"]
    assert ok(c.get("/api/v1/openapi.json"))["openapi"].startswith("3.1")
    js = c.get("/static/swagger/swagger-ui-bundle.js")
    assert js.status_code == 200 and "isOAS31" in js.text
    page = c.get("/api/v1/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in page and "http" not in page


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_quick_vitals_with_clock_time_keep_typed_values_on_error(
    app: Any, as_role: dict[str, Any]
) -> None:
    _pid, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)  # dose started 2026-01-05 10:00 UTC
    nurse = as_role["nurse"]
    page = nurse.get(f"/sessions/{sid}")
    assert 'id="planned-dose"' in page.text and "56 mg" in page.text
    assert '<option value="40-min" selected>' in page.text  # the next checkpoint is suggested
    r = nurse.post(
        f"/sessions/{sid}/quick-vitals",
        data={
            "clock": "10:40",
            "checkpoint": "40-min",
            "sbp_mmhg": "152",
            "dbp_mmhg": "88",
            "heart_rate_bpm": "81",
            "spo2_percent": "97",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("#quick-vitals")
    obs = ok(nurse.get(f"/api/v1/sessions/{sid}"))["observations"]
    assert obs[-1]["minutes_after_dose"] == 40.0 and obs[-1]["taken_at"] == "2026-01-05T10:40:00Z"
    bad = nurse.post(
        f"/sessions/{sid}/quick-vitals",
        data={
            "clock": "11:05",
            "checkpoint": "",
            "sbp_mmhg": "400",
            "dbp_mmhg": "88",
            "heart_rate_bpm": "77",
        },
    )
    assert bad.status_code == 422
    assert 'id="quick-error"' in bad.text and "sbp_mmhg: 400 is out of range" in bad.text
    assert 'value="400"' in bad.text and 'value="77"' in bad.text and 'value="11:05"' in bad.text
    assert 'id="q_sbp" name="sbp_mmhg" inputmode="decimal" value="400" class=" invalid"' in (
        bad.text
    )
    chart = nurse.get(f"/sessions/{sid}").text
    assert 'id="vitals-chart"' in chart and "clock time (UTC)" in chart and ">10:40<" in chart


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_iv_infusion_rate_volume_and_times(as_role: dict[str, Any]) -> None:
    _pid, plan_id = patient_with_plan(as_role, protocol="depression-iv-course")
    sid = dosed_session(as_role, plan_id, dose_mg=35.0)
    nurse = as_role["nurse"]
    assert 'id="infusion"' in nurse.get(f"/sessions/{sid}").text
    bad = nurse.post(
        f"/sessions/{sid}/infusion",
        data={
            "infusion_rate_ml_per_h": "75",
            "infusion_volume_ml": "50",
            "infusion_start_at": "2026-01-05T10:40",
            "infusion_stop_at": "2026-01-05T10:00",
        },
    )
    assert bad.status_code == 422 and "infusion_stop_at: before infusion_start_at" in bad.text
    assert 'value="75"' in bad.text  # typed values kept
    ok_ = nurse.post(
        f"/sessions/{sid}/infusion",
        data={
            "infusion_rate_ml_per_h": "75",
            "infusion_volume_ml": "50",
            "infusion_start_at": "2026-01-05T10:00",
            "infusion_stop_at": "2026-01-05T10:40",
        },
        follow_redirects=False,
    )
    assert ok_.status_code == 303
    s = ok(nurse.get(f"/api/v1/sessions/{sid}"))
    assert (s["infusion_rate_ml_per_h"], s["infusion_volume_ml"]) == (75.0, 50.0)
    assert s["infusion_stop_at"] == "2026-01-05T10:40:00Z"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_scheduling_skips_sessions_held_and_the_board_shows_the_day_of_the_dose(
    app: Any, as_role: dict[str, Any]
) -> None:
    _pid, plan_id = patient_with_plan(as_role)
    dosed_session(as_role, plan_id)  # session 1, dosed 2026-01-05
    with app.state.db.read() as s:
        plan = s.get(TreatmentPlan, plan_id)
        assert plan is not None
        days = [float(d["day"]) for d in plan.doses]
    made = ok(
        as_role["nurse"].post(
            f"/api/v1/plans/{plan_id}/appointments",
            json={"first_day": "2026-02-02", "time_utc": "09:15"},
        ),
        201,
    )
    assert [a["session_number"] for a in made] == list(range(2, len(days) + 1))
    first = dt.datetime.fromisoformat(made[0]["starts_at"])
    assert first == dt.datetime(2026, 2, 2, 9, 15)
    for a, d in zip(made, days[1:], strict=True):
        assert dt.datetime.fromisoformat(a["starts_at"]) == first + dt.timedelta(days=d - days[1])
    today = ok(as_role["nurse"].get("/api/v1/board"))["chairs"]
    assert today == {}  # opened today, but dosed on 2026-01-05
    jan5 = ok(as_role["nurse"].get("/api/v1/board?day=2026-01-05"))["chairs"]
    assert [r["phase"] for r in jan5["unassigned"]] == ["monitoring"]
    bad = as_role["nurse"].get("/api/v1/board?day=9999-12-31")
    assert bad.status_code == 422 and bad.json()["field"] == "day"
