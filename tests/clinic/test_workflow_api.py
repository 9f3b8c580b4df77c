"""Priority 2: the REST workflow against the safety checker, REMS, ratings, alerts, equity."""

from __future__ import annotations

from typing import Any

from clinic_support import (
    CONSENT,
    PATIENT,
    REMS_ANSWERS,
    clock_at,
    dosed_session,
    ok,
    patient_with_plan,
)
from sqlalchemy import func, select

from ketasim.clinic.db.models import AuditEntry, Patient


def test_no_session_without_current_consent(app: Any, as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    consent = ok(as_role["nurse"].get(f"/api/v1/patients/{pid}/consents"))[0]
    ok(
        as_role["nurse"].post(
            f"/api/v1/consents/{consent['id']}/withdraw", json={"reason": "changed mind"}
        )
    )
    r = as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id})
    assert r.status_code == 409 and r.json()["field"] == "consent"
    # a new document version supersedes the old one: the old signature is not current
    doc2 = ok(as_role["admin"].post("/api/v1/consent-documents", json=CONSENT), 201)
    assert doc2["version"] == 2
    old = ok(as_role["admin"].get("/api/v1/consent-documents"))[0]
    r = as_role["nurse"].post(
        f"/api/v1/patients/{pid}/consents",
        json={"document_id": old["id"], "signed_by_name": "Test Patient-One"},
    )
    assert r.status_code == 409
    ok(
        as_role["nurse"].post(
            f"/api/v1/patients/{pid}/consents",
            json={"document_id": doc2["id"], "signed_by_name": "Test Patient-One"},
        ),
        201,
    )
    ok(as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)


def test_screening_findings_carry_sources_and_stops_block_signing(as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role, conditions=["aortic-aneurysm"], sign=False)
    scr = ok(as_role["nurse"].get(f"/api/v1/patients/{pid}/screenings"))[0]
    assert scr["eligible"] is False
    stop = [f for f in scr["findings"] if f["severity"] == "stop"]
    assert stop and all(len(f["source"]) > 5 for f in scr["findings"])
    assert any("aneurysm" in f["rule_id"] for f in stop)
    r = as_role["prescriber"].post(f"/api/v1/plans/{plan_id}/sign")
    assert r.status_code == 409 and r.json()["stops"]


def test_predose_stop_blocks_the_dose(as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = ok(as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)["id"]
    r = as_role["nurse"].post(
        f"/api/v1/sessions/{sid}/dose",
        json={"dose_mg": 56, "lot_number": "L", "start_at": "2026-01-05T10:00:00"},
    )
    assert r.status_code == 409 and r.json()["field"] == "predose"
    s = ok(
        as_role["nurse"].post(
            f"/api/v1/sessions/{sid}/predose",
            json={
                "sbp_mmhg": 120,
                "dbp_mmhg": 75,
                "heart_rate_bpm": 70,
                "spo2_percent": 98,
                "new_conditions": ["intracerebral-haemorrhage"],
            },
        )
    )
    assert s["predose_blocked"] is True
    r = as_role["nurse"].post(
        f"/api/v1/sessions/{sid}/dose",
        json={"dose_mg": 56, "lot_number": "L", "start_at": "2026-01-05T10:00:00"},
    )
    assert r.status_code == 409 and r.json()["stops"]
    assert ok(as_role["nurse"].get(f"/api/v1/sessions/{sid}"))["dose_mg"] is None


def test_esketamine_session_cannot_be_signed_until_rems_fields_are_filled(
    as_role: dict[str, Any],
) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)
    n = as_role["nurse"]
    for minute, cp, sbp in ((0, "pre-dose", 126), (40, "40-min", 150), (125, "pre-discharge", 130)):
        ok(
            n.post(
                f"/api/v1/sessions/{sid}/observations",
                json={
                    "minutes_after_dose": minute,
                    "checkpoint": cp,
                    "sbp_mmhg": sbp,
                    "dbp_mmhg": 82,
                    "heart_rate_bpm": 75,
                    "spo2_percent": 97,
                    "cadss": 8,
                    "moaas": 5,
                },
            ),
            201,
        )
    # issue 12: a discharge without the REMS answers is refused (it could never be signed)
    r = n.post(
        f"/api/v1/sessions/{sid}/discharge",
        json={"discharged_at": "2026-01-05T12:10:00", "criteria_met": True},
    )
    assert r.status_code == 409
    missing = set(r.json()["missing"])
    assert {"lot_number", "dose_mg", "bp_pre_dose"}.isdisjoint(missing)
    assert {
        "first_treatment",
        "monitoring_provider",
        "ready_to_leave_min",
        "sedation_observed",
        "respiratory_depression_observed",
    } <= missing
    assert ok(n.get(f"/api/v1/sessions/{sid}"))["status"] == "dosed"
    ok(
        n.patch(
            f"/api/v1/sessions/{sid}",
            json={
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
            },
        )
    )
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/discharge",
            json={"discharged_at": "2026-01-05T12:10:00", "criteria_met": True},
        )
    )
    signed = ok(n.post(f"/api/v1/sessions/{sid}/sign"))
    assert signed["status"] == "signed"
    form = ok(n.get(f"/api/v1/sessions/{sid}/rems-form"))
    assert form["lot_number"] == "LOT-42" and form["dose_mg"] == 56
    assert form["monitoring_minutes"] == 130.0  # 10:00 to 12:10
    assert (form["bp_pre_dose"], form["bp_40_min"], form["bp_pre_discharge"]) == (
        "126/82",
        "150/82",
        "130/82",
    )
    assert form["missing"] == [] and form["due_by"] == "2026-01-12"
    # a signed session is closed
    r = n.post(f"/api/v1/sessions/{sid}/observations", json={"minutes_after_dose": 200})
    assert r.status_code == 409


def test_alerts_bp_escalation_and_missed_monitoring(as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    n = as_role["nurse"]
    sid = dosed_session(as_role, plan_id, dose_mg=56)
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/observations",
            json={"minutes_after_dose": 40, "sbp_mmhg": 185, "dbp_mmhg": 100},
        ),
        201,
    )
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/discharge",
            json={**REMS_ANSWERS, "discharged_at": "2026-01-05T12:05:00", "criteria_met": True},
        )
    )
    kinds = {a["kind"] for a in ok(n.get(f"/api/v1/alerts?patient_id={pid}"))}
    assert {"bp-above-threshold", "missed-monitoring"} <= kinds
    # next session at 84 mg on a 56 mg plan: refused for the nurse, even with a rationale
    # (issue 12); a prescriber's override with a reason of substance: dose escalation alert
    with clock_at(as_role, "2026-01-08T09:45:00Z"):  # opened and checked before the dose
        sid2 = ok(n.post("/api/v1/sessions", json={"plan_id": plan_id}), 201)["id"]
        ok(
            n.post(
                f"/api/v1/sessions/{sid2}/predose",
                json={"sbp_mmhg": 120, "dbp_mmhg": 75, "heart_rate_bpm": 70, "spo2_percent": 98},
            )
        )
    r = n.post(
        f"/api/v1/sessions/{sid2}/dose",
        json={"dose_mg": 84, "lot_number": "L2", "start_at": "2026-01-08T10:00:00"},
    )
    assert r.status_code == 409 and r.json()["needs_override"] == ["plan.dose-above-signed"]
    r = n.post(
        f"/api/v1/sessions/{sid2}/dose",
        json={
            "dose_mg": 84,
            "lot_number": "L2",
            "start_at": "2026-01-08T10:00:00",
            "rationale": "partial response",
            "override_reason": "partial response after 56 mg",
        },
    )
    assert r.status_code == 403
    ok(
        as_role["prescriber"].post(
            f"/api/v1/sessions/{sid2}/dose",
            json={
                "dose_mg": 84,
                "lot_number": "L2",
                "start_at": "2026-01-08T10:00:00",
                "override_reason": "partial response after four sessions at 56 mg",
            },
        )
    )
    alerts = ok(n.get(f"/api/v1/alerts?patient_id={pid}"))
    esc = [a for a in alerts if a["kind"] == "dose-escalation"]
    assert esc and "56 mg to 84 mg" in esc[0]["message"]
    ok(as_role["prescriber"].post(f"/api/v1/alerts/{esc[0]['id']}/acknowledge"))
    assert (
        as_role["prescriber"].post(f"/api/v1/alerts/{esc[0]['id']}/acknowledge").status_code == 409
    )


def test_ratings_response_and_remission(as_role: dict[str, Any]) -> None:
    pid = ok(as_role["nurse"].post("/api/v1/patients", json=PATIENT), 201)["id"]
    for day, score in (
        ("2026-01-01", 32),
        ("2026-01-08", 20),
        ("2026-01-15", 16),
        ("2026-01-29", 9),
    ):
        ok(
            as_role["nurse"].post(
                f"/api/v1/patients/{pid}/ratings",
                json={"scale": "MADRS", "score": score, "taken_on": day},
            ),
            201,
        )
    course = ok(as_role["auditor"].get(f"/api/v1/patients/{pid}/ratings/MADRS/course"))
    assert [p["response"] for p in course] == [False, False, True, True]  # <= 16 = 50 % of 32
    assert [p["remission"] for p in course] == [False, False, False, True]  # MADRS <= 10
    assert course[1]["change_percent"] == -37.5
    r = as_role["nurse"].post(
        f"/api/v1/patients/{pid}/ratings",
        json={"scale": "PHQ-9", "score": 30, "taken_on": "2026-01-01"},
    )
    assert r.status_code == 422 and r.json()["field"] == "score"


def test_bad_input_is_422_naming_the_field_and_changes_nothing(
    app: Any, as_role: dict[str, Any]
) -> None:
    n = as_role["nurse"]
    with app.state.db.session() as s:
        before = s.execute(select(func.count(AuditEntry.id))).scalar_one()
    cases = [
        ({**PATIENT, "weight_kg": "heavy"}, "weight_kg"),
        ({**PATIENT, "birth_date": "yesterday"}, "birth_date"),
        ({**PATIENT, "sex": "x"}, "sex"),
        ({**PATIENT, "unknown": 1}, "unknown"),
        ({k: v for k, v in PATIENT.items() if k != "mrn"}, "mrn"),
    ]
    for body, field in cases:
        r = n.post("/api/v1/patients", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
    pid = ok(n.post("/api/v1/patients", json=PATIENT), 201)["id"]
    r = n.post(
        f"/api/v1/patients/{pid}/screenings",
        json={"protocol_id": "esketamine-trd-us", "conditions": ["gout"]},
    )
    assert r.status_code == 422 and r.json()["field"] == "conditions"
    r = n.post(f"/api/v1/patients/{pid}/screenings", json={"protocol_id": "/etc/passwd"})
    assert r.status_code == 422 and r.json()["field"] == "protocol_id"
    assert n.post("/api/v1/patients", json=PATIENT).status_code == 409  # duplicate MRN
    with app.state.db.session() as s:
        assert s.execute(select(func.count(Patient.id))).scalar_one() == 1
        assert s.execute(select(func.count(AuditEntry.id))).scalar_one() == before + 1


def test_equity_report_suppresses_small_cells(as_role: dict[str, Any]) -> None:
    n = as_role["nurse"]
    for i in range(7):
        ok(n.post("/api/v1/patients", json={**PATIENT, "mrn": f"F{i}"}), 201)
    for i in range(2):
        ok(n.post("/api/v1/patients", json={**PATIENT, "mrn": f"M{i}", "sex": "male"}), 201)
    rep = ok(as_role["auditor"].get("/api/v1/reports/equity?dimension=sex&min_cell=5"))
    rows = {r["group"]: r for r in rep["rows"]}
    assert rows["male"]["patients"] is None  # 2 < 5: suppressed
    assert rows["female"]["patients"] is None  # complementary: total would reveal it
    r = as_role["auditor"].get("/api/v1/reports/equity?dimension=religion")
    assert r.status_code == 422 and r.json()["field"] == "dimension"
