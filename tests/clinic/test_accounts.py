"""Issue 12, item 5: login limiting by normalised user name and by client counting attempts in
flight, the password policy, password change and admin reset (forced change), idle timeout,
the last active admin, and the optional TOTP second factor."""

from __future__ import annotations

import threading
import time
from typing import Any

import pyotp
import pytest
from clinic_support import PASSWORD, TestClient, login, ok
from sqlalchemy import text

from ketasim.clinic import audit
from ketasim.clinic.auth import LoginRateLimiter

sqlite_only = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
NEW = "plum tree lantern 42"


def _login(c: TestClient, name: str, password: str, **extra: str) -> Any:
    return c.post("/api/v1/auth/login", json={"username": name, "password": password, **extra})


@sqlite_only
def test_padding_the_user_name_does_not_bypass_the_limit(app: Any) -> None:
    c = TestClient(app)
    limit = app.state.settings.login_max_failures
    for name in ["admin ", " admin", "ADMIN", "Admin  ", "\uff41\uff44\uff4d\uff49\uff4e"][:limit]:
        assert _login(c, name, "wrong-wrong").status_code == 400
    assert _login(c, "admin", PASSWORD).status_code == 429


@sqlite_only
def test_one_client_trying_many_user_names_is_limited(app: Any) -> None:
    c = TestClient(app)
    n = app.state.settings.login_client_max_failures
    for i in range(n):
        assert _login(c, f"nobody{i}", "wrong-wrong").status_code == 400
    r = _login(c, "nurse", PASSWORD)
    assert r.status_code == 429 and "try again" in r.json()["detail"]


def test_attempts_in_flight_count_before_they_fail() -> None:
    lim = LoginRateLimiter(5, 300, 20)
    admitted = [lim.begin("admin", "1.2.3.4") for _ in range(8)]
    assert admitted[:5] == [0.0] * 5 and all(w > 0 for w in admitted[5:])
    for _ in range(5):
        lim.end("admin", "1.2.3.4", ok=False)
    assert lim.begin("ADMIN ", "5.6.7.8") > 0  # blocked for the name from any client


@sqlite_only
def test_parallel_wrong_passwords_get_no_more_guesses(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketasim.clinic.services import users

    real = users.check_password

    def slow(stored: str, password: str) -> bool:
        time.sleep(0.3)  # every attempt overlaps the others
        return real(stored, password)

    monkeypatch.setattr(users, "check_password", slow)
    codes: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        r = _login(TestClient(app), "admin", "wrong-wrong")
        with lock:
            codes.append(r.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(400) <= app.state.settings.login_max_failures, codes
    assert codes.count(429) >= 20 - app.state.settings.login_max_failures


@pytest.mark.parametrize(
    "weak", ["aaaaaaaaaa", "password123", "1234567890", "qwertyuiop", "new.nurse2024"]
)
@sqlite_only
def test_common_and_guessable_passwords_are_refused(
    app: Any, as_role: dict[str, Any], weak: str
) -> None:
    r = as_role["admin"].post(
        "/api/v1/users",
        json={"username": "new.nurse", "full_name": "New Nurse", "role": "nurse", "password": weak},
    )
    assert r.status_code == 422 and r.json()["field"] == "password", r.text
    assert "guess" in r.json()["detail"] or "common" in r.json()["detail"]
    if weak.startswith("new.nurse"):  # guessable from this user's own name only
        weak = "Nurse User1"
    r = as_role["nurse"].post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": weak}
    )
    assert r.status_code == 422 and r.json()["field"] == "new_password"


def test_password_change(app: Any, as_role: dict[str, Any]) -> None:
    other = login(app, "nurse")
    c = as_role["nurse"]
    r = c.post(
        "/api/v1/auth/password", json={"current_password": "nope-nope-nope", "new_password": NEW}
    )
    assert r.status_code == 422 and r.json()["field"] == "current_password"
    ok(c.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW}))
    assert c.get("/api/v1/auth/me").status_code == 200  # this login stays
    assert other.get("/api/v1/auth/me").status_code == 401  # the others end
    assert _login(TestClient(app), "nurse", PASSWORD).status_code == 400
    assert _login(TestClient(app), "nurse", NEW).status_code == 200
    entries = ok(as_role["auditor"].get("/api/v1/audit"))
    change = [e for e in entries if e["action"] == "password-change"]
    assert change and "argon2" not in change[0]["after"]
    assert "password_hash_sha256" in change[0]["after"]
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True


def test_admin_reset_forces_a_change_at_next_login(app: Any, as_role: dict[str, Any]) -> None:
    users = ok(as_role["admin"].get("/api/v1/users"))
    nurse_id = next(u["id"] for u in users if u["username"] == "nurse")
    temp = "violet harbour 7391"
    r = ok(as_role["admin"].post(f"/api/v1/users/{nurse_id}/password", json={"new_password": temp}))
    assert r["must_change_password"] is True
    assert as_role["nurse"].get("/api/v1/auth/me").status_code == 401  # logins ended
    c = TestClient(app)
    out = ok(_login(c, "nurse", temp))
    assert out["must_change_password"] is True
    c.headers["Authorization"] = f"Bearer {out['token']}"
    c.cookies.clear()
    r = c.get("/api/v1/patients")
    assert r.status_code == 403 and "password change required" in r.json()["detail"]
    page = TestClient(app)
    page.post("/login", data={"username": "nurse", "password": temp, "next": "/"})
    r = page.get("/patients", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    ok(c.post("/api/v1/auth/password", json={"current_password": temp, "new_password": NEW}))
    assert c.get("/api/v1/patients").status_code == 200


def test_idle_and_absolute_timeouts(app: Any, as_role: dict[str, Any]) -> None:
    c, d = as_role["nurse"], as_role["prescriber"]
    idle = app.state.settings.session_idle_s
    with app.state.db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE auth_sessions SET last_seen_at = :t WHERE user_id = "
                "(SELECT id FROM users WHERE username = 'nurse')"
            ),
            {"t": audit.utcnow() - __import__("datetime").timedelta(seconds=idle + 5)},
        )
        conn.execute(
            text(
                "UPDATE auth_sessions SET expires_at = :t WHERE user_id = "
                "(SELECT id FROM users WHERE username = 'prescriber')"
            ),
            {"t": audit.utcnow() - __import__("datetime").timedelta(seconds=1)},
        )
    assert c.get("/api/v1/auth/me").status_code == 401
    assert d.get("/api/v1/auth/me").status_code == 401
    assert as_role["auditor"].get("/api/v1/auth/me").status_code == 200


def test_last_active_admin_cannot_be_deactivated(app: Any, as_role: dict[str, Any]) -> None:
    a = as_role["admin"]
    me = next(u for u in ok(a.get("/api/v1/users")) if u["username"] == "admin")
    r = a.patch(f"/api/v1/users/{me['id']}", json={"active": False})
    assert r.status_code == 409 and "last active admin" in r.json()["detail"]
    r = a.post(f"/admin/users/{me['id']}/active", data={"active": "no"})
    assert r.status_code == 409
    second = ok(
        a.post(
            "/api/v1/users",
            json={
                "username": "admin2",
                "full_name": "Second Admin",
                "role": "admin",
                "password": NEW,
            },
        ),
        201,
    )
    ok(a.patch(f"/api/v1/users/{second['id']}", json={"active": False}))
    assert a.patch(f"/api/v1/users/{me['id']}", json={"active": False}).status_code == 409


def test_totp_second_factor(app: Any, as_role: dict[str, Any]) -> None:
    assert as_role["nurse"].post("/api/v1/auth/totp").status_code == 403
    c = as_role["prescriber"]
    enrol = ok(c.post("/api/v1/auth/totp"))
    assert enrol["uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(enrol["secret"])
    r = c.post(
        "/api/v1/auth/totp/confirm", json={"code": "000000" if totp.now() != "000000" else "111111"}
    )
    assert r.status_code == 422 and r.json()["field"] == "code"
    assert ok(c.post("/api/v1/auth/totp/confirm", json={"code": totp.now()}))["totp_enabled"]
    r = _login(TestClient(app), "prescriber", PASSWORD)
    assert r.status_code == 400 and r.json()["field"] == "totp_code"
    # a code is good once; the next step's code is accepted too (clock drift)
    code = totp.at(time.time() + 30)
    assert _login(TestClient(app), "prescriber", PASSWORD, totp_code=code).status_code == 200
    r = _login(TestClient(app), "prescriber", PASSWORD, totp_code=code)
    assert r.status_code == 400 and r.json()["field"] == "totp_code"
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True


@sqlite_only
def test_csv_export_holds_no_secrets(app: Any, as_role: dict[str, Any], tmp_path: Any) -> None:
    from ketasim.clinic.services.export import export_tables

    ok(as_role["prescriber"].post("/api/v1/auth/totp"))  # a TOTP secret on the account
    with app.state.db.read() as s:
        files = export_tables(s, tmp_path, "csv")
    users = next(f for f in files if f.name == "users.csv").read_text()
    assert "argon2" not in users and "password_hash_sha256" in users
    assert "totp_secret_sha256" in users and ",totp_secret," not in users
