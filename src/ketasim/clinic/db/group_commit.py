"""Group commit on SQLite: concurrent write transactions of this process share one durable
commit.

SQLite has one writer at a time, and with ``synchronous=FULL`` each commit waits for an fsync of
the write-ahead log. Here the writers of the process take turns (a lock) in one open SQLite
transaction, *the batch*: each request's work runs in its own SAVEPOINT (an error rolls back that
request's work only), and the batch is committed once, with one fsync, for every request in it.
A request is answered only after the batch holding its work is committed (:meth:`durable`), so an
acknowledged write is on disk exactly as without batching; a batch whose commit fails fails every
request in it. The first finished request of a batch commits it (leader); requests arriving while
a commit runs form the next batch. One signed checkpoint of the audit chain's head (the last entry
the batch appended) is written after each committed batch.

Several server processes on one database file (``ketasim serve --workers N``): a batch also holds
an exclusive ``flock`` on ``lock_path`` from its start to its commit. A process waiting for it
sleeps in the kernel and wakes when the other's batch is committed, instead of SQLite's busy
handler, which polls with growing sleeps (1, 2, 5, 10, 15, 20, 25 ms ...) and so adds up to one
such sleep to every write that meets another process's batch.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.orm import Session

__all__ = ["BatchCommitError", "GroupCommit"]

#: how often a leader lets queued writers join its batch before committing
_MAX_YIELDS = 16


class BatchCommitError(RuntimeError):
    """The batch holding this request's work could not be committed (nothing of it is kept)."""


class _Batch:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tx: RootTransaction = conn.begin()
        self.members = 0
        self.pending: tuple[int, str] | None = None
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    """The batch writer of one SQLite engine.

    ``info``: the audit key and checkpoint entries copied into each session's ``info``;
    ``pending_key``: the ``Session.info`` key under which the audit log leaves the (seq, hash) a
    transaction appended; ``checkpoint``: called with it after the batch is durable.
    """

    def __init__(
        self,
        engine: Engine,
        info: dict[str, Any],
        pending_key: str,
        checkpoint: Callable[[int, str], None],
        lock_path: Path | None = None,
    ) -> None:
        self.engine = engine
        # the cross-process writer lock (None: no other process writes this database)
        self._lock_fd: int | None = (
            None if lock_path is None else os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        )
        self.info = info
        self.pending_key = pending_key
        self.checkpoint = checkpoint
        self._lock = threading.Lock()  # held while one request's work (or a commit) runs
        self._cv = threading.Condition()  # guards the fields below
        self._queued = 0
        self._committing = False
        self._current: _Batch | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work joins the open batch; returns once that batch is durable."""
        with self._cv:
            self._queued += 1
        self._lock.acquire()
        with self._cv:
            self._queued -= 1
        try:
            batch = self._current
            if batch is None:
                batch = self._current = self._open_batch()
            s = Session(
                bind=batch.conn,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
                info=dict(self.info),
            )
            try:
                with s.begin():
                    yield s
                pending = s.info.get(self.pending_key)
            except BaseException as exc:
                s.close()
                self._after_failure(batch, exc)
                raise
            s.close()
            batch.members += 1
            if isinstance(pending, tuple):
                batch.pending = pending
        finally:
            self._lock.release()
        self.durable(batch)

    def _open_batch(self) -> _Batch:
        """Start a batch (under ``_lock``): take the processes' writer lock, then the
        connection and its immediate transaction."""
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        try:
            return _Batch(self.engine.connect())
        except BaseException:
            self._unlock()
            raise

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the writer-lock file."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _after_failure(self, batch: _Batch, exc: BaseException) -> None:
        """Under the lock: a request's savepoint was rolled back. Close an empty batch; if SQLite
        dropped the whole transaction (I/O error, disk full), fail the batch."""
        dbapi = batch.conn.connection.dbapi_connection
        lost = not getattr(dbapi, "in_transaction", True)
        if batch.members == 0 or lost:
            self._close(
                batch,
                BatchCommitError("the write batch was rolled back by the database")
                if lost and batch.members
                else None,
                exc,
            )

    def _close(
        self, batch: _Batch, error: BaseException | None, cause: BaseException | None = None
    ) -> None:
        try:
            if batch.tx.is_active:
                batch.tx.rollback()
        finally:
            batch.conn.close()
            self._unlock()
            if error is not None and cause is not None:
                error.__cause__ = cause
            batch.error = error
            batch.done = True
            if self._current is batch:
                self._current = None

    def durable(self, batch: _Batch) -> None:
        """Wait until ``batch`` is committed, committing it when no one else is; raise
        :class:`BatchCommitError` when its commit failed."""
        with self._cv:
            while not batch.done and self._committing:
                self._cv.wait()
            lead = not batch.done
            if lead:
                self._committing = True
        if lead:
            try:
                self._commit(batch)
            finally:
                with self._cv:
                    self._committing = False
                    self._cv.notify_all()
        if batch.error is not None:
            raise BatchCommitError("the write was not committed") from batch.error

    def _commit(self, batch: _Batch) -> None:
        for _ in range(_MAX_YIELDS):  # let writers already queued add their work first
            self._lock.acquire()
            with self._cv:
                queued = self._queued
            if not queued or batch.done:
                break
            self._lock.release()
            time.sleep(0)
        else:
            self._lock.acquire()
        try:
            if batch.done:
                return
            self._current = None
            try:
                batch.tx.commit()  # one fsync of the write-ahead log for the whole batch
            except BaseException as exc:
                self._close(batch, BatchCommitError("the write batch could not be committed"), exc)
                return
            batch.conn.close()
            self._unlock()
            batch.done = True
            if batch.pending is not None:
                self.checkpoint(*batch.pending)
        finally:
            self._lock.release()
