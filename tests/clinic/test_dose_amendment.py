"""Issue 12: a mistyped ``dose_mg`` is corrected by amendment (original kept, audited), and the
amended dose passes the dose entry's rules again: an amendment is no way round the label's hard
stop (SPRAVATO US PI: 56 or 84 mg per session) or a prescriber's override."""

from __future__ import annotations

import json
from typing import Any

import pytest
from clinic_support import ok, patient_with_plan
from guard_support import DAY, complete_session, web_login
from sqlalchemy import select

from ketasim.clinic.db.models import AuditEntry

WHY = "typed 56 in error; the administration record says 84 mg"


def _amend(c: Any, sid: int, value: float, **extra: str) -> Any:
    return c.post(
        f"/api/v1/sessions/{sid}/amendments",
        json={"field": "dose_mg", "value": value, "reason": WHY, **extra},
    )


def test_amended_dose_is_checked_again_and_audited(app: Any, as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    n, p = as_role["nurse"], as_role["prescriber"]
    sid = complete_session(as_role, plan_id, DAY)
    ok(n.post(f"/api/v1/sessions/{sid}/sign"))
    # above the label maximum: the same hard stop as at entry, for a prescriber too
    for c in (n, p):
        r = _amend(c, sid, 900, override_reason="the chart is right and the patient tolerated it")
        assert r.status_code == 409 and "dose.above-label-max" in r.json()["stops"], r.text
    # out of range: 422 naming the value
    r = _amend(n, sid, 0)
    assert r.status_code == 422 and r.json()["field"] == "value"
    # above the signed plan's 56 mg: a warning that needs a prescriber's override
    r = _amend(n, sid, 84)
    assert r.status_code == 409 and "plan.dose-above-signed" in r.json()["needs_override"]
    r = _amend(n, sid, 84, override_reason="the administration record shows two devices used")
    assert r.status_code == 403
    s = ok(n.get(f"/api/v1/sessions/{sid}"))
    assert s["dose_mg"] == 56 and s["amendments"] == []  # nothing recorded by the refusals
    a = ok(_amend(p, sid, 84, override_reason="the administration record shows three devices"), 201)
    assert (a["original_value"], a["amended_value"]) == (56, 84)
    s = ok(n.get(f"/api/v1/sessions/{sid}"))
    assert s["status"] == "signed" and s["dose_mg"] == 84
    alerts = ok(p.get("/api/v1/alerts"))
    assert any(
        x["kind"] == "prescriber-override" and "amended to 84 mg" in x["message"] for x in alerts
    )
    with app.state.db.read() as db:
        amend = db.execute(select(AuditEntry).where(AuditEntry.action == "amend")).scalar_one()
    assert json.loads(amend.before)["dose_mg"] == 56
    assert json.loads(amend.after)["dose_mg"] == 84
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_amend_form_refuses_an_overdose(app: Any, as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = complete_session(as_role, plan_id, DAY)
    page, csrf = web_login(app, "nurse")
    form = {"csrf_token": csrf, "field": "dose_mg", "reason": WHY}
    r = page.post(f"/sessions/{sid}/amend", data={**form, "value": "900"})
    assert r.status_code == 409 and "dose.above-label-max" in r.text
    r = page.post(f"/sessions/{sid}/amend", data={**form, "value": "28"})
    assert r.status_code == 409 and "dose.not-allowed" in r.text  # 56 or 84 mg by the label
    page, csrf = web_login(app, "prescriber")
    override = "patient vomited after the first device; second device not used"
    r = page.post(
        f"/sessions/{sid}/amend",
        data={**form, "csrf_token": csrf, "value": "28", "override_reason": override},
    )
    assert r.status_code == 200 and 'id="amendments"' in r.text
    s = ok(as_role["nurse"].get(f"/api/v1/sessions/{sid}"))
    assert s["dose_mg"] == 28 and s["dose_override_reason"] == override
