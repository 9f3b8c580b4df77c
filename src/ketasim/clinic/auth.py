"""Authentication and authorisation: argon2 password hashes, server-side login sessions behind an
HttpOnly SameSite cookie (or a bearer token for API clients), CSRF tokens, login rate limiting
and role checks.

A login ends after ``session_idle_s`` without a request (idle timeout) and ``session_ttl_s`` after
it began (absolute timeout). Login limiting counts failed *and in-flight* attempts, per
normalised user name (any client) and per client (any user name), so neither padding the name
nor parallel attempts get more guesses.

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
import unicodedata
from collections import defaultdict, deque
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ketasim.clinic.db.models import ROLES, AuthSession, User, utcnow

__all__ = [
    "COOKIE_NAME",
    "CurrentUser",
    "LoginCache",
    "LoginRateLimiter",
    "check_password",
    "create_login",
    "hash_password",
    "lookup_login",
    "normalise_username",
    "revoke_login",
    "revoke_user_logins",
    "touch_login",
]

#: a login's last-seen time is written at most this often (s): the idle timeout's resolution
TOUCH_EVERY_S = 60.0

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
    must_change_password: bool = False
    #: the login's row id (for the idle-time update) and whether that update is due
    login_id: int = 0
    touch_due: bool = False


def normalise_username(name: str) -> str:
    """The canonical form of a user name as typed: Unicode NFKC, no surrounding space,
    lower case (``' ADMIN'``, ``'admin '`` and full-width ``'ａｄｍｉｎ'`` are all ``'admin'``)."""
    return unicodedata.normalize("NFKC", name).strip().lower()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_login(session: Session, user: User, ttl_s: int) -> tuple[str, str]:
    """Open a login for ``user``; return (session token, CSRF token). Only the token's hash is
    stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utcnow()  # the machine's clock: login lifetimes are security, not clinical, times
    session.add(
        AuthSession(
            created_at=now,
            token_hash=_digest(token),
            csrf_token=csrf,
            user_id=user.id,
            expires_at=now + dt.timedelta(seconds=ttl_s),
            last_seen_at=now,
        )
    )
    session.execute(delete(AuthSession).where(AuthSession.expires_at < utcnow()))
    return token, csrf


def lookup_login(
    session: Session, token: str, *, via_cookie: bool, idle_s: float | None = None
) -> CurrentUser | None:
    """The active user of a session token, or None (unknown, past its absolute or idle
    lifetime, deactivated)."""
    row = session.execute(
        select(AuthSession).where(AuthSession.token_hash == _digest(token))
    ).scalar_one_or_none()
    now = utcnow()
    if row is None or row.expires_at < now or not row.user.active:
        return None
    seen = row.last_seen_at or row.created_at
    if idle_s is not None and (now - seen).total_seconds() > idle_s:
        return None
    u = row.user
    if u.role not in ROLES:
        return None
    return CurrentUser(
        u.id,
        u.username,
        u.full_name,
        u.role,
        row.csrf_token,
        via_cookie,
        must_change_password=bool(u.must_change_password),
        login_id=row.id,
        touch_due=(now - seen).total_seconds() >= TOUCH_EVERY_S,
    )


def touch_login(session: Session, login_id: int) -> None:
    """Record that a login was used now (restarts its idle time)."""
    session.execute(
        update(AuthSession).where(AuthSession.id == login_id).values(last_seen_at=utcnow())
    )


def revoke_login(session: Session, token: str) -> None:
    """End a login."""
    LoginCache.invalidate_all()
    session.execute(delete(AuthSession).where(AuthSession.token_hash == _digest(token)))


def revoke_user_logins(session: Session, user_id: int, *, keep_token: str | None = None) -> None:
    """End every login of a user (but ``keep_token``'s)."""
    LoginCache.invalidate_all()
    stmt = delete(AuthSession).where(AuthSession.user_id == user_id)
    if keep_token:
        stmt = stmt.where(AuthSession.token_hash != _digest(keep_token))
    session.execute(stmt)


class LoginCache:
    """Logins looked up in the last ``ttl_s`` seconds (saves a database read per request).

    Ending a login or changing an account in this process (logout, password change or reset,
    deactivation) empties every cache at once; a change made by another process is seen within
    ``ttl_s`` seconds."""

    _generation = 0
    _gen_lock = threading.Lock()

    def __init__(self, ttl_s: float = 2.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[tuple[str, bool], tuple[CurrentUser, int, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def invalidate_all(cls) -> None:
        """Forget every cached login of every cache in this process."""
        with cls._gen_lock:
            cls._generation += 1

    def get(self, token: str, via_cookie: bool) -> CurrentUser | None:
        """The cached user of a token, if fresh."""
        key = (_digest(token), via_cookie)
        with self._lock:
            hit = self._entries.get(key)
        if hit is None:
            return None
        user, gen, until = hit
        if gen != LoginCache._generation or time.monotonic() > until:
            return None
        return user

    def put(self, token: str, via_cookie: bool, user: CurrentUser, generation: int) -> None:
        """Cache a user looked up while ``generation`` was current."""
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[(_digest(token), via_cookie)] = (
                user,
                generation,
                time.monotonic() + self.ttl_s,
            )

    @staticmethod
    def generation() -> int:
        """The current generation (read before a lookup)."""
        return LoginCache._generation


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class LoginRateLimiter:
    """At most ``max_failures`` failed or in-flight logins per normalised user name (from any
    client) and ``client_max_failures`` per client (for any user name) in ``window_s`` seconds.

    :meth:`begin` admits an attempt (or returns the seconds to wait) and counts it in flight
    until :meth:`end`; parallel attempts therefore count before any of them fails."""

    def __init__(self, max_failures: int, window_s: float, client_max_failures: int = 20) -> None:
        self.max_failures = max_failures
        self.client_max_failures = client_max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._inflight: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return "user:" + normalise_username(username), "client:" + client

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and q[0] < now - self.window_s:
            q.popleft()
        if not q:
            self._failures.pop(key, None)
            q = self._failures[key]
        return q

    def _wait(self, key: str, limit: int, now: float) -> float:
        q = self._prune(key, now)
        if len(q) + self._inflight.get(key, 0) < limit:
            return 0.0
        if len(q) >= limit:
            return max(1.0, q[len(q) - limit] + self.window_s - now)
        return 1.0  # busy with attempts in flight: retry shortly

    def blocked(self, username: str, client: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.monotonic()
        user, cli = self._keys(username, client)
        with self._lock:
            return max(
                self._wait(user, self.max_failures, now),
                self._wait(cli, self.client_max_failures, now),
            )

    def begin(self, username: str, client: str) -> float:
        """Admit an attempt (0, now counted in flight) or the seconds to wait."""
        now = time.monotonic()
        user, cli = self._keys(username, client)
        with self._lock:
            wait = max(
                self._wait(user, self.max_failures, now),
                self._wait(cli, self.client_max_failures, now),
            )
            if wait == 0.0:
                self._inflight[user] += 1
                self._inflight[cli] += 1
            return wait

    def end(self, username: str, client: str, *, ok: bool) -> None:
        """Finish an admitted attempt: a failure counts against the name and the client; a
        success forgets the name's failures (the client's stay until they age out)."""
        now = time.monotonic()
        user, cli = self._keys(username, client)
        with self._lock:
            for key in (user, cli):
                self._inflight[key] -= 1
                if self._inflight[key] <= 0:
                    del self._inflight[key]
            if ok:
                self._failures.pop(user, None)
            else:
                self._failures[user].append(now)
                self._failures[cli].append(now)

    def failed(self, username: str, client: str) -> None:
        """Count a failed attempt that was not admitted through :meth:`begin`."""
        now = time.monotonic()
        user, cli = self._keys(username, client)
        with self._lock:
            self._failures[user].append(now)
            self._failures[cli].append(now)

    def succeeded(self, username: str, client: str) -> None:
        """Forget the failures of a user name after a good login."""
        with self._lock:
            self._failures.pop(self._keys(username, client)[0], None)
