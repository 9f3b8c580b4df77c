"""Issue 12: "No dose without a current consent at the moment of dosing"; "Dose times in the
future or outside the session are refused". Judged on the clinic's clock
(:mod:`ketasim.clinic.clock`), through the API, the session page's dose form and an amendment
of the dose's start time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from clinic_support import (
    CONSENT,
    CONSENT_AT,
    clinic_clock,
    clock_at,
    ok,
    patient_with_plan,
)
from guard_support import DAY, finish_session, iso, open_checked, web_login, zone_clinic

from ketasim.clinic.clock import (
    FileClock,
    ManualClock,
    OffsetClock,
    SystemClock,
    parse_clock_start,
)
from ketasim.clinic.settings import Settings

REASON = "nurse typed the time in UTC; the chart says 10:00 local"


def _dose(c: Any, sid: int, start: dt.datetime | str, **extra: object) -> Any:
    return c.post(
        f"/api/v1/sessions/{sid}/dose",
        json={
            "dose_mg": 56,
            "lot_number": "LOT-1",
            "start_at": start if isinstance(start, str) else iso(start),
            **extra,
        },
    )


def _form_dose(page: Any, csrf: str, sid: int, start_local: str) -> Any:
    return page.post(
        f"/sessions/{sid}/dose",
        data={"csrf_token": csrf, "dose_mg": "56", "lot_number": "L", "start_at": start_local},
    )


def _consent_id(c: dict[str, Any], pid: int) -> int:
    return int(ok(c["nurse"].get(f"/api/v1/patients/{pid}/consents"))[0]["id"])


def _sign(c: dict[str, Any], pid: int, document_id: int) -> None:
    ok(
        c["nurse"].post(
            f"/api/v1/patients/{pid}/consents",
            json={"document_id": document_id, "signed_by_name": "Test Patient-One"},
        ),
        201,
    )


def _not_dosed(c: dict[str, Any], sid: int) -> bool:
    return ok(c["nurse"].get(f"/api/v1/sessions/{sid}"))["dose_mg"] is None


def test_dose_before_the_consent_was_signed_is_refused(app: Any, as_role: dict[str, Any]) -> None:
    """The consent was signed at CONSENT_AT (2025-12-01 08:00Z); a dose typed a day earlier."""
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    early = CONSENT_AT.replace(tzinfo=None) - dt.timedelta(days=1)
    r = _dose(as_role["nurse"], sid, early)
    body = r.json()
    assert r.status_code == 409, r.text
    assert body["field"] == "start_at" and body["stops"] == ["consent.not-current"]
    cid = _consent_id(as_role, pid)
    # the refusal shows the window in force, in the clinic's zone (UTC here)
    assert f"consent {cid} in force 2025-12-01T08:00+00:00 to now" in body["detail"]
    # not even a prescriber's override
    r = _dose(as_role["prescriber"], sid, early, override_reason=REASON)
    assert r.status_code == 409 and r.json()["stops"] == ["consent.not-current"]
    # the page's dose form shares the rule
    page, csrf = web_login(app, "nurse")
    r = _form_dose(page, csrf, sid, "2025-11-30T08:00")
    assert r.status_code == 409 and "consent.not-current" in r.text and "start_at" in r.text
    assert _not_dosed(as_role, sid)
    ok(_dose(as_role["nurse"], sid, DAY))  # at a time under the consent: recorded


def test_dose_while_the_consent_was_withdrawn_is_refused(app: Any, as_role: dict[str, Any]) -> None:
    """Withdrawn at 07:50Z after the pre-dose check, signed again at 08:30Z: a dose at 08:00Z
    fell in the gap; one at 08:45Z is under the new consent."""
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)  # opened 07:45Z
    cid = _consent_id(as_role, pid)
    doc = ok(as_role["admin"].get("/api/v1/consent-documents"))[-1]
    with clock_at(as_role, DAY - dt.timedelta(minutes=10)):
        ok(as_role["nurse"].post(f"/api/v1/consents/{cid}/withdraw", json={"reason": "changed"}))
    with clock_at(as_role, DAY + dt.timedelta(minutes=30)):
        _sign(as_role, pid, doc["id"])
    r = _dose(as_role["nurse"], sid, DAY)
    assert r.status_code == 409 and r.json()["field"] == "start_at", r.text
    assert r.json()["stops"] == ["consent.not-current"]
    detail = r.json()["detail"]
    assert "2025-12-01T08:00+00:00 to 2026-01-05T07:50+00:00" in detail
    assert "2026-01-05T08:30+00:00 to now" in detail
    page, csrf = web_login(app, "nurse")
    r = _form_dose(page, csrf, sid, "2026-01-05T08:15")
    assert r.status_code == 409 and "consent.not-current" in r.text
    assert _not_dosed(as_role, sid)
    s = ok(_dose(as_role["nurse"], sid, DAY + dt.timedelta(minutes=45)))
    assert s["dose_start_at"] == "2026-01-05T08:45:00Z"


def test_dose_before_a_newer_consent_version_was_signed_is_refused(
    as_role: dict[str, Any],
) -> None:
    """A new version of the consent document published at 07:55Z supersedes the signed one:
    a dose at 08:00Z, before the patient signs the new version, is refused."""
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    with clock_at(as_role, DAY - dt.timedelta(minutes=5)):
        doc = ok(
            as_role["admin"].post(
                "/api/v1/consent-documents", json={**CONSENT, "body": CONSENT["body"] + " v2"}
            ),
            201,
        )
    r = _dose(as_role["nurse"], sid, DAY)
    assert r.status_code == 409 and r.json()["stops"] == ["consent.not-current"], r.text
    assert "to 2026-01-05T07:55+00:00" in r.json()["detail"]
    with clock_at(as_role, DAY + dt.timedelta(minutes=10)):
        _sign(as_role, pid, doc["id"])
    ok(_dose(as_role["nurse"], sid, DAY + dt.timedelta(minutes=15)))


def test_dose_before_the_session_was_opened_is_refused(app: Any, as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)  # opened 07:45Z
    r = _dose(as_role["nurse"], sid, DAY - dt.timedelta(hours=1))
    assert r.status_code == 422 and r.json()["field"] == "start_at", r.text
    detail = r.json()["detail"]
    assert "before session 1 was opened (2026-01-05T07:45+00:00)" in detail
    assert "accepted 2026-01-05T07:45+00:00 to now (UTC)" in detail
    page, csrf = web_login(app, "nurse")
    r = _form_dose(page, csrf, sid, "2026-01-05T07:00")
    assert r.status_code == 422 and "was opened" in r.text
    assert _not_dosed(as_role, sid)
    # the minute the session was opened is inside it (forms take minutes)
    ok(_dose(as_role["nurse"], sid, DAY - dt.timedelta(minutes=15)))


def test_dose_in_the_future_of_the_clinic_clock_is_refused(
    app: Any, as_role: dict[str, Any]
) -> None:
    """The clinic clock stands at 08:10Z: 08:20Z is in the future (5 min of clock tolerance)."""
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    with clock_at(as_role, DAY + dt.timedelta(minutes=10)):
        r = _dose(as_role["nurse"], sid, DAY + dt.timedelta(minutes=20))
        assert r.status_code == 422 and r.json()["field"] == "start_at"
        assert "in the future (now 2026-01-05T08:10+00:00, UTC)" in r.json()["detail"]
        page, csrf = web_login(app, "nurse")
        r = _form_dose(page, csrf, sid, "2026-01-05T08:20")
        assert r.status_code == 422 and "future" in r.text
        assert _not_dosed(as_role, sid)
        ok(_dose(as_role["nurse"], sid, DAY + dt.timedelta(minutes=8)))


def test_amended_dose_time_must_stay_in_the_session_and_under_consent(
    app: Any, as_role: dict[str, Any]
) -> None:
    """The dose start can be corrected by amendment (original kept), within the session:
    not after its discharge, not before it was opened, not in the future."""
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    ok(_dose(as_role["nurse"], sid, DAY))
    finish_session(as_role, sid, DAY)  # discharged 10:10Z
    n = as_role["nurse"]

    def amend(value: str) -> Any:
        return n.post(
            f"/api/v1/sessions/{sid}/amendments",
            json={"field": "dose_start_at", "value": value, "reason": REASON},
        )

    r = amend("2026-01-05T10:30:00Z")
    assert r.status_code == 422 and r.json()["field"] == "value", r.text
    assert "after session 1 was closed (2026-01-05T10:10+00:00)" in r.json()["detail"]
    r = amend("2026-01-05T07:00:00Z")
    assert r.status_code == 422 and "was opened" in r.json()["detail"]
    r = amend("2026-12-31T07:00:00")
    assert r.status_code == 422 and r.json()["field"] == "value"
    r = amend("not a time")
    assert r.status_code == 422 and r.json()["field"] == "value"
    a = ok(amend("2026-01-05T09:10:00+01:00"), 201)  # an offset: 08:10Z
    assert (a["original_value"], a["amended_value"]) == (
        "2026-01-05T08:00:00Z",
        "2026-01-05T08:10:00Z",
    )
    assert ok(n.get(f"/api/v1/sessions/{sid}"))["dose_start_at"] == "2026-01-05T08:10:00Z"


def test_amended_dose_time_is_kept_and_refused_without_consent(
    app: Any, as_role: dict[str, Any]
) -> None:
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    cid = _consent_id(as_role, pid)
    ok(_dose(as_role["nurse"], sid, DAY + dt.timedelta(minutes=20)))
    # withdrawn at 08:10Z, after the dose's real start: amending the start to 08:12Z is
    # refused (no consent then); to 08:05Z (typed UTC by mistake) it is kept with the original
    with clock_at(as_role, DAY + dt.timedelta(minutes=10)):
        ok(as_role["nurse"].post(f"/api/v1/consents/{cid}/withdraw", json={"reason": "changed"}))
    finish_session(as_role, sid, DAY + dt.timedelta(minutes=20))
    n = as_role["nurse"]
    r = n.post(
        f"/api/v1/sessions/{sid}/amendments",
        json={"field": "dose_start_at", "value": "2026-01-05T08:12:00Z", "reason": REASON},
    )
    assert r.status_code == 409 and r.json()["stops"] == ["consent.not-current"], r.text
    assert r.json()["field"] == "value"
    a = ok(
        n.post(
            f"/api/v1/sessions/{sid}/amendments",
            json={"field": "dose_start_at", "value": "2026-01-05T08:05:00Z", "reason": REASON},
        ),
        201,
    )
    assert a["original_value"] == "2026-01-05T08:20:00Z"
    assert a["amended_value"] == "2026-01-05T08:05:00Z"
    assert ok(n.get(f"/api/v1/sessions/{sid}"))["dose_start_at"] == "2026-01-05T08:05:00Z"
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True
    # the page's amendment form takes the clinic's clock time
    page, csrf = web_login(app, "nurse")
    r = page.post(
        f"/sessions/{sid}/amend",
        data={
            "csrf_token": csrf,
            "field": "dose_start_at",
            "value": "2026-01-05T07:00",
            "reason": REASON,
        },
    )
    assert r.status_code == 422 and "was opened" in r.text


def test_a_dose_documented_after_a_later_withdrawal_is_recorded_and_alerted(
    as_role: dict[str, Any],
) -> None:
    """Dosed at 08:00Z under consent, withdrawn at 08:20Z, recorded afterwards: consent at the
    moment of dosing is what counts, the dose given must be on the record, and the prescriber
    is told."""
    pid, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id, at=DAY)
    cid = _consent_id(as_role, pid)
    with clock_at(as_role, DAY + dt.timedelta(minutes=20)):
        ok(as_role["nurse"].post(f"/api/v1/consents/{cid}/withdraw", json={"reason": "changed"}))
    s = ok(_dose(as_role["nurse"], sid, DAY))
    assert s["status"] == "dosed" and s["dose_start_at"] == "2026-01-05T08:00:00Z"
    alerts = ok(as_role["prescriber"].get(f"/api/v1/alerts?patient_id={pid}"))
    ended = [a for a in alerts if a["kind"] == "consent-ended-since-dose"]
    assert len(ended) == 1 and f"consent {cid}" in ended[0]["message"]
    assert "withdrawn at 2026-01-05T08:20 UTC" in ended[0]["message"]
    # the next session cannot open without a new consent
    finish_session(as_role, sid, DAY)
    r = as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id})
    assert r.status_code == 409 and r.json()["field"] == "consent"


def test_a_clinic_zone_shows_the_window_in_local_time(tmp_path: Path) -> None:
    """In Europe/Paris (UTC+1 in January) the refusal's times are clock times of Paris."""
    app, c = zone_clinic(tmp_path, "Europe/Paris")
    _, plan_id = patient_with_plan(c)
    sid = open_checked(c, plan_id, at="2026-01-05T10:00")  # opened 09:45 Paris
    page, csrf = web_login(app, "nurse")
    r = _form_dose(page, csrf, sid, "2026-01-05T09:30")
    assert r.status_code == 422
    assert "2026-01-05T09:45+01:00" in r.text and "Europe/Paris" in r.text
    ok(_dose(c["nurse"], sid, "2026-01-05T10:00"))
    app.state.db.dispose()


def test_every_recorded_time_is_on_the_clinic_clock(app: Any, as_role: dict[str, Any]) -> None:
    """Rows and their audit entries follow the clinic clock, not the machine's."""
    pid, plan_id = patient_with_plan(as_role)
    consent = ok(as_role["nurse"].get(f"/api/v1/patients/{pid}/consents"))[0]
    assert consent["signed_at"] == "2025-12-01T08:00:00Z"
    plan = ok(as_role["prescriber"].get(f"/api/v1/plans/{plan_id}"))
    assert plan["signed_at"] == "2025-12-01T08:00:00Z"
    with clock_at(as_role, "2026-01-05T07:45:00Z"):
        sid = ok(as_role["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)["id"]
    from sqlalchemy import select

    from ketasim.clinic.db.models import AuditEntry, TreatmentSession

    with app.state.db.read() as db:
        row = db.get(TreatmentSession, sid)
        assert row is not None and row.created_at == dt.datetime(2026, 1, 5, 7, 45)
        entry = db.execute(
            select(AuditEntry).where(
                AuditEntry.entity == "treatment_sessions", AuditEntry.entity_id == str(sid)
            )
        ).scalar_one()
        assert entry.at.startswith("2026-01-05T07:45:00")
    assert isinstance(clinic_clock(as_role), ManualClock)


def test_clocks(tmp_path: Path) -> None:
    t = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    m = ManualClock(t)
    assert m.now() == t
    m.advance(dt.timedelta(minutes=5))
    assert m.now() == t + dt.timedelta(minutes=5)
    m.follow()
    assert abs(m.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    o = OffsetClock(t)
    assert dt.timedelta(0) <= o.now() - t < dt.timedelta(seconds=5)
    assert isinstance(Settings().clock, SystemClock)
    env = Settings.from_env({"KETASIM_CLINIC_CLOCK_START": "2026-01-05T09:00:00+01:00"})
    assert isinstance(env.clock, OffsetClock) and env.clock.start == t
    for bad in ("yesterday", "2026-01-05T08:00:00"):
        with pytest.raises(ValueError, match="KETASIM_CLINIC_CLOCK_START"):
            parse_clock_start(bad)
    f = FileClock(tmp_path / "clock")
    assert abs(f.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)  # no file yet
    (tmp_path / "clock").write_text(t.isoformat())
    assert dt.timedelta(0) <= f.now() - t < dt.timedelta(seconds=5)
    (tmp_path / "clock").write_text("2026-01-05T08:00:00")
    with pytest.raises(ValueError, match="KETASIM_CLINIC_CLOCK_FILE"):
        f.now()
    env = Settings.from_env({"KETASIM_CLINIC_CLOCK_FILE": str(tmp_path / "clock")})
    assert isinstance(env.clock, FileClock)
