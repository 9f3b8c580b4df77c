"""Background jobs of the tool pages (the virtual trial): run outside the request, one at a time
per server process, each in its own child process so a run-time limit can stop it; the page polls
a progress page.

Jobs are rows of the database (``jobs``: state, progress, result), so a job started on one server
process is seen on every other. The process running a job writes a heartbeat while it runs; a job
whose runner has been silent for :data:`STALE_S` (its process died) is marked failed when next
looked at, not lost. Each user may have :data:`PER_USER` jobs queued or running, the clinic
:data:`MAX_PENDING` (counted over every process). Finished jobs are kept for their pages
(:data:`_KEEP` most recent).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from ketasim.clinic.db import Database
from ketasim.clinic.db.shared_state import JobRow

__all__ = ["MAX_PENDING", "PER_USER", "STALE_S", "Job", "JobLimit", "JobRunner"]

PER_USER = 2
MAX_PENDING = 8
_KEEP = 50  # finished jobs kept for their pages
#: a runner writes its heartbeat this often while it has a job (s) ...
HEARTBEAT_S = 2.0
#: ... and a queued or running job whose runner was silent this long is failed (s)
STALE_S = 20.0
#: progress is written at most this often (s)
_PROGRESS_EVERY_S = 0.5
_PG_LOCK = 0x6A6F6273  # the advisory lock of job admission ("jobs")
_PENDING = ("queued", "running")
DEAD_RUNNER = "the server process running this job stopped; start it again"


class JobLimit(Exception):  # noqa: N818
    """Too many jobs queued (per user or in all)."""


@dataclass
class Job:
    """One background computation and what is known of it (times: Unix seconds)."""

    id: str
    owner_id: int
    title: str
    state: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    error: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    @property
    def elapsed_s(self) -> float:
        """Seconds running so far (or in all)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started


def _child(target: Callable[..., dict[str, Any]], payload: Any, conn: Any) -> None:
    """Run ``target(payload, progress)`` in the child process; send progress and the result."""
    try:
        result = target(payload, lambda done, total: conn.send(("progress", done, total)))
        conn.send(("done", result))
    except Exception as exc:  # sent to the page as the job's error
        conn.send(("failed", str(exc)))
    finally:
        conn.close()


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        owner_id=row.owner_id,
        title=row.title,
        state=row.state,
        done=row.done,
        total=row.total,
        result=None if row.result_json is None else json.loads(row.result_json),
        error=row.error,
        created=row.created_unix_s,
        started=row.started_unix_s,
        finished=row.finished_unix_s,
    )


def _fail_stale(s: Session, now: float) -> None:
    """Fail the pending jobs whose runner fell silent (its process died)."""
    s.execute(
        update(JobRow)
        .where(JobRow.state.in_(_PENDING), JobRow.heartbeat_unix_s < now - STALE_S)
        .values(state="failed", error=DEAD_RUNNER, finished_unix_s=now)
    )


class JobRunner:
    """A one-worker queue of jobs per process, each run in a child process with a time limit;
    the jobs' state lives in ``database``."""

    def __init__(self, database: Database, timeout_s: float) -> None:
        self.database = database
        self.timeout_s = timeout_s
        self.runner = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ketasim-job")
        self._beat_lock = threading.Lock()
        self._last_beat = 0.0

    def submit(
        self, owner_id: int, title: str, target: Callable[..., dict[str, Any]], payload: Any
    ) -> Job:
        """Queue ``target(payload, progress)`` (a module-level function; it runs in a child
        process). Raises :class:`JobLimit` when the user or the clinic has too many pending."""
        now = time.time()
        with self.database.session() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            _fail_stale(s, now)
            pending = dict(
                s.execute(
                    select(JobRow.owner_id, func.count())
                    .where(JobRow.state.in_(_PENDING))
                    .group_by(JobRow.owner_id)
                ).all()
            )
            if sum(pending.values()) >= MAX_PENDING:
                raise JobLimit(
                    f"the server runs at most {MAX_PENDING} jobs at a time; try again later"
                )
            if pending.get(owner_id, 0) >= PER_USER:
                raise JobLimit(f"at most {PER_USER} of your jobs queued or running at a time")
            row = JobRow(
                id=secrets.token_urlsafe(12),
                owner_id=owner_id,
                title=title[:200],
                state="queued",
                done=0,
                total=0,
                error="",
                runner=self.runner,
                created_unix_s=now,
                heartbeat_unix_s=now,
            )
            s.add(row)
            s.flush()
            job = _job(row)
            old = (
                select(JobRow.id)
                .where(JobRow.state.in_(("done", "failed")))
                .order_by(JobRow.created_unix_s.desc())
                .offset(_KEEP)
            )
            stale_ids = list(s.execute(old).scalars())
            if stale_ids:
                s.execute(delete(JobRow).where(JobRow.id.in_(stale_ids)))
        self._pool.submit(self._run, job.id, target, payload)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, if known (a pending job whose runner died is failed first)."""
        with self.database.read() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                return None
            stale = row.state in _PENDING and row.heartbeat_unix_s < time.time() - STALE_S
            if not stale:
                return _job(row)
        with self.database.session() as s:
            _fail_stale(s, time.time())
            row = s.get(JobRow, job_id)
            return None if row is None else _job(row)

    def _set(self, job_id: str, **values: Any) -> None:
        now = time.time()
        with self.database.session() as s:
            if values:
                s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))
            if now - self._last_beat >= HEARTBEAT_S:
                # this process is alive: its queued and running jobs are not stale
                s.execute(
                    update(JobRow)
                    .where(JobRow.runner == self.runner, JobRow.state.in_(_PENDING))
                    .values(heartbeat_unix_s=now)
                )
                self._last_beat = now

    def _run(self, job_id: str, target: Callable[..., dict[str, Any]], payload: Any) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(target, payload, child), daemon=True)
        started = time.time()
        self._last_beat = 0.0
        self._set(job_id, state="running", started_unix_s=started, heartbeat_unix_s=started)
        proc.start()
        child.close()
        deadline = started + self.timeout_s
        final: dict[str, Any] = {}
        progress_at = 0.0
        try:
            while True:
                left = deadline - time.time()
                if left <= 0:
                    final = {
                        "state": "failed",
                        "error": f"run time: over the limit of {self.timeout_s:g} s per job "
                        "on this page (use `ketasim trial` for larger runs)",
                    }
                    break
                if not parent.poll(min(left, 0.5)):
                    if not proc.is_alive() and not parent.poll():
                        final = {"state": "failed", "error": "the computation stopped unexpectedly"}
                        break
                    if time.time() - self._last_beat >= HEARTBEAT_S:
                        self._set(job_id)
                    continue
                try:
                    msg = parent.recv()
                except EOFError:
                    final = {"state": "failed", "error": "the computation stopped unexpectedly"}
                    break
                if msg[0] == "progress":
                    now = time.time()
                    if now - progress_at >= _PROGRESS_EVERY_S:
                        self._set(job_id, done=int(msg[1]), total=int(msg[2]))
                        progress_at = now
                elif msg[0] == "done":
                    final = {"state": "done", "result_json": json.dumps(msg[1], default=str)}
                    break
                else:
                    final = {"state": "failed", "error": str(msg[1])}
                    break
        except BaseException as exc:
            final = {"state": "failed", "error": f"the job runner failed: {exc}"}
            raise
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5)
            parent.close()
            self._set(job_id, finished_unix_s=time.time(), **final)

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop taking jobs; queued ones are dropped (failed once their heartbeat is stale),
        the running one is left to finish or time out (``wait``: until it has, and its last
        state is stored)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
