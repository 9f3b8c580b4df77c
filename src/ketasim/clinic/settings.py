"""Clinic settings: where the data live and how the server behaves (read once, passed around)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ketasim.clinic.clock import Clock, FileClock, SystemClock, parse_clock_start

__all__ = ["Settings"]


def default_data_dir() -> Path:
    """``$KETASIM_DATA_DIR`` or ``~/.ketasim``."""
    env = os.environ.get("KETASIM_DATA_DIR")
    return Path(env) if env else Path.home() / ".ketasim"


@dataclass(frozen=True)
class Settings:
    """Configuration of one clinic app.

    ``database_url`` overrides the SQLite file ``<data_dir>/clinic.sqlite3``; PostgreSQL is
    ``postgresql+psycopg://user:password@host/db``. ``cookie_secure`` marks the session cookie
    ``Secure`` (set it when served over HTTPS). Login rate limit: at most
    ``login_max_failures`` failed attempts per user name and client within
    ``login_window_s`` seconds. ``session_ttl_s``: absolute lifetime of a login (s).
    ``clinic_tz``: the clinic's IANA time zone (``KETASIM_CLINIC_TZ``, default UTC): pages show
    and forms take clock time of this zone; records are stored in UTC.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    cookie_secure: bool = False
    session_ttl_s: int = 8 * 3600
    login_max_failures: int = 5
    login_window_s: int = 300
    bp_alert_sbp_mmhg: float = 180.0
    bp_alert_dbp_mmhg: float = 110.0
    plan_samples: int = 30
    migrate: bool = True
    clinic_tz: str = "UTC"
    #: signed audit checkpoints (default ``<data_dir>/audit-checkpoints.log``); put it on
    #: another host's file system for tamper evidence against someone who owns the server
    audit_checkpoints: Path | None = None
    #: idle lifetime of a login (s); ``session_ttl_s`` is its absolute lifetime
    session_idle_s: int = 30 * 60
    #: failed or concurrent logins from one client (any user name) within ``login_window_s``
    login_client_max_failures: int = 20
    #: the virtual-trial page's run-time limit per job (s)
    trial_timeout_s: float = 120.0
    #: the largest request body (bytes) read, before any login: larger ones are answered 413
    #: unread (an engineering limit with room for a FHIR bundle of a long course, not a
    #: figure from a source)
    max_body_bytes: int = 8 * 1024 * 1024
    #: the clinic's clock (:mod:`ketasim.clinic.clock`): every recorded time and every rule
    #: about time (a dose in the future, before its session or its consent) reads it;
    #: ``KETASIM_CLINIC_CLOCK_START`` (ISO 8601 with offset) starts a running clock there;
    #: ``KETASIM_CLINIC_CLOCK_FILE`` runs it from the instant written in that file (tests)
    clock: Clock = field(default_factory=SystemClock, compare=False)

    def __post_init__(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.clinic_tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"KETASIM_CLINIC_TZ: unknown time zone {self.clinic_tz!r}; give an "
                "IANA name such as UTC or Europe/Paris"
            ) from None

    @property
    def url(self) -> str:
        """The SQLAlchemy database URL in use."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'clinic.sqlite3').as_posix()}"

    @property
    def checkpoint_path(self) -> Path:
        """Where the signed audit checkpoints are appended."""
        return self.audit_checkpoints or self.data_dir / "audit-checkpoints.log"

    @property
    def is_sqlite(self) -> bool:
        """True when the records live in SQLite."""
        return self.url.startswith("sqlite")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        data_dir: Path | None = None,
        **overrides: object,
    ) -> Settings:
        """Settings from the environment: ``DATABASE_URL``, ``KETASIM_DATA_DIR``,
        ``KETASIM_COOKIE_SECURE`` (1/0), ``KETASIM_CLINIC_TZ`` (IANA name),
        ``KETASIM_CLINIC_CLOCK_START`` (ISO 8601 with offset: the clinic's clock starts there),
        ``KETASIM_CLINIC_CLOCK_FILE`` (the clinic's clock runs from the instant in that file)."""
        env = os.environ if env is None else env
        kwargs: dict[str, object] = {}
        if data_dir is not None:
            kwargs["data_dir"] = data_dir
        elif env.get("KETASIM_DATA_DIR"):
            kwargs["data_dir"] = Path(env["KETASIM_DATA_DIR"])
        if env.get("DATABASE_URL"):
            kwargs["database_url"] = env["DATABASE_URL"]
        if env.get("KETASIM_CLINIC_TZ"):
            kwargs["clinic_tz"] = env["KETASIM_CLINIC_TZ"]
        if env.get("KETASIM_AUDIT_CHECKPOINTS"):
            kwargs["audit_checkpoints"] = Path(env["KETASIM_AUDIT_CHECKPOINTS"])
        if env.get("KETASIM_CLINIC_CLOCK_START"):
            kwargs["clock"] = parse_clock_start(env["KETASIM_CLINIC_CLOCK_START"])
        if env.get("KETASIM_CLINIC_CLOCK_FILE"):
            kwargs["clock"] = FileClock(Path(env["KETASIM_CLINIC_CLOCK_FILE"]))
        if env.get("KETASIM_COOKIE_SECURE"):
            kwargs["cookie_secure"] = env["KETASIM_COOKIE_SECURE"] not in ("0", "false", "")
        kwargs.update(overrides)
        return cls(**kwargs)  # type: ignore[arg-type]
