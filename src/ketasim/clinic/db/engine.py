"""Engines and sessions: SQLite (WAL, immediate write transactions) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ketasim.clinic.clock import INFO_CLOCK, stamp_new_rows
from ketasim.clinic.db.group_commit import GroupCommit
from ketasim.clinic.files import private_dir, private_file
from ketasim.clinic.settings import Settings

__all__ = ["MIGRATIONS_DIR", "Database", "make_engine", "migrate"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(settings: Settings, *, immediate: bool = True) -> Engine:
    """An engine for ``settings.url``.

    SQLite: the data directory is made ``0700`` and the database file ``0600``; WAL journal,
    ``synchronous=FULL`` (a killed server loses no committed transaction), foreign keys on,
    30 s busy timeout, and every transaction begins ``IMMEDIATE`` so concurrent writers queue
    instead of failing on a stale snapshot; ``immediate=False``: the engine of read-only
    transactions (:meth:`Database.read`), which begin deferred and never wait for writers.
    """
    if not settings.is_sqlite:
        return create_engine(settings.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    private_dir(settings.data_dir)
    database = make_url(settings.url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        private_file(Path(database))  # SQLite gives its WAL and SHM files the same mode
    engine = create_engine(
        settings.url,
        connect_args={"check_same_thread": False, "timeout": 30.0},
        pool_size=10,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def migrate(engine: Engine, *, audit_key: bytes | None = None) -> None:
    """Create or upgrade the schema to the newest Alembic revision (``audit_key``: for the
    migrations that encrypt stored secrets and audit it; needed only when there are any)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["audit_key"] = audit_key
        command.upgrade(cfg, "head")


def _writer_lock_path(settings: Settings) -> Path | None:
    """The lock file the processes writing one SQLite file take turns on (None in memory)."""
    database = make_url(settings.url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database + "-writelock")


def _refuse_flush(*_args: Any) -> None:
    raise RuntimeError("a write in a read-only session (use Database.session())")


class Database:
    """An engine and its session factory (one per app)."""

    def __init__(self, settings: Settings) -> None:
        from ketasim.clinic.audit import INFO_KEY, INFO_PENDING
        from ketasim.clinic.security import integrity
        from ketasim.clinic.security.keys import load_key
        from ketasim.clinic.security.secret_box import INFO_BOX, SecretBox

        self.settings = settings
        self.engine = make_engine(settings)
        # the audit key and the checkpoint file live outside the database (see security/)
        key = load_key(settings.data_dir)
        self.audit_key = key
        self.checkpoints = integrity.Checkpoints(settings.checkpoint_path, key)
        # secrets at rest (TOTP) are sealed with a key derived from the audit key
        stamp_new_rows()
        info = {
            INFO_CLOCK: settings.clock,
            INFO_KEY: key,
            integrity.INFO_CHECKPOINTS: self.checkpoints,
            INFO_BOX: SecretBox(key),
        }
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, info=info)
        event.listen(self.sessionmaker, "after_commit", integrity.after_commit)
        event.listen(self.sessionmaker, "after_rollback", integrity.after_rollback)
        # SQLite: the process's writers share durable commits (see group_commit)
        self._group: GroupCommit | None = (
            GroupCommit(
                self.engine,
                info,
                INFO_PENDING,
                self.checkpoints.head,
                lock_path=_writer_lock_path(settings),
            )
            if settings.is_sqlite
            else None
        )
        # a separate engine (pool) for reads: its transactions begin deferred
        self.read_engine = (
            make_engine(settings, immediate=False) if settings.is_sqlite else self.engine
        )
        self.read_sessionmaker = sessionmaker(self.read_engine, expire_on_commit=False, info=info)
        # once for every read session (a listener per session cost a registration per request)
        event.listen(self.read_sessionmaker, "before_flush", _refuse_flush)

    def anchor(self) -> None:
        """Start the checkpoint file of a (migrated) database that has none."""
        from ketasim.clinic.security import integrity

        with self.read() as s:
            integrity.anchor(s, self.checkpoints)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error; it
        returns once the work is durable.

        On SQLite, writers of this process take turns on a lock (SQLite allows one writer;
        waiting on a lock wakes at once, where SQLite's busy handler sleeps and polls) and share
        commits: each one's work is a savepoint of a batch committed once for all of them
        (:mod:`ketasim.clinic.db.group_commit`)."""
        if self._group is not None:
            with self._group.session() as s:
                yield s
            return
        with self.sessionmaker() as s, s.begin():
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (on SQLite a deferred transaction that does not queue behind
        writers); a write in it raises."""
        with self.read_sessionmaker() as s:  # closing returns the connection rolled back
            yield s

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self._group is not None:
            self._group.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
