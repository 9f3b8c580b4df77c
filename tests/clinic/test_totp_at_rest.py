"""Issue 12: TOTP secrets are encrypted at rest with a key kept outside the database (derived from
the audit key), so a copy of the database alone does not give the second factor; migration 0006
seals secrets stored in clear (audited, the chain stays intact)."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from clinic_support import PASSWORD, TestClient, login, ok
from sqlalchemy import select

from ketasim.clinic import audit
from ketasim.clinic.app import create_app
from ketasim.clinic.db import Database, migrate
from ketasim.clinic.db.engine import MIGRATIONS_DIR
from ketasim.clinic.db.models import AuditEntry, User
from ketasim.clinic.security.secret_box import SecretBox, SecretBoxError
from ketasim.clinic.services.base import Actor, log
from ketasim.clinic.services.users import create_user
from ketasim.clinic.settings import Settings

sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def _stored(app: Any, name: str) -> str:
    with app.state.db.read() as s:
        value = s.execute(select(User.totp_secret).where(User.username == name)).scalar_one()
    assert isinstance(value, str)
    return value


def test_the_stored_secret_is_sealed_and_opens_only_with_the_key(app: Any) -> None:
    c = login(app, "prescriber")
    secret = ok(c.post("/api/v1/auth/totp"))["secret"]
    stored = _stored(app, "prescriber")
    assert stored.startswith("enc1:") and secret not in stored
    assert app.state.db.sessionmaker.kw["info"]["ketasim_secret_box"].open(stored) == secret
    with pytest.raises(SecretBoxError, match="does not open"):
        SecretBox(b"another-audit-key-" + b"x" * 32).open(stored)  # another clinic's key
    with pytest.raises(ValueError):  # nor is the stored value itself a usable TOTP secret
        pyotp.TOTP(stored).now()
    # enrolment and login still work through the sealed value
    assert ok(c.post("/api/v1/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()}))[
        "totp_enabled"
    ]
    code = pyotp.TOTP(secret).at(time.time() + 30)
    r = TestClient(app).post(
        "/api/v1/auth/login",
        json={"username": "prescriber", "password": PASSWORD, "totp_code": code},
    )
    assert r.status_code == 200, r.text
    assert ok(login(app, "auditor").get("/api/v1/audit/verify"))["intact"] is True


@sqlite_only
def test_a_copy_of_the_database_files_does_not_hold_the_secret(app: Any, settings: Any) -> None:
    secret = ok(login(app, "admin").post("/api/v1/auth/totp"))["secret"]
    app.state.access.flush()
    files = [p for p in settings.data_dir.iterdir() if p.name.startswith("clinic.sqlite3")]
    assert files, list(settings.data_dir.iterdir())
    for f in files:  # the database, its write-ahead log and shared memory: what a copy takes
        data = f.read_bytes()
        assert secret.encode() not in data and secret.lower().encode() not in data, f.name


def _upgrade_to(database: Database, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_migration_seals_secrets_stored_in_clear(settings: Settings) -> None:
    clear = pyotp.random_base32(32)
    database = Database(settings)
    _upgrade_to(database, "0005")  # a database of the previous release
    database.anchor()
    with database.session() as s:
        user = create_user(
            s,
            Actor(None, "test"),
            username="prescriber",
            full_name="P",
            role="prescriber",
            password=PASSWORD,
        )
        before = audit.snapshot(user)
        user.totp_secret, user.totp_enabled = clear, True  # as release 0005 stored it
        log(s, Actor(None, "test"), "totp-enable", user, before)
    with pytest.raises(RuntimeError, match="no audit key"):
        migrate(database.engine)  # a secret to seal needs the key
    migrate(database.engine, audit_key=database.audit_key)
    with database.read() as s:
        stored = s.execute(select(User.totp_secret)).scalar_one()
        _n, problems = audit.verify_chain(s)
        last = s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars()
        action = next(iter(last)).action
    database.dispose()
    assert stored.startswith("enc1:") and clear not in stored
    assert SecretBox(database.audit_key).open(stored) == clear
    assert problems == [] and action == "totp-seal", problems
    # the upgraded clinic logs in with the authenticator enrolled before the upgrade
    app = create_app(settings)
    r = TestClient(app).post(
        "/api/v1/auth/login",
        json={"username": "prescriber", "password": PASSWORD, "totp_code": pyotp.TOTP(clear).now()},
    )
    assert r.status_code == 200, r.text
    app.state.db.dispose()


def test_only_the_same_key_opens_a_sealed_secret() -> None:
    # the same database with a different data directory (another audit key) cannot open them
    a = SecretBox(b"k" * 64)
    assert SecretBox(b"k" * 64).open(a.seal("JBSWY3DPEHPK3PXP")) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(SecretBoxError):
        SecretBox(b"j" * 64).open(a.seal("JBSWY3DPEHPK3PXP"))
    with pytest.raises(SecretBoxError, match="in clear"):
        a.open("JBSWY3DPEHPK3PXP")
