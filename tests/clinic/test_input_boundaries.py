"""Issue 12, found by trying the clinic as a tired nurse and as an attacker (this session's
audit): request bodies are bounded before any login; times given with an offset keep it (stored
UTC) and times of readings and infusions are never in the future, through the API as through the
forms; the printable TCI report has the same target cap as the TCI pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from clinic_support import PASSWORD, TestClient, clock_at, dosed_session, ok, patient_with_plan

NINE_MIB = 9 * 1024 * 1024  # above the default limit (Settings.max_body_bytes, 8 MiB)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_oversized_request_bodies_are_refused_before_login(app: Any) -> None:
    """An anonymous client could make the server read and parse any amount of JSON or form
    data (a 100 MB login body took 400 MB of memory): above the limit the answer is 413."""
    anonymous = TestClient(app)
    body = b'{"username": "nurse", "password": "' + b"a" * NINE_MIB + b'"}'
    r = anonymous.post(
        "/api/v1/auth/login", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413, r.text[:200]
    form = b"username=nurse&password=" + b"a" * NINE_MIB
    r = anonymous.post(
        "/login",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 413
    # ordinary requests are untouched
    r = anonymous.post("/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD})
    assert r.status_code == 200


def test_observation_time_keeps_its_offset_and_is_never_in_the_future(
    app: Any, as_role: dict[str, Any]
) -> None:
    """A reading's ``taken_at`` with ``+01:00`` was stored as its wall-clock time (an hour
    off once read back), and one in 2031 was accepted."""
    _, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)  # dosed 2026-01-05 10:00 UTC
    n = as_role["nurse"]
    reading = {"minutes_after_dose": 30, "sbp_mmhg": 120, "dbp_mmhg": 80}
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/observations",
            json={**reading, "taken_at": "2026-01-05T11:30:00+01:00"},
        ),
        201,
    )
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/observations",
            json={**reading, "taken_at": "2026-01-05T10:31:00Z"},
        ),
        201,
    )
    stored = [o["taken_at"] for o in ok(n.get(f"/api/v1/sessions/{sid}"))["observations"]]
    assert stored == ["2026-01-05T10:30:00Z", "2026-01-05T10:31:00Z"]
    r = n.post(
        f"/api/v1/sessions/{sid}/observations",
        json={**reading, "taken_at": "2031-01-01T10:00:00Z"},
    )
    assert r.status_code == 422 and r.json()["field"] == "taken_at", r.text
    assert "in the future" in r.json()["detail"]
    assert len(ok(n.get(f"/api/v1/sessions/{sid}"))["observations"]) == 2


def test_infusion_times_keep_their_offset_order_and_range(
    app: Any, as_role: dict[str, Any]
) -> None:
    """``PATCH /sessions/{id}`` stored ``+01:00`` infusion times as wall-clock time, accepted
    the year 9999, a stop in 2031 and a stop before the start (the form refused the last one,
    the API did not)."""
    _, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)
    n = as_role["nurse"]
    ok(n.patch(f"/api/v1/sessions/{sid}", json={"infusion_start_at": "2026-01-05T11:00:00+01:00"}))
    assert ok(n.get(f"/api/v1/sessions/{sid}"))["infusion_start_at"] == "2026-01-05T10:00:00Z"
    for stop, expected in (
        ("9999-01-05T09:00:00Z", "year 9999 is out of range"),
        ("2031-01-05T09:00:00Z", "in the future"),
        ("2026-01-05T09:59:00Z", "before infusion_start_at"),
    ):
        r = n.patch(f"/api/v1/sessions/{sid}", json={"infusion_stop_at": stop})
        assert r.status_code == 422 and r.json()["field"] == "infusion_stop_at", r.text
        assert expected in r.json()["detail"]
    ok(n.patch(f"/api/v1/sessions/{sid}", json={"infusion_stop_at": "2026-01-05T10:40:00Z"}))
    got = ok(n.get(f"/api/v1/sessions/{sid}"))
    assert (got["infusion_start_at"], got["infusion_stop_at"]) == (
        "2026-01-05T10:00:00Z",
        "2026-01-05T10:40:00Z",
    )


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_tci_report_pdf_caps_target_steps(app: Any, as_role: dict[str, Any]) -> None:
    """The TCI and manual pages cap the target schedule at 20 steps; the PDF of a TCI plan
    (``manual=false``) planned any number."""
    from ketasim.clinic.web import tool_limits as lim

    steps = "; ".join(f"{1 + i % 3} ug/mL at {i}min" for i in range(1, 40))
    for manual in ("false", "true"):
        r = as_role["nurse"].get(
            "/tools/tci/report.pdf",
            params={"model": "domino-1982", "target": f"1 ug/mL; {steps}", "manual": manual},
        )
        assert r.status_code == 422, (manual, r.status_code)
        assert f"target: 40 steps; accepted at most {lim.MAX_TARGETS}" in r.text


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_refused_new_session_shows_the_plan_and_the_open_session(
    app: Any, as_role: dict[str, Any]
) -> None:
    """A nurse pressing "Open next session" while the last one is still open got a bare text
    telling her to POST to the API; now the plan page comes back with the refusal and a link to
    the open session (where it is completed or cancelled), the refusal escaped."""
    from guard_support import web_login

    _, plan_id = patient_with_plan(as_role)
    page, csrf = web_login(app, "nurse")
    r = page.post(f"/plans/{plan_id}/session", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    r = page.post(f"/plans/{plan_id}/session", data={"csrf_token": csrf})
    assert r.status_code == 409
    assert 'id="error"' in r.text and "still open" in r.text
    assert f'<a href="/sessions/{sid}">' in r.text and 'id="blocking-session"' in r.text
    assert 'id="plan-status"' in r.text  # the plan page itself, with its forms
    # the API answers the same refusal with the id of the open session
    r = as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id})
    assert r.status_code == 409 and r.json()["open_session_id"] == sid


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_refused_dose_form_keeps_what_the_nurse_typed(app: Any, as_role: dict[str, Any]) -> None:
    """A dose refused (here 84 mg on a 56 mg plan: a prescriber's override is needed) came back
    with the planned 56 mg, an empty lot and the start time reset to now: pressing the button
    again recorded the wrong dose time (the 40-min BP and the 2-hour discharge count from it)."""
    from guard_support import NORMAL_BP, web_login

    _, plan_id = patient_with_plan(as_role)
    with clock_at(as_role, "2026-01-05T09:30:00Z"):  # opened before the dose time typed
        sid = ok(as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)["id"]
        ok(as_role["nurse"].post(f"/api/v1/sessions/{sid}/predose", json=NORMAL_BP))
    page, csrf = web_login(app, "nurse")
    typed = {"dose_mg": "84", "lot_number": "LOT-9931", "start_at": "2026-01-05T09:40"}
    r = page.post(f"/sessions/{sid}/dose", data={"csrf_token": csrf, **typed})
    assert r.status_code == 409 and "plan.dose-above-signed" in r.text
    for name, value in typed.items():
        assert re.search(rf'<input id="{name}" name="{name}"[^>]*value="{value}"', r.text), name
    # a refused cancellation keeps its reason; the other forms are not filled from it
    r = page.post(f"/sessions/{sid}/cancel", data={"csrf_token": csrf, "reason": "too short"})
    assert r.status_code == 422 and 'name="reason" value="too short"' in r.text
    assert 'name="lot_number" value=""' in r.text
