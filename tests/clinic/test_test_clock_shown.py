"""A server whose clinic clock is not the machine's says so on every page, in /health and in its
log, so that a demo or test clock left on a clinic's server is seen at once."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from guard_support import web_login, zone_clinic

from ketasim.clinic.app import create_app
from ketasim.clinic.clock import ManualClock
from ketasim.clinic.settings import Settings


def test_a_test_clock_is_shown_on_every_page_and_in_health(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ketasim.clinic"):
        app, _ = zone_clinic(tmp_path, "Europe/Paris")
    assert any("not the machine's clock" in r.getMessage() for r in caplog.records)
    clock = app.state.settings.clock
    assert isinstance(clock, ManualClock)
    page, _ = web_login(app, "nurse")
    for path in ("/patients", "/board", "/alerts"):
        r = page.get(path)
        assert r.status_code == 200
        assert 'id="test-clock"' in r.text, path
        shown = clock.now().astimezone(ZoneInfo("Europe/Paris"))
        assert shown.strftime("%Y-%m-%d %H:%M") in r.text
    assert 'id="test-clock"' in TestClient(app).get("/login").text
    assert page.get("/health").json() == {"status": "ok", "clock": "test"}
    assert page.get("/api/v1/health").json() == {"status": "ok", "clock": "test"}
    app.state.db.dispose()


def test_the_machine_clock_shows_no_banner(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "d", plan_samples=0))
    c = TestClient(app)
    assert 'id="test-clock"' not in c.get("/login").text
    assert c.get("/health").json() == {"status": "ok", "clock": "system"}
    assert c.get("/api/v1/health").json() == {"status": "ok", "clock": "system"}
    app.state.db.dispose()
