"""The login limit kept in the database, so every server process on it counts the same attempts.

The same rule as :class:`ketasim.clinic.auth.LoginRateLimiter` (the in-process form): at most
``max_failures`` failed or in-flight attempts per normalised user name (from any client) and
``client_max_failures`` per client (for any user name) within ``window_s`` seconds. Each admitted
attempt is two ``login_attempts`` rows (one per key) counted *in flight* until it ends, so
parallel attempts on several processes count before any of them fails. Admission is serialised:
SQLite's immediate write lock, a transaction-level advisory lock on PostgreSQL. An attempt left in
flight by a process that died stops counting after :data:`STALE_INFLIGHT_S`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import defaultdict

from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.orm import Session

from ketasim.clinic.auth import normalise_username
from ketasim.clinic.db import Database
from ketasim.clinic.db.shared_state import LoginAttempt

__all__ = ["STALE_INFLIGHT_S", "StoredLoginLimiter"]

#: an attempt still "in flight" after this long belongs to a process that died (s)
STALE_INFLIGHT_S = 60.0
_PG_LOCK = 0x6B657461  # the advisory lock of login admission ("keta")


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode("utf-8", "replace")).hexdigest()


class StoredLoginLimiter:
    """Login limiting shared by every process on ``database`` (same methods as the in-process
    :class:`~ketasim.clinic.auth.LoginRateLimiter`)."""

    def __init__(
        self,
        database: Database,
        max_failures: int,
        window_s: float,
        client_max_failures: int = 20,
    ) -> None:
        self.database = database
        self.max_failures = max_failures
        self.client_max_failures = client_max_failures
        self.window_s = window_s
        # this process's admitted attempts, by (user key, client key)
        self._mine: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return _key("user", normalise_username(username)), _key("client", client)

    def _serialise(self, s: Session, now: float) -> None:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        s.execute(
            delete(LoginAttempt).where(
                or_(
                    and_(
                        LoginAttempt.state == "failed",
                        LoginAttempt.at_unix_s < now - self.window_s,
                    ),
                    and_(
                        LoginAttempt.state == "inflight",
                        LoginAttempt.at_unix_s < now - STALE_INFLIGHT_S,
                    ),
                )
            )
        )

    def _wait(self, s: Session, key: str, limit: int, now: float) -> float:
        rows = s.execute(
            select(LoginAttempt.state, LoginAttempt.at_unix_s)
            .where(LoginAttempt.key == key)
            .order_by(LoginAttempt.at_unix_s)
        ).all()
        failed = [at for state, at in rows if state == "failed"]
        inflight = len(rows) - len(failed)
        if len(failed) + inflight < limit:
            return 0.0
        if len(failed) >= limit:
            return max(1.0, failed[len(failed) - limit] + self.window_s - now)
        return 1.0  # busy with attempts in flight: retry shortly

    def _both(self, s: Session, user: str, cli: str, now: float) -> float:
        return max(
            self._wait(s, user, self.max_failures, now),
            self._wait(s, cli, self.client_max_failures, now),
        )

    def blocked(self, username: str, client: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.time()
        user, cli = self._keys(username, client)
        with self.database.session() as s:
            self._serialise(s, now)
            return self._both(s, user, cli, now)

    def begin(self, username: str, client: str) -> float:
        """Admit an attempt (0, now counted in flight on every process) or the seconds to
        wait."""
        now = time.time()
        user, cli = self._keys(username, client)
        attempt = secrets.token_hex(12)
        with self.database.session() as s:
            self._serialise(s, now)
            wait = self._both(s, user, cli, now)
            if wait == 0.0:
                s.add_all(
                    [
                        LoginAttempt(key=k, state="inflight", at_unix_s=now, attempt=attempt)
                        for k in (user, cli)
                    ]
                )
        if wait == 0.0:
            with self._lock:
                self._mine[(user, cli)].append(attempt)
        return wait

    def end(self, username: str, client: str, *, ok: bool) -> None:
        """Finish an admitted attempt: a failure counts against the name and the client; a
        success forgets the name's failures (the client's stay until they age out)."""
        now = time.time()
        user, cli = self._keys(username, client)
        with self._lock:
            mine = self._mine.get((user, cli))
            attempt = mine.pop(0) if mine else None
            if mine is not None and not mine:
                del self._mine[(user, cli)]
        with self.database.session() as s:
            self._serialise(s, now)
            if attempt is not None and ok:
                s.execute(delete(LoginAttempt).where(LoginAttempt.attempt == attempt))
            elif attempt is not None:
                s.execute(
                    update(LoginAttempt)
                    .where(LoginAttempt.attempt == attempt)
                    .values(state="failed", at_unix_s=now)
                )
            elif not ok:
                self._add_failures(s, user, cli, now)
            if ok:
                s.execute(
                    delete(LoginAttempt).where(
                        LoginAttempt.key == user, LoginAttempt.state == "failed"
                    )
                )

    @staticmethod
    def _add_failures(s: Session, user: str, cli: str, now: float) -> None:
        attempt = secrets.token_hex(12)
        s.add_all(
            [
                LoginAttempt(key=k, state="failed", at_unix_s=now, attempt=attempt)
                for k in (user, cli)
            ]
        )

    def failed(self, username: str, client: str) -> None:
        """Count a failed attempt that was not admitted through :meth:`begin`."""
        now = time.time()
        user, cli = self._keys(username, client)
        with self.database.session() as s:
            self._serialise(s, now)
            self._add_failures(s, user, cli, now)

    def succeeded(self, username: str, client: str) -> None:
        """Forget the failures of a user name after a good login."""
        user, _ = self._keys(username, client)
        with self.database.session() as s:
            self._serialise(s, time.time())
            s.execute(
                delete(LoginAttempt).where(LoginAttempt.key == user, LoginAttempt.state == "failed")
            )
