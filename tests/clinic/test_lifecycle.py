"""Issue 12, item 2: cancel, amendments, REMS answers at discharge, signed sessions locked."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from clinic_support import REMS_ANSWERS, ok, patient_with_plan
from guard_support import DAY, complete_session, iso, open_checked, web_login
from sqlalchemy import select

from ketasim.clinic.db.models import AuditEntry

REASON = "patient unwell today with a fever; rescheduled"


def test_cancel_an_open_session_so_it_stops_blocking(as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    n = as_role["nurse"]
    sid = open_checked(as_role, plan_id)
    r = n.post("/api/v1/sessions", json={"plan_id": plan_id})
    assert r.status_code == 409  # the open session blocks the next one
    r = n.post(f"/api/v1/sessions/{sid}/cancel", json={"reason": "x"})
    assert r.status_code == 422 and r.json()["field"] == "reason"
    s = ok(n.post(f"/api/v1/sessions/{sid}/cancel", json={"reason": REASON}))
    assert s["status"] == "cancelled" and s["cancel_reason"] == REASON
    assert s["cancelled_at"].endswith("Z")
    nxt = ok(n.post("/api/v1/sessions", json={"plan_id": plan_id}), 201)
    assert nxt["number"] == 1  # a cancelled session does not count
    r = n.post(f"/api/v1/sessions/{sid}/observations", json={"minutes_after_dose": 5})
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    r = n.post(f"/api/v1/sessions/{sid}/cancel", json={"reason": REASON})
    assert r.status_code == 409


def test_a_dosed_session_cannot_be_cancelled(as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    ok(
        as_role["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": 56, "lot_number": "L", "start_at": iso(DAY)},
        )
    )
    r = as_role["nurse"].post(f"/api/v1/sessions/{sid}/cancel", json={"reason": REASON})
    assert r.status_code == 409 and "only an open session" in r.json()["detail"]


def test_discharge_asks_the_rems_answers_and_the_two_hours(as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    n = as_role["nurse"]
    sid = open_checked(as_role, plan_id, at=DAY)
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": 56, "lot_number": "L", "start_at": iso(DAY)},
        )
    )
    r = n.post(
        f"/api/v1/sessions/{sid}/discharge",
        json={
            "discharged_at": iso(DAY + dt.timedelta(minutes=130)),
            "criteria_met": True,
            **{k: v for k, v in REMS_ANSWERS.items() if k != "ready_to_leave_min"},
        },
    )
    assert r.status_code == 409 and r.json()["missing"] == ["ready_to_leave_min"]
    r = n.post(
        f"/api/v1/sessions/{sid}/discharge",
        json={
            **REMS_ANSWERS,
            "discharged_at": iso(DAY + dt.timedelta(minutes=90)),
            "criteria_met": True,
        },
    )
    assert r.status_code == 409 and r.json()["missing"][0].startswith("monitoring_minutes")
    assert ok(n.get(f"/api/v1/sessions/{sid}"))["status"] == "dosed"
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/discharge",
            json={
                **REMS_ANSWERS,
                "discharged_at": iso(DAY + dt.timedelta(minutes=130)),
                "criteria_met": True,
            },
        )
    )
    # missed BP checkpoints are alerted and can still be recorded: the session can be signed
    r = n.post(f"/api/v1/sessions/{sid}/sign")
    assert r.status_code == 409 and "bp_40_min" in r.json()["missing"]
    for minute, cp in ((0, "pre-dose"), (40, "40-min"), (125, "pre-discharge")):
        ok(
            n.post(
                f"/api/v1/sessions/{sid}/observations",
                json={
                    "minutes_after_dose": minute,
                    "checkpoint": cp,
                    "sbp_mmhg": 130,
                    "dbp_mmhg": 82,
                },
            ),
            201,
        )
    assert ok(n.post(f"/api/v1/sessions/{sid}/sign"))["status"] == "signed"


def test_signed_session_is_locked_and_corrected_by_amendment(
    app: Any, as_role: dict[str, Any]
) -> None:
    _, plan_id = patient_with_plan(as_role)
    n = as_role["nurse"]
    sid = complete_session(as_role, plan_id, DAY)
    ok(n.post(f"/api/v1/sessions/{sid}/sign"))
    writes = [
        ("patch", f"/api/v1/sessions/{sid}", {"ready_to_leave_min": 75}),
        ("post", f"/api/v1/sessions/{sid}/observations", {"minutes_after_dose": 200}),
        (
            "post",
            f"/api/v1/sessions/{sid}/adverse-events",
            {"category": "other", "severity": "mild", "description": "late headache"},
        ),
        (
            "post",
            f"/api/v1/sessions/{sid}/dose",
            {"dose_mg": 56, "lot_number": "L", "start_at": iso(DAY)},
        ),
        (
            "post",
            f"/api/v1/sessions/{sid}/discharge",
            {"discharged_at": iso(DAY), "criteria_met": True},
        ),
        (
            "post",
            f"/api/v1/sessions/{sid}/predose",
            {"sbp_mmhg": 120, "dbp_mmhg": 80, "heart_rate_bpm": 70, "spo2_percent": 98},
        ),
        ("post", f"/api/v1/sessions/{sid}/cancel", {"reason": REASON}),
    ]
    for method, url, body in writes:
        r = getattr(n, method)(url, json=body)
        assert r.status_code == 409, (url, r.text)
    r = n.patch(f"/api/v1/sessions/{sid}", json={"ready_to_leave_min": 75})
    assert "amendment" in r.json()["detail"]
    bad = n.post(
        f"/api/v1/sessions/{sid}/amendments",
        json={"field": "ready_to_leave_min", "value": 75, "reason": "x"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "reason"
    bad = n.post(
        f"/api/v1/sessions/{sid}/amendments",
        json={"field": "status", "value": "open", "reason": REASON},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "field"
    why = "typed 90 in error; the chart says ready at 75 min"
    a = ok(
        n.post(
            f"/api/v1/sessions/{sid}/amendments",
            json={"field": "ready_to_leave_min", "value": 75, "reason": why},
        ),
        201,
    )
    assert (a["original_value"], a["amended_value"], a["reason"]) == (90, 75, why)
    s = ok(n.get(f"/api/v1/sessions/{sid}"))
    assert s["status"] == "signed" and s["ready_to_leave_min"] == 75
    assert [x["original_value"] for x in s["amendments"]] == [90]
    with app.state.db.read() as db:
        amend = db.execute(select(AuditEntry).where(AuditEntry.action == "amend")).scalar_one()
    assert json.loads(amend.before)["ready_to_leave_min"] == 90
    assert json.loads(amend.after)["ready_to_leave_min"] == 75
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_pages_cancel_discharge_and_amend(app: Any, as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    page, csrf = web_login(app, "nurse")
    sid = open_checked(as_role, plan_id)
    assert 'id="cancel-session"' in page.get(f"/sessions/{sid}").text
    r = page.post(f"/sessions/{sid}/cancel", data={"csrf_token": csrf, "reason": "no"})
    assert r.status_code == 422 and "reason" in r.text
    r = page.post(f"/sessions/{sid}/cancel", data={"csrf_token": csrf, "reason": REASON})
    assert r.status_code == 200 and 'id="cancelled"' in r.text and REASON in r.text
    sid = open_checked(as_role, plan_id, at=DAY)
    ok(
        as_role["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": 56, "lot_number": "L", "start_at": iso(DAY)},
        )
    )
    r = page.post(
        f"/sessions/{sid}/discharge",
        data={"csrf_token": csrf, "discharged_at": "2026-01-05T10:10", "criteria_met": "yes"},
    )
    assert r.status_code == 409 and "ready_to_leave_min" in r.text
    answers = {
        k: ("yes" if v is True else "no" if v is False else str(v)) for k, v in REMS_ANSWERS.items()
    }
    r = page.post(
        f"/sessions/{sid}/discharge",
        data={
            "csrf_token": csrf,
            "discharged_at": "2026-01-05T10:10",
            "criteria_met": "yes",
            **answers,
        },
    )
    assert r.status_code == 200 and 'id="amend"' in r.text
    r = page.post(
        f"/sessions/{sid}/amend",
        data={
            "csrf_token": csrf,
            "field": "sedation_observed",
            "value": "yes",
            "reason": "sedation noted on the paper chart at 30 min",
        },
    )
    assert r.status_code == 200 and 'id="amendments"' in r.text
    assert ok(as_role["nurse"].get(f"/api/v1/sessions/{sid}"))["sedation_observed"] is True
