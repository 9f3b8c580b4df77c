"""Priority 1: migrations, login (argon2, cookie flags, CSRF, rate limit), audit chain."""

from __future__ import annotations

from typing import Any

import pytest
from clinic_support import PASSWORD, PATIENT, TestClient, drop_audit_triggers, login, ok
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from ketasim.clinic import audit
from ketasim.clinic.auth import COOKIE_NAME
from ketasim.clinic.db.models import User


def test_migration_creates_every_table(app: Any) -> None:
    names = set(inspect(app.state.db.engine).get_table_names())
    assert {
        "users",
        "patients",
        "consents",
        "treatment_sessions",
        "audit_log",
        "alembic_version",
    } <= names


def test_passwords_are_argon2_hashed(app: Any) -> None:
    with app.state.db.session() as s:
        u = s.query(User).filter_by(username="nurse").one()
        assert u.password_hash.startswith("$argon2id$")
        assert PASSWORD not in u.password_hash


def test_cookie_is_httponly_samesite_and_csrf_is_required(app: Any) -> None:
    c = TestClient(app)
    r = c.post(
        "/login",
        data={"username": "nurse", "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and COOKIE_NAME in cookie
    # a write with the cookie but without the CSRF token is refused
    r = c.post("/patients", data={**PATIENT, "weight_kg": "70"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/api/v1/patients", json=PATIENT)
    assert r.status_code == 403
    csrf = ok(c.post("/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD}))[
        "csrf_token"
    ]
    r = c.post("/api/v1/patients", json=PATIENT, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text


def test_wrong_password_and_rate_limit(app: Any) -> None:
    c = TestClient(app)
    limit = app.state.settings.login_max_failures
    for _ in range(limit):
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong-wrong"})
        assert r.status_code == 400
    r = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429
    # another user name from the same client is not blocked
    assert (
        c.post("/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD}).status_code
        == 200
    )


def test_logout_revokes_the_token(app: Any) -> None:
    c = login(app, "nurse")
    assert c.get("/api/v1/auth/me").status_code == 200
    assert c.post("/api/v1/auth/logout").status_code == 200
    assert c.get("/api/v1/auth/me").status_code == 401


def test_every_write_is_audited_with_before_and_after(app: Any, as_role: dict[str, Any]) -> None:
    pid = ok(as_role["nurse"].post("/api/v1/patients", json=PATIENT), 201)["id"]
    ok(as_role["nurse"].patch(f"/api/v1/patients/{pid}", json={"weight_kg": 72.5}))
    entries = ok(as_role["auditor"].get("/api/v1/audit"))
    last = entries[-1]
    assert (last["username"], last["action"], last["entity"]) == ("nurse", "update", "patients")
    assert '"weight_kg":70.0' in last["before"] and '"weight_kg":72.5' in last["after"]
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True


@pytest.mark.parametrize("column,value", [("after", '{"weight_kg":999}'), ("username", "mallory")])
def test_tampering_is_detected_naming_the_entry(
    app: Any, as_role: dict[str, Any], column: str, value: str
) -> None:
    for i in range(3):
        ok(as_role["nurse"].post("/api/v1/patients", json={**PATIENT, "mrn": f"M{i}"}), 201)
    with app.state.db.engine.begin() as conn:
        drop_audit_triggers(conn)
        seq = conn.execute(
            text(
                "SELECT seq FROM audit_log WHERE entity = 'patients' ORDER BY seq LIMIT 1 OFFSET 1"
            )
        ).scalar_one()
        conn.execute(
            text(f"UPDATE audit_log SET {column} = :v WHERE seq = :s"), {"v": value, "s": seq}
        )
    with app.state.db.session() as s:
        _n, problems = audit.verify_chain(s)
    assert problems and problems[0].seq == seq
    assert f"entry {seq}" in problems[0].message
    r = ok(as_role["admin"].get("/api/v1/audit/verify"))
    assert r["intact"] is False and f"entry {seq}" in r["problems"][0]


def test_deleted_entry_is_detected(app: Any, as_role: dict[str, Any]) -> None:
    for i in range(3):
        ok(as_role["nurse"].post("/api/v1/patients", json={**PATIENT, "mrn": f"D{i}"}), 201)
    with app.state.db.engine.begin() as conn:
        drop_audit_triggers(conn)
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    with app.state.db.session() as s:
        _, problems = audit.verify_chain(s)
    assert any(p.seq == 3 for p in problems)


def test_hash_is_sha256_of_the_fields() -> None:
    import hashlib

    fields = [
        "0" * 64,
        "1",
        "2026-01-01T00:00:00",
        "7",
        "nurse",
        "create",
        "patients",
        "3",
        "",
        '{"id":3}',
    ]
    assert (
        audit.entry_hash(
            "0" * 64,
            1,
            "2026-01-01T00:00:00",
            7,
            "nurse",
            "create",
            "patients",
            "3",
            "",
            '{"id":3}',
        )
        == hashlib.sha256("\x1f".join(fields).encode()).hexdigest()
    )


def test_audit_rows_cannot_be_updated_or_deleted(app: Any, as_role: dict[str, Any]) -> None:
    ok(as_role["nurse"].post("/api/v1/patients", json=PATIENT), 201)
    for stmt in (
        "UPDATE audit_log SET username = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
    ):
        with pytest.raises(DBAPIError, match="append-only"), app.state.db.engine.begin() as conn:
            conn.execute(text(stmt))
    with app.state.db.session() as s:
        assert audit.verify_chain(s)[1] == []
