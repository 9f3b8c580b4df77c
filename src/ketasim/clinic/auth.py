"""Authentication and authorisation: argon2 password hashes, server-side login sessions behind an
HttpOnly SameSite cookie (or a bearer token for API clients), CSRF tokens, login rate limiting
and role checks.

CSRF: a request authenticated by the cookie that changes anything (POST, PUT, PATCH, DELETE) must
carry the login's CSRF token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header.
Bearer-token requests carry no ambient credential and need none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ketasim.clinic.db.models import ROLES, AuthSession, User, utcnow

__all__ = [
    "COOKIE_NAME",
    "CurrentUser",
    "LoginRateLimiter",
    "check_password",
    "create_login",
    "hash_password",
    "lookup_login",
    "revoke_login",
]

COOKIE_NAME = "ketasim_session"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH: list[str] = []


def dummy_check(password: str) -> None:
    """Spend the time of one verification (unknown user names cost the same as known ones)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password("not-a-password"))
    check_password(_DUMMY_HASH[0], password)


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user of a request."""

    id: int
    username: str
    full_name: str
    role: str
    csrf_token: str
    via_cookie: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_login(session: Session, user: User, ttl_s: int) -> tuple[str, str]:
    """Open a login for ``user``; return (session token, CSRF token). Only the token's hash is
    stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(AuthSession(token_hash=_digest(token), csrf_token=csrf, user_id=user.id,
                            expires_at=utcnow() + dt.timedelta(seconds=ttl_s)))
    session.execute(delete(AuthSession).where(AuthSession.expires_at < utcnow()))
    return token, csrf


def lookup_login(session: Session, token: str, *, via_cookie: bool) -> CurrentUser | None:
    """The active user of a session token, or None (unknown, expired, deactivated)."""
    row = session.execute(select(AuthSession).where(AuthSession.token_hash == _digest(token))
                          ).scalar_one_or_none()
    if row is None or row.expires_at < utcnow() or not row.user.active:
        return None
    u = row.user
    if u.role not in ROLES:
        return None
    return CurrentUser(u.id, u.username, u.full_name, u.role, row.csrf_token, via_cookie)


def revoke_login(session: Session, token: str) -> None:
    """End a login."""
    session.execute(delete(AuthSession).where(AuthSession.token_hash == _digest(token)))


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class LoginRateLimiter:
    """At most ``max_failures`` failed logins per (user name, client) in ``window_s`` seconds."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures[key]
        while q and q[0] < now - self.window_s:
            q.popleft()
        return q

    def blocked(self, username: str, client: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.monotonic()
        with self._lock:
            q = self._prune((username.lower(), client), now)
            if len(q) < self.max_failures:
                return 0.0
            return max(0.0, q[0] + self.window_s - now)

    def failed(self, username: str, client: str) -> None:
        """Count a failed attempt."""
        with self._lock:
            self._failures[(username.lower(), client)].append(time.monotonic())

    def succeeded(self, username: str, client: str) -> None:
        """Forget the failures of a user name and client after a good login."""
        with self._lock:
            self._failures.pop((username.lower(), client), None)
