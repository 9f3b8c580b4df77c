"""Clinic fixtures: an app on a fresh SQLite database (and on PostgreSQL when
``KETASIM_TEST_DATABASE_URL`` is set), users of every role, logged-in clients."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

sys.path.insert(0, str(Path(__file__).parent))
from clinic_support import PASSWORD, ROLES, TestClient, login

from ketasim.clinic.app import create_app
from ketasim.clinic.clock import ManualClock
from ketasim.clinic.services.base import Actor
from ketasim.clinic.services.users import create_user
from ketasim.clinic.settings import Settings

PG_URL = os.environ.get("KETASIM_TEST_DATABASE_URL")


def _pg_settings(tmp_path: Path) -> Iterator[Settings]:
    """A fresh schema-less database per test: drop every table first."""
    from sqlalchemy import create_engine, text

    assert PG_URL is not None
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield Settings(data_dir=tmp_path, database_url=PG_URL, plan_samples=0, clock=ManualClock())


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh database (PostgreSQL skipped unless KETASIM_TEST_DATABASE_URL),
    with a clinic clock the tests can set (it follows the machine's until they do)."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("KETASIM_TEST_DATABASE_URL is not set (see scripts/postgres.sh)")
        yield from _pg_settings(tmp_path)
    else:
        yield Settings(
            data_dir=tmp_path / f"data-{uuid.uuid4().hex[:6]}", plan_samples=0, clock=ManualClock()
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters inside the test process (still argon2id)."""
    from argon2 import PasswordHasher

    from ketasim.clinic import auth

    monkeypatch.setattr(
        auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    monkeypatch.setattr(auth, "_DUMMY_HASH", [])


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """A clinic app with one user per role (user name = role)."""
    application = create_app(settings)
    with application.state.db.session() as s:
        for role in ROLES:
            create_user(
                s,
                Actor(None, "test"),
                username=role,
                full_name=f"{role.title()} User",
                role=role,
                password=PASSWORD,
            )
    yield application
    application.state.db.dispose()


@pytest.fixture
def client(app: Any) -> TestClient:
    """An anonymous client."""
    return TestClient(app)


@pytest.fixture
def as_role(app: Any) -> dict[str, TestClient]:
    """Logged-in clients by role."""
    return {role: login(app, role) for role in ROLES}
