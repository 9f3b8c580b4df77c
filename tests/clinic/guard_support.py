"""Helpers of the guardrail, lifecycle and time-zone tests (issue 12)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from clinic_support import (
    OPENED_BEFORE,
    PASSWORD,
    REMS_ANSWERS,
    ROLES,
    TestClient,
    as_utc_time,
    clinic_zone_of,
    clock_at,
    login,
    ok,
)

NORMAL_BP = {"sbp_mmhg": 126, "dbp_mmhg": 80, "heart_rate_bpm": 70, "spo2_percent": 98}
DAY = dt.datetime(2026, 1, 5, 8, 0)  # a Monday, in the past: dose times are never in the future


def iso(t: dt.datetime) -> str:
    """UTC with an explicit ``Z``."""
    return t.isoformat() + "Z"


def open_checked(
    c: dict[str, Any],
    plan_id: int,
    bp: dict[str, float] | None = None,
    *,
    at: dt.datetime | str | None = None,
) -> int:
    """An open session through the pre-dose check, done :data:`OPENED_BEFORE` the dose time
    ``at`` on the clinic clock (None: now; naive text is the clinic's clock time, a naive
    datetime UTC)."""
    if at is None:
        return _open_checked(c, plan_id, bp)
    with clock_at(c, as_utc_time(at, clinic_zone_of(c)) - OPENED_BEFORE):
        return _open_checked(c, plan_id, bp)


def _open_checked(c: dict[str, Any], plan_id: int, bp: dict[str, float] | None) -> int:
    sid = ok(c["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)["id"]
    ok(c["nurse"].post(f"/api/v1/sessions/{sid}/predose", json=bp or NORMAL_BP))
    return sid


def complete_session(
    c: dict[str, Any], plan_id: int, start: dt.datetime, dose_mg: float = 56.0
) -> int:
    """A session dosed at ``start`` (UTC), monitored with the three BP checkpoints and
    discharged after 130 min with the REMS answers; returns its id."""
    sid = open_checked(c, plan_id, at=start)
    ok(
        c["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": dose_mg, "lot_number": "LOT-7", "start_at": iso(start)},
        )
    )
    finish_session(c, sid, start)
    return sid


def finish_session(c: dict[str, Any], sid: int, start: dt.datetime) -> None:
    """The three BP checkpoints and a discharge 130 min after ``start`` with the REMS answers."""
    n = c["nurse"]
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
    ok(
        n.post(
            f"/api/v1/sessions/{sid}/discharge",
            json={
                **REMS_ANSWERS,
                "discharged_at": iso(start + dt.timedelta(minutes=130)),
                "criteria_met": True,
            },
        )
    )


def web_login(app: Any, role: str) -> tuple[TestClient, str]:
    """A browser-like client logged in by the login form, and its CSRF token."""
    assert role in ROLES
    c = TestClient(app)
    r = c.post("/login", data={"username": role, "password": PASSWORD, "next": "/patients"})
    assert r.status_code == 200, r.text
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m, "no CSRF token on the page"
    return c, m.group(1)


def zone_clinic(tmp_path: Path, zone: str) -> tuple[Any, dict[str, TestClient]]:
    """A clinic app on SQLite in time zone ``zone`` with a settable clinic clock and one user
    per role, and its logged-in API clients by role (dispose of ``app.state.db`` after)."""
    from ketasim.clinic.app import create_app
    from ketasim.clinic.clock import ManualClock
    from ketasim.clinic.services.base import Actor
    from ketasim.clinic.services.users import create_user
    from ketasim.clinic.settings import Settings

    app = create_app(
        Settings(
            data_dir=tmp_path / zone.replace("/", "-"),
            plan_samples=0,
            clinic_tz=zone,
            clock=ManualClock(),
        )
    )
    with app.state.db.session() as s:
        for role in ROLES:
            create_user(
                s, Actor(None, "t"), username=role, full_name=role, role=role, password=PASSWORD
            )
    return app, {role: login(app, role) for role in ROLES}
