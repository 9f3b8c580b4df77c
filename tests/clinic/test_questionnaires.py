"""Patient-reported outcomes: one-time links (201 once, 410 after), kiosk hand-over, item-level
answers validated per instrument, and the alerts they raise (PHQ-9 item 9, C-SSRS screen,
worsening by the minimal clinically important difference)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from clinic_support import PATIENT, ok

from ketasim.clinic.services.instruments import INSTRUMENTS, cssrs_risk, risk_signals, score


def _patient(c: dict[str, Any], mrn: str = "PRO-1") -> int:
    return int(ok(c["nurse"].post("/api/v1/patients", json={**PATIENT, "mrn": mrn}), 201)["id"])


def _link(c: dict[str, Any], pid: int, instrument: str = "phq9", **kw: Any) -> dict[str, Any]:
    return dict(
        ok(
            c["nurse"].post(
                f"/api/v1/patients/{pid}/questionnaire-links", json={"instrument": instrument, **kw}
            ),
            201,
        )
    )


def test_one_time_link_answers_once_and_is_stored_hashed(
    app: Any, as_role: dict[str, Any], client: Any
) -> None:
    pid = _patient(as_role)
    link = _link(as_role, pid)
    token = link["token"]
    assert link["url"] == f"/q/{token}" and len(token) >= 43  # 32 random bytes, base64url
    assert dt.datetime.fromisoformat(link["expires_at"]) > dt.datetime.now(dt.UTC).replace(
        tzinfo=None
    ) + dt.timedelta(hours=71)
    from sqlalchemy import select

    from ketasim.clinic.db.models import QuestionnaireLink

    with app.state.db.read() as s:
        row = s.execute(select(QuestionnaireLink)).scalar_one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.token_hash, str(row.id))
    page = client.get(f"/q/{token}")  # the patient's form, no login
    assert page.status_code == 200
    assert page.text.count('type="radio"') == 9 * 4 and "better off dead" in page.text
    answers = [2, 2, 1, 1, 0, 1, 2, 0, 1]
    r = client.post(f"/api/v1/q/{token}", json={"answers": answers})
    assert r.status_code == 201, r.text
    assert r.json()["total"] == sum(answers) == 10
    again = client.post(f"/api/v1/q/{token}", json={"answers": answers})
    assert again.status_code == 410
    assert client.get(f"/q/{token}").status_code == 410
    ratings = ok(as_role["nurse"].get(f"/api/v1/patients/{pid}/ratings"))
    assert len(ratings) == 1
    assert ratings[0]["scale"] == "PHQ-9" and ratings[0]["score"] == 10
    assert ratings[0]["items"] == answers and ratings[0]["source"] == "patient-link"
    alerts = ok(as_role["prescriber"].get(f"/api/v1/alerts?patient_id={pid}"))
    assert [a["kind"] for a in alerts] == ["suicide-risk"]
    assert "item 9" in alerts[0]["message"] and alerts[0]["severity"] == "stop"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_bad_answers_name_the_item_and_range(as_role: dict[str, Any], client: Any) -> None:
    pid = _patient(as_role)
    token = _link(as_role, pid, "gad7")["token"]
    r = client.post(f"/api/v1/q/{token}", json={"answers": [1] * 6})
    assert r.status_code == 422 and r.json()["field"] == "answers"
    assert "GAD-7 has 7 items" in r.json()["detail"]
    r = client.post(f"/api/v1/q/{token}", json={"answers": [0, 1, 4, 0, 0, 0, 0]})
    assert r.status_code == 422 and r.json()["field"] == "answers[2]"
    assert "0 to 3" in r.json()["detail"]
    # a refused answer does not spend the link
    assert client.post(f"/api/v1/q/{token}", json={"answers": [1] * 7}).status_code == 201
    assert client.post("/api/v1/q/unknown-token", json={"answers": [0]}).status_code == 404
    bad = as_role["nurse"].post(
        f"/api/v1/patients/{pid}/questionnaire-links", json={"instrument": "madrs"}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "instrument"  # clinician-rated


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_expired_link_is_gone(app: Any, as_role: dict[str, Any], client: Any) -> None:
    from sqlalchemy import update

    from ketasim.clinic.db.models import QuestionnaireLink

    pid = _patient(as_role)
    token = _link(as_role, pid, "phq9", expires_in_h=1)["token"]
    with app.state.db.session() as s:
        s.execute(update(QuestionnaireLink).values(expires_at=dt.datetime(2020, 1, 1)))
    r = client.post(f"/api/v1/q/{token}", json={"answers": [0] * 9})
    assert r.status_code == 410 and "expired" in r.json()["detail"]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_cssrs_screen_and_worsening_alerts(as_role: dict[str, Any], client: Any) -> None:
    pid = _patient(as_role)
    # question 2 "no": questions 3-5 are not asked and must stay 0
    token = _link(as_role, pid, "cssrs-screener")["token"]
    r = client.post(f"/api/v1/q/{token}", json={"answers": [1, 0, 1, 0, 0, 0, 0]})
    assert r.status_code == 422 and r.json()["field"] == "answers[2]"
    assert (
        client.post(f"/api/v1/q/{token}", json={"answers": [1, 0, 0, 0, 0, 0, 0]}).status_code
        == 201
    )
    alerts = ok(as_role["nurse"].get(f"/api/v1/alerts?patient_id={pid}"))
    assert [(a["kind"], a["severity"]) for a in alerts] == [("suicide-risk", "warn")]
    assert "low risk" in alerts[0]["message"]
    # GAD-7 5 -> 8 (+3): no alert; 8 -> 12 (+4 = MCID, Toussaint 2020): worsening alert
    for answers in ([1, 1, 1, 1, 1, 0, 0], [2, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 1, 1]):
        t = _link(as_role, pid, "gad7")["token"]
        ok(client.post(f"/api/v1/q/{t}", json={"answers": answers}), 201)
    kinds = [a["kind"] for a in ok(as_role["nurse"].get(f"/api/v1/alerts?patient_id={pid}"))]
    assert kinds.count("pro-worsening") == 1


def test_cssrs_risk_levels_follow_the_triage_guideline() -> None:
    """Columbia screener triage (Posner 2011 instrument): 4, 5 or behaviour in the past 3 months
    high; 3 or earlier behaviour moderate; 1-2 only low; all no: none."""
    cases = {
        (0, 0, 0, 0, 0, 0, 0): None,
        (1, 0, 0, 0, 0, 0, 0): "low",
        (1, 1, 0, 0, 0, 0, 0): "low",
        (1, 1, 1, 0, 0, 0, 0): "moderate",
        (0, 0, 0, 0, 0, 1, 0): "moderate",
        (1, 1, 1, 1, 0, 0, 0): "high",
        (1, 1, 0, 0, 1, 0, 0): "high",
        (0, 0, 0, 0, 0, 1, 1): "high",
    }
    inst = INSTRUMENTS["cssrs-screener"]
    for answers, level in cases.items():
        assert cssrs_risk(answers) == level, answers
        total = score(inst, answers)
        assert total == sum(answers[:6])
        signals = risk_signals(inst, answers, total, None)
        assert bool(signals) == (level is not None)


def test_instrument_ranges_are_the_published_ones() -> None:
    """Item counts and maxima: PHQ-9 9 x 0-3 = 27 (Kroenke 2001), GAD-7 7 x 0-3 = 21 (Spitzer
    2006), MADRS 10 x 0-6 = 60 (Montgomery 1979)."""
    for code, (n, top, total) in {
        "phq9": (9, 3, 27),
        "gad7": (7, 3, 21),
        "madrs": (10, 6, 60),
    }.items():
        inst = INSTRUMENTS[code]
        assert (len(inst.items), inst.item_max) == (n, top)
        assert score(inst, [top] * n) == total
    phq = INSTRUMENTS["phq9"]
    assert risk_signals(phq, [0] * 8 + [0], 0, None) == []
    # PHQ-9 worsening at 5 points (Lowe 2004), not at 4

    assert [s.kind for s in risk_signals(phq, [1] * 8 + [0], 8, 3)] == ["pro-worsening"]
    assert [s.kind for s in risk_signals(phq, [1] * 9, 9, 4)] == ["suicide-risk", "pro-worsening"]
    assert risk_signals(phq, [1] * 8 + [0], 8, 4) == []


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_madrs_items_are_clinician_rated(as_role: dict[str, Any]) -> None:
    pid = _patient(as_role)
    items = [4, 4, 3, 2, 1, 3, 3, 4, 2, 1]
    r = ok(
        as_role["prescriber"].post(
            f"/api/v1/patients/{pid}/ratings",
            json={"scale": "MADRS", "items": items, "taken_on": "2026-01-05"},
        ),
        201,
    )
    assert r["score"] == 27 and r["items"] == items and r["source"] == "staff"
    bad = as_role["prescriber"].post(
        f"/api/v1/patients/{pid}/ratings",
        json={"scale": "MADRS", "items": items, "score": 30, "taken_on": "2026-01-05"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "score"
    bad = as_role["prescriber"].post(
        f"/api/v1/patients/{pid}/ratings",
        json={"scale": "MADRS", "items": [7, *items[1:]], "taken_on": "2026-01-05"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "answers[0]"
    # the total-only entry of before keeps working
    ok(
        as_role["prescriber"].post(
            f"/api/v1/patients/{pid}/ratings",
            json={"scale": "MADRS", "score": 20, "taken_on": "2026-01-12"},
        ),
        201,
    )


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_kiosk_hand_over_locks_the_tablet(app: Any, as_role: dict[str, Any]) -> None:
    """The staff login ends at the hand-over: the tablet shows only the form, and leaving needs
    a staff login."""
    from clinic_support import PASSWORD, TestClient

    pid = _patient(as_role)
    tablet = TestClient(app)
    r = tablet.post(
        "/login",
        data={"username": "nurse", "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    board = tablet.get("/board")
    assert board.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', board.text)
    assert found is not None
    csrf = found.group(1)
    r = tablet.post(
        f"/patients/{pid}/questionnaire",
        data={"csrf_token": csrf, "instrument": "phq9", "mode": "kiosk"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/q/")
    form = tablet.get(r.headers["location"])
    assert form.status_code == 200 and "/patients" not in form.text  # no way out but the form
    assert tablet.get("/board", follow_redirects=False).status_code == 303  # staff login ended
    data = {f"item{i}": "1" for i in range(9)}
    done = tablet.post(r.headers["location"], data=data)
    assert done.status_code == 201 and 'id="kiosk-exit"' in done.text
    rating = ok(as_role["nurse"].get(f"/api/v1/patients/{pid}/ratings"))[0]
    assert rating["source"] == "kiosk" and rating["items"] == [1] * 9
    kinds = [a["kind"] for a in ok(as_role["nurse"].get(f"/api/v1/alerts?patient_id={pid}"))]
    assert kinds == ["suicide-risk"]
