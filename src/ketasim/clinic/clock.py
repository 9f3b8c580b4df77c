"""The clinic's clock: one source of "now" for every time the clinic records.

Rows (created, signed, withdrawn, recorded, ...), audit entries and the access log take
their time from the clock of the app (:attr:`Settings.clock`), which the database puts on each
of its sessions (``session.info[INFO_CLOCK]``); services ask :func:`clinic_now`. Rules about
time (a dose in the future, a dose before its session was opened or before the consent was
signed) are judged on the same clock, so a test or a demo that moves the clock moves all of it.

The machine's clock still times what must match the outside world or real elapsed time:
logins' absolute and idle lifetimes, TOTP codes, login rate-limit windows, background-job
heartbeats and the stamps of the signed checkpoint file.

Clocks: :class:`SystemClock` (the default), :class:`OffsetClock` (runs from a chosen instant;
``KETASIM_CLINIC_CLOCK_START``, for a demo), :class:`FileClock` (runs from the instant written
in a file, re-read when the file changes; ``KETASIM_CLINIC_CLOCK_FILE``, for a browser test that
moves the clock of a server in another process) and :class:`ManualClock` (stands still until
set or advanced; for tests in the process). Only the system clock belongs on a clinic's server:
whoever sets another clock sets the times of the clinic's records.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the clock itself needs no database (settings import it)
    from sqlalchemy.orm import Session

__all__ = [
    "INFO_CLOCK",
    "Clock",
    "FileClock",
    "ManualClock",
    "OffsetClock",
    "SystemClock",
    "clinic_now",
    "clock_of",
    "is_test_clock",
    "parse_clock_start",
    "stamp_new_rows",
]

#: the key of the clock in ``Session.info``
INFO_CLOCK = "ketasim.clinic.clock"


def _aware_utc(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: give the time zone (e.g. 2026-01-05T08:00:00Z)")
    return value.astimezone(dt.UTC)


class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> dt.datetime:
        """Now, aware UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


def is_test_clock(clock: Clock) -> bool:
    """Whether ``clock`` is anything but the machine's clock: every page then says so, and
    /health reports it, so that a server left on a demo or test clock is seen at once."""
    return not isinstance(clock, SystemClock)


class OffsetClock:
    """The machine's clock shifted so that it read ``start`` when the clock was made (it runs
    at the machine's pace from there)."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = _aware_utc(start, "start")
        self.offset = self.start - dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def __repr__(self) -> str:
        return f"OffsetClock({self.start.isoformat()})"


class FileClock:
    """The machine's clock shifted so that it read the instant written in ``path`` (ISO 8601
    with offset) when the file was last written; re-read when the file changes. A missing or
    empty file: the machine's clock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, dt.timedelta] | None = None

    def _offset(self) -> dt.timedelta:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return dt.timedelta(0)
        with self._lock:
            if self._seen is not None and self._seen[0] == stat.st_mtime_ns:
                return self._seen[1]
            text = self.path.read_text(encoding="utf-8").strip()
            offset = dt.timedelta(0)
            if text:
                try:
                    at = _aware_utc(dt.datetime.fromisoformat(text), "at")
                except ValueError as e:
                    raise ValueError(f"KETASIM_CLINIC_CLOCK_FILE {self.path}: {e}") from None
                offset = at - dt.datetime.fromtimestamp(stat.st_mtime_ns / 1e9, dt.UTC)
            self._seen = (stat.st_mtime_ns, offset)
            return offset

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self._offset()

    def __repr__(self) -> str:
        return f"FileClock({str(self.path)!r})"


class ManualClock:
    """A clock that stands at ``at`` until it is :meth:`set` or :meth:`advance`-d (tests);
    ``at`` None: it follows the machine's clock until it is set (and again after
    :meth:`follow`)."""

    def __init__(self, at: dt.datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._at = None if at is None else _aware_utc(at, "at")

    def now(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) if self._at is None else self._at

    def set(self, at: dt.datetime) -> None:
        """Stand at ``at`` (aware; a naive value is taken as UTC)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        with self._lock:
            self._at = at.astimezone(dt.UTC)

    def follow(self) -> None:
        """Follow the machine's clock again (as if never set)."""
        with self._lock:
            self._at = None

    def advance(self, delta: dt.timedelta) -> None:
        """Move on by ``delta`` from where it stands."""
        self.set(self.now() + delta)

    def __repr__(self) -> str:
        return f"ManualClock({self._at!r})"


SYSTEM_CLOCK = SystemClock()


def parse_clock_start(text: str) -> OffsetClock:
    """``KETASIM_CLINIC_CLOCK_START``: an ISO 8601 instant with its offset
    (``2026-01-05T08:00:00Z``)."""
    try:
        start = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"KETASIM_CLINIC_CLOCK_START: {text!r} is not an ISO 8601 time; "
            "give e.g. 2026-01-05T08:00:00Z"
        ) from None
    try:
        return OffsetClock(start)
    except ValueError as e:
        raise ValueError(f"KETASIM_CLINIC_CLOCK_START: {e}") from None


def clock_of(session: Session) -> Clock:
    """The clock of the app that opened ``session`` (the machine's without one)."""
    clock = session.info.get(INFO_CLOCK)
    return clock if clock is not None else SYSTEM_CLOCK


def clinic_now(session: Session) -> dt.datetime:
    """Now on the clinic's clock, naive UTC (as the database stores it), to the microsecond."""
    return clock_of(session).now().replace(tzinfo=None)


_STAMPED: dict[type, tuple[str, ...]] = {}


def _stamped_columns(cls: type) -> tuple[str, ...]:
    """The attributes of ``cls`` that are time columns with a "now" default (cached)."""
    keys = _STAMPED.get(cls)
    if keys is None:
        from sqlalchemy import DateTime

        keys = _STAMPED[cls] = tuple(
            c.key
            for c in cls.__table__.columns  # type: ignore[attr-defined]
            if c.default is not None
            and getattr(c.default, "is_callable", False)
            and isinstance(c.type, DateTime)
        )
    return keys


def _stamp(session: Session, _context: object, _instances: object) -> None:
    now: dt.datetime | None = None
    for obj in session.new:
        for key in _stamped_columns(type(obj)):
            if getattr(obj, key, None) is None:
                now = now or clinic_now(session)
                setattr(obj, key, now)


def stamp_new_rows() -> None:
    """Give new rows their time columns with a "now" default (``created_at``, ``signed_at``,
    ``recorded_at``, ...) from the clock of their session, not the machine's (once for every
    ORM session: the group commit's sessions are not made by a ``sessionmaker``)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if not event.contains(Session, "before_flush", _stamp):
        event.listen(Session, "before_flush", _stamp)
