"""Issue 12, item 4: offsets accepted, stored UTC, shown and typed in the clinic's zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clinic_support import PASSWORD, REMS_ANSWERS, ROLES, login, ok, patient_with_plan
from guard_support import DAY, open_checked, web_login, zone_clinic

from ketasim.clinic.app import create_app
from ketasim.clinic.clock import ManualClock
from ketasim.clinic.db.models import TreatmentSession
from ketasim.clinic.services.base import Actor
from ketasim.clinic.services.timezones import from_clinic_clock, local, utc_naive
from ketasim.clinic.services.users import create_user
from ketasim.clinic.settings import Settings


@pytest.fixture
def paris(tmp_path: Path) -> Iterator[Any]:
    """A clinic in Europe/Paris (UTC+1 in January) on SQLite."""
    application = create_app(
        Settings(
            data_dir=tmp_path / "paris",
            plan_samples=0,
            clinic_tz="Europe/Paris",
            clock=ManualClock(),
        )
    )
    with application.state.db.session() as s:
        for role in ROLES:
            create_user(
                s,
                Actor(None, "test"),
                username=role,
                full_name=role.title(),
                role=role,
                password=PASSWORD,
            )
    yield application
    application.state.db.dispose()


def _stored_start(app: Any, sid: int) -> dt.datetime | None:
    with app.state.db.read() as db:
        return db.get(TreatmentSession, sid).dose_start_at  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "start", ["2026-01-05T09:00:00Z", "2026-01-05T10:00:00+01:00", "2026-01-05T04:00:00-05:00"]
)
def test_offsets_are_accepted_and_stored_utc(app: Any, as_role: dict[str, Any], start: str) -> None:
    _, plan_id = patient_with_plan(as_role)
    n = as_role["nurse"]
    sid = open_checked(as_role, plan_id, at=DAY)
    s = ok(
        n.post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": 56, "lot_number": "L", "start_at": start},
        )
    )
    assert s["dose_start_at"] == "2026-01-05T09:00:00Z"
    assert _stored_start(app, sid) == dt.datetime(2026, 1, 5, 9, 0)
    # a discharge with an offset (HTTP 500 before): compared with the UTC dose time
    r = n.post(
        f"/api/v1/sessions/{sid}/discharge",
        json={**REMS_ANSWERS, "discharged_at": "2026-01-05T09:30:00+01:00", "criteria_met": True},
    )
    assert r.status_code == 422 and r.json()["field"] == "discharged_at"  # 08:30Z < 09:00Z
    s = ok(
        n.post(
            f"/api/v1/sessions/{sid}/discharge",
            json={
                **REMS_ANSWERS,
                "discharged_at": "2026-01-05T12:10:00+01:00",
                "criteria_met": True,
            },
        )
    )
    assert s["discharged_at"] == "2026-01-05T11:10:00Z"
    assert ok(n.get(f"/api/v1/sessions/{sid}/rems-form"))["monitoring_minutes"] == 130.0


def test_naive_times_are_clinic_clock_time(paris: Any) -> None:
    c = {role: login(paris, role) for role in ROLES}
    _, plan_id = patient_with_plan(c)
    sid = open_checked(c, plan_id, at="2026-01-05T10:00:00")  # clinic clock time
    s = ok(
        c["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": 56, "lot_number": "L", "start_at": "2026-01-05T10:00:00"},
        )
    )
    assert s["dose_start_at"] == "2026-01-05T09:00:00Z"
    page, _ = web_login(paris, "nurse")
    html = page.get(f"/sessions/{sid}").text
    assert "started 2026-01-05 10:00 CET" in html and "Europe/Paris" in html


def test_forms_take_local_clock_time(paris: Any) -> None:
    c = {role: login(paris, role) for role in ROLES}
    _, plan_id = patient_with_plan(c)
    sid = open_checked(c, plan_id, at="2026-07-01T10:00")
    page, csrf = web_login(paris, "nurse")
    r = page.post(
        f"/sessions/{sid}/dose",
        data={
            "csrf_token": csrf,
            "dose_mg": "56",
            "lot_number": "L",
            "start_at": "2026-07-01T10:00",
        },
    )
    assert r.status_code == 200, r.text
    assert _stored_start(paris, sid) == dt.datetime(2026, 7, 1, 8, 0)  # CEST = UTC+2


def test_same_day_is_the_clinic_day(tmp_path: Path) -> None:
    """08:00Z and 15:00Z on 5 January are one day in Paris and two in Auckland (UTC+13)."""
    from guard_support import complete_session, iso

    for zone, refused in (("Europe/Paris", True), ("Pacific/Auckland", False)):
        application, c = zone_clinic(tmp_path, zone)
        _, plan_id = patient_with_plan(c)
        complete_session(c, plan_id, DAY)
        sid = open_checked(c, plan_id, at=DAY + dt.timedelta(hours=7))
        r = c["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": 56, "lot_number": "L", "start_at": iso(DAY + dt.timedelta(hours=7))},
        )
        assert (r.status_code == 409) is refused, (zone, r.text)
        application.state.db.dispose()


def test_conversions_and_setting() -> None:
    assert utc_naive(
        dt.datetime(2026, 1, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    ) == dt.datetime(2026, 1, 5, 9)
    assert utc_naive(dt.datetime(2026, 1, 5, 10)) == dt.datetime(2026, 1, 5, 10)
    assert from_clinic_clock(dt.datetime(2026, 3, 29, 12), "Europe/Paris") == dt.datetime(
        2026, 3, 29, 10
    )  # summer time from 29 March 2026
    shown = local(dt.datetime(2026, 1, 5, 23, 30), "Asia/Tokyo")
    assert shown is not None and shown.isoformat() == "2026-01-06T08:30:00+09:00"
    assert (
        Settings.from_env({"KETASIM_CLINIC_TZ": "America/New_York"}).clinic_tz == "America/New_York"
    )
    assert Settings.from_env({}).clinic_tz == "UTC"
    with pytest.raises(ValueError, match="KETASIM_CLINIC_TZ"):
        Settings(clinic_tz="Mars/Olympus")


def test_extreme_years_are_a_clear_422_not_a_500(as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = open_checked(as_role, plan_id)
    for start in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "1850-01-01T00:00"):
        r = as_role["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": 56, "lot_number": "L", "start_at": start},
        )
        assert r.status_code == 422 and r.json()["field"] == "start_at", r.text


def test_the_day_board_is_the_clinic_day(tmp_path: Path) -> None:
    """A dose at 10:00 clock time on 5 January in Auckland (UTC+13) is 21:00Z on 4 January: the
    board of 5 January in Auckland shows it; a UTC clinic's board of that day would not."""
    from clinic_support import dosed_session

    application, c = zone_clinic(tmp_path, "Pacific/Auckland")
    _, plan_id = patient_with_plan(c)
    sid = dosed_session(c, plan_id)  # start_at "2026-01-05T10:00:00", clinic clock time
    with application.state.db.read() as s:
        row = s.get(TreatmentSession, sid)
        assert row is not None and row.dose_start_at == dt.datetime(2026, 1, 4, 21, 0)
    jan5 = ok(c["nurse"].get("/api/v1/board?day=2026-01-05"))["chairs"]
    jan4 = ok(c["nurse"].get("/api/v1/board?day=2026-01-04"))["chairs"]
    assert [r["session_id"] for rows in jan5.values() for r in rows] == [sid]
    assert jan4 == {}
    application.state.db.dispose()
