"""The event loop never waits for the database: a request's database transactions (reads and
durable writes) run in worker threads, never on the thread running the event loop."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from clinic_support import dosed_session, login, ok, patient_with_plan
from guard_support import web_login
from sqlalchemy.orm import Session

from ketasim.clinic.db import Database


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_database_work_runs_off_the_event_loop(
    app: Any, as_role: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _pid, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)
    calls: list[tuple[str, bool]] = []
    session, read = Database.session, Database.read

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    @contextmanager
    def checked_session(self: Database) -> Iterator[Session]:
        calls.append(("write", on_loop()))
        with session(self) as s:
            yield s

    @contextmanager
    def checked_read(self: Database) -> Iterator[Session]:
        calls.append(("read", on_loop()))
        with read(self) as s:
            yield s

    monkeypatch.setattr(Database, "session", checked_session)
    monkeypatch.setattr(Database, "read", checked_read)
    # the login form (password check, login row written), a page form that writes (vitals), a
    # page, and the first request of a new bearer token (a login-cache miss: lookup)
    web, csrf = web_login(app, "nurse")
    r = web.post(
        f"/sessions/{sid}/quick-vitals",
        data={
            "csrf_token": csrf,
            "clock": "10:40",
            "checkpoint": "40-min",
            "sbp_mmhg": "150",
            "dbp_mmhg": "85",
            "heart_rate_bpm": "80",
            "spo2_percent": "97",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert web.get(f"/sessions/{sid}").status_code == 200
    fresh = login(app, "nurse")
    obs = ok(fresh.get(f"/api/v1/sessions/{sid}"))["observations"]
    assert obs[-1]["sbp_mmhg"] == 150
    kinds = {kind for kind, _ in calls}
    assert kinds == {"read", "write"}, calls
    assert [c for c in calls if c[1]] == [], "database work on the event loop's thread"


def test_page_form_handlers_run_in_the_thread_pool() -> None:
    """Every page POST handler is a plain function (FastAPI runs it in the thread pool); the
    form reaches it through an ``async`` dependency."""
    from ketasim.clinic.web import account, admin, day, pages, sessions, tools

    handlers = [
        route
        for module in (account, admin, day, pages, sessions, tools)
        for route in module.router.routes
        if "POST" in getattr(route, "methods", ())
    ]
    assert len(handlers) >= 25
    on_loop = [r.path for r in handlers if inspect.iscoroutinefunction(r.endpoint)]
    assert on_loop == []
