"""Issue 12, item 1: the chair side applies the same ketasim.safety rules as ``ketasim plan``
(API and pages share the service layer)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from clinic_support import clock_at, ok, patient_with_plan
from guard_support import (
    DAY,
    NORMAL_BP,
    complete_session,
    finish_session,
    iso,
    open_checked,
    web_login,
)
from sqlalchemy import select

from ketasim.clinic.db.models import AuditEntry
from ketasim.clinic.services.base import Invalid
from ketasim.clinic.services.guardrails import (
    MIN_REASON_CHARS,
    substantive_reason,
)
from ketasim.regimens.protocols import available_protocols, schedule_doses
from ketasim.safety import check, default_rules, parse_patient_record

GOOD_REASON = "partial response after four sessions at 56 mg; tolerated well"


def _dose(c: Any, sid: int, dose_mg: float, start: dt.datetime, **extra: object) -> Any:
    return c.post(
        f"/api/v1/sessions/{sid}/dose",
        json={"dose_mg": dose_mg, "lot_number": "LOT-1", "start_at": iso(start), **extra},
    )


def test_overdose_is_refused_for_everyone(as_role: dict[str, Any]) -> None:
    """900 mg esketamine on a 56 mg plan with the rationale "x" (label maximum 84 mg)."""
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    r = _dose(as_role["nurse"], sid, 900, DAY, rationale="x")
    assert r.status_code == 409
    assert {"dose.above-label-max", "dose.not-device-multiple"} <= set(r.json()["stops"])
    assert "84" in r.json()["detail"]
    # a prescriber cannot override a label hard stop, whatever the reason
    r = _dose(as_role["prescriber"], sid, 112, DAY, override_reason=GOOD_REASON)
    assert r.status_code == 409 and r.json()["stops"] == ["dose.above-label-max"]
    s = ok(as_role["nurse"].get(f"/api/v1/sessions/{sid}"))
    assert s["status"] == "open" and s["dose_mg"] is None


def test_override_of_a_warning_needs_a_prescriber_and_a_reason(
    app: Any, as_role: dict[str, Any]
) -> None:
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    r = _dose(as_role["nurse"], sid, 84, DAY, rationale="x")
    # the rules' warning (84 mg is above the label's 56 mg first dose) and the signed plan's
    assert r.status_code == 409
    assert r.json()["needs_override"] == ["dose.first-dose", "plan.dose-above-signed"]
    r = _dose(as_role["nurse"], sid, 84, DAY, override_reason=GOOD_REASON)
    assert r.status_code == 403
    for weak in ("x", "a" * 40, "ok ok ok ok ok ok ok ok", "more effect wanted"):
        r = _dose(as_role["prescriber"], sid, 84, DAY, override_reason=weak)
        assert r.status_code == 422 and r.json()["field"] == "override_reason", weak
    s = ok(_dose(as_role["prescriber"], sid, 84, DAY, override_reason=GOOD_REASON))
    assert s["dose_mg"] == 84 and s["dose_override_reason"] == GOOD_REASON
    assert [(f["rule_id"], f["override"]) for f in s["dose_override_findings"]] == [
        ("dose.first-dose", "given"),
        ("plan.dose-above-signed", "given"),
    ]
    alerts = ok(as_role["prescriber"].get(f"/api/v1/alerts?patient_id={pid}"))
    over = [a for a in alerts if a["kind"] == "prescriber-override"]
    assert over and GOOD_REASON in over[0]["message"] and "prescriber" in over[0]["message"]
    with app.state.db.read() as db:
        entry = db.execute(select(AuditEntry).where(AuditEntry.action == "dose")).scalar_one()
    assert GOOD_REASON in entry.after and entry.username == "prescriber"


def test_reason_of_substance_minimum() -> None:
    assert MIN_REASON_CHARS == 20
    with pytest.raises(Invalid):
        substantive_reason("reason", "too short but words")  # 19 characters
    assert substantive_reason("reason", "  too  short but words!") == "too short but words!"
    with pytest.raises(Invalid):
        substantive_reason("reason", "x" * 19 + " y")


def _rules_finding(sbp: float, dbp: float) -> tuple[str, str, str]:
    """The BP finding of ``ketasim.safety.check`` itself for the same patient and dose."""
    protocol = next(p for p in available_protocols() if p.id == "esketamine-trd-us")
    rules = default_rules()
    record = parse_patient_record(
        {
            "age_years": 45.0,
            "weight_kg": 70.0,
            "sex": "female",
            "sbp_mmhg": sbp,
            "dbp_mmhg": dbp,
            "heart_rate_bpm": 70,
        },
        rules,
    )
    doses = schedule_doses(protocol, weight_kg=70.0)[:1]
    f = next(f for f in check(protocol, record, doses, rules=rules) if f.rule_id.startswith("bp."))
    return f.rule_id, f.severity, f.message


@pytest.mark.parametrize("bp", [(185, 112), (220, 130)])
def test_high_predose_bp_is_the_rules_warning_not_a_green_light(
    app: Any, as_role: dict[str, Any], bp: tuple[int, int]
) -> None:
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(
        as_role, plan_id, {**NORMAL_BP, "sbp_mmhg": bp[0], "dbp_mmhg": bp[1]}, at=DAY
    )
    s = ok(as_role["nurse"].get(f"/api/v1/sessions/{sid}"))
    found = [
        (f["rule_id"], f["severity"], f["message"])
        for f in s["predose_findings"]
        if f["rule_id"].startswith("bp.")
    ]
    assert found == [_rules_finding(*bp)]
    assert [f["override"] for f in s["predose_findings"] if f["rule_id"].startswith("bp.")] == [
        "required"
    ]
    # the same alert as a vitals row at this BP
    kinds = [a["kind"] for a in ok(as_role["nurse"].get(f"/api/v1/alerts?patient_id={pid}"))]
    assert "bp-above-threshold" in kinds
    page, _ = web_login(app, "nurse")
    html = page.get(f"/sessions/{sid}").text
    assert "No hard stop" not in html and 'class="caution" id="predose-result"' in html
    assert "bp.pre-dose-above-threshold" in html
    r = _dose(as_role["nurse"], sid, 56, DAY)
    assert r.status_code == 409 and "bp.pre-dose-above-threshold" in r.json()["needs_override"]
    ok(
        _dose(
            as_role["prescriber"],
            sid,
            56,
            DAY,
            override_reason="BP rechecked after rest; benefit outweighs a short rise",
        )
    )


def test_normal_predose_bp_stays_green(app: Any, as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id)
    page, _ = web_login(app, "nurse")
    assert 'class="ok" id="predose-result">No hard stop' in page.get(f"/sessions/{sid}").text


def test_two_esketamine_sessions_on_one_day_and_three_in_a_week(as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    complete_session(as_role, plan_id, DAY)
    sid = open_checked(as_role, plan_id, at=DAY + dt.timedelta(hours=7))
    r = _dose(as_role["nurse"], sid, 56, DAY + dt.timedelta(hours=7))
    assert r.status_code == 409 and r.json()["needs_override"] == ["schedule.same-day"]
    # on the plan's schedule (day 3) it goes through; a third session in 7 days does not
    ok(_dose(as_role["nurse"], sid, 56, DAY + dt.timedelta(days=3)))
    finish_session(as_role, sid, DAY + dt.timedelta(days=3))
    sid3 = open_checked(as_role, plan_id, at=DAY + dt.timedelta(days=5))
    r = _dose(as_role["nurse"], sid3, 56, DAY + dt.timedelta(days=5))
    assert r.status_code == 409 and r.json()["needs_override"] == ["frequency.sessions-per-week"]


def test_dose_times_in_the_future_or_outside_the_session(as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    complete_session(as_role, plan_id, DAY)
    sid = open_checked(as_role, plan_id, at=DAY + dt.timedelta(days=3))
    n = as_role["nurse"]
    r = _dose(n, sid, 56, dt.datetime(2031, 1, 1, 10))
    assert r.status_code == 422 and r.json()["field"] == "start_at"
    assert "future" in r.json()["detail"]
    r = _dose(n, sid, 56, DAY + dt.timedelta(minutes=30))  # during the previous session
    assert r.status_code == 422 and "outside this session" in r.json()["detail"]
    r = _dose(n, sid, 56, DAY + dt.timedelta(days=3), end_at=iso(DAY))
    assert r.status_code == 422 and r.json()["field"] == "end_at"
    assert ok(n.get(f"/api/v1/sessions/{sid}"))["dose_mg"] is None


def test_consent_withdrawn_mid_session_refuses_the_dose(app: Any, as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    consent = ok(as_role["nurse"].get(f"/api/v1/patients/{pid}/consents"))[0]
    with clock_at(as_role, DAY - dt.timedelta(minutes=5)):  # after the check, before the dose
        ok(
            as_role["nurse"].post(
                f"/api/v1/consents/{consent['id']}/withdraw", json={"reason": "patient withdrew"}
            )
        )
    r = _dose(as_role["nurse"], sid, 56, DAY)
    assert r.status_code == 409 and r.json()["stops"] == ["consent.not-current"]
    r = _dose(as_role["prescriber"], sid, 56, DAY, override_reason=GOOD_REASON)
    assert r.status_code == 409
    # the page's dose form shares the rule
    page, csrf = web_login(app, "nurse")
    r = page.post(
        f"/sessions/{sid}/dose",
        data={
            "csrf_token": csrf,
            "dose_mg": "56",
            "lot_number": "L",
            "start_at": "2026-01-05T08:00",
        },
    )
    assert r.status_code == 409 and "consent.not-current" in r.text
    assert ok(as_role["nurse"].get(f"/api/v1/sessions/{sid}"))["dose_mg"] is None


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_page_refuses_overdose_and_lets_a_prescriber_override_a_warning(
    app: Any, as_role: dict[str, Any]
) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    nurse, csrf = web_login(app, "nurse")
    form = {
        "csrf_token": csrf,
        "dose_mg": "900",
        "lot_number": "L",
        "start_at": "2026-01-05T08:00",
        "rationale": "x",
    }
    r = nurse.post(f"/sessions/{sid}/dose", data=form)
    assert r.status_code == 409 and "dose.above-label-max" in r.text
    r = nurse.post(f"/sessions/{sid}/dose", data={**form, "dose_mg": "84"})
    assert r.status_code == 409 and "plan.dose-above-signed" in r.text
    presc, pcsrf = web_login(app, "prescriber")
    assert 'id="override_reason"' in presc.get(f"/sessions/{sid}").text
    r = presc.post(
        f"/sessions/{sid}/dose",
        data={**form, "csrf_token": pcsrf, "dose_mg": "84", "override_reason": "x"},
    )
    assert r.status_code == 422 and "override_reason" in r.text
    r = presc.post(
        f"/sessions/{sid}/dose",
        data={**form, "csrf_token": pcsrf, "dose_mg": "84", "override_reason": GOOD_REASON},
    )
    assert r.status_code == 200 and 'id="override"' in r.text and GOOD_REASON in r.text


def test_scheduling_a_session_applies_the_same_rules(as_role: dict[str, Any]) -> None:
    """Opening a third esketamine session within 7 days: the rules' frequency warning at once."""
    _, plan_id = patient_with_plan(as_role)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    complete_session(as_role, plan_id, now - dt.timedelta(days=4))
    complete_session(as_role, plan_id, now - dt.timedelta(days=1))
    s = ok(as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)
    freq = [f for f in s["predose_findings"] if f["rule_id"] == "frequency.sessions-per-week"]
    assert [(f["severity"], f["override"]) for f in freq] == [("warn", "required")]
    assert "3 sessions within 7 days" in freq[0]["message"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_pages_refuse_same_day_future_times_and_writes_to_a_signed_session(
    app: Any, as_role: dict[str, Any]
) -> None:
    _, plan_id = patient_with_plan(as_role)
    first = complete_session(as_role, plan_id, DAY)
    ok(as_role["nurse"].post(f"/api/v1/sessions/{first}/sign"))
    sid = open_checked(as_role, plan_id, at=DAY + dt.timedelta(hours=7))
    page, csrf = web_login(app, "nurse")
    form = {"csrf_token": csrf, "dose_mg": "56", "lot_number": "L"}
    r = page.post(f"/sessions/{sid}/dose", data={**form, "start_at": "2031-01-01T10:00"})
    assert r.status_code == 422 and "start_at" in r.text and "future" in r.text
    r = page.post(f"/sessions/{sid}/dose", data={**form, "start_at": "2026-01-05T15:00"})
    assert r.status_code == 409 and "schedule.same-day" in r.text
    r = page.post(
        f"/sessions/{first}/vitals", data={"csrf_token": csrf, "minutes_after_dose": "200"}
    )
    assert r.status_code == 409 and "signed and locked" in r.text
    assert 'id="add-vitals"' not in page.get(f"/sessions/{first}").text
