"""Background jobs of the tool pages (the virtual trial): run outside the request, one at a time,
each in its own process so a run-time limit can stop it; the page polls a progress page.

Jobs live in the server's memory (a restart forgets them: they are computations, not records).
Each user may have :data:`PER_USER` jobs queued or running, the server :data:`MAX_PENDING`.
"""

from __future__ import annotations

import multiprocessing as mp
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_PENDING", "PER_USER", "Job", "JobLimit", "JobRunner"]

PER_USER = 2
MAX_PENDING = 8
_KEEP = 50  # finished jobs kept for their pages


class JobLimit(Exception):  # noqa: N818
    """Too many jobs queued (per user or in all)."""


@dataclass
class Job:
    """One background computation and what is known of it."""

    id: str
    owner_id: int
    title: str
    state: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    error: str = ""
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None

    @property
    def elapsed_s(self) -> float:
        """Seconds running so far (or in all)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started


def _child(target: Callable[..., dict[str, Any]], payload: Any, conn: Any) -> None:
    """Run ``target(payload, progress)`` in the child process; send progress and the result."""
    try:
        result = target(payload, lambda done, total: conn.send(("progress", done, total)))
        conn.send(("done", result))
    except Exception as exc:  # sent to the page as the job's error
        conn.send(("failed", str(exc)))
    finally:
        conn.close()


class JobRunner:
    """A one-worker queue of jobs, each run in a child process with a time limit."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ketasim-job")

    def submit(
        self, owner_id: int, title: str, target: Callable[..., dict[str, Any]], payload: Any
    ) -> Job:
        """Queue ``target(payload, progress)`` (a module-level function; it runs in a child
        process). Raises :class:`JobLimit` when the user or the server has too many pending."""
        with self._lock:
            pending = [j for j in self._jobs.values() if j.state in ("queued", "running")]
            if len(pending) >= MAX_PENDING:
                raise JobLimit(
                    f"the server runs at most {MAX_PENDING} jobs at a time; try again later"
                )
            if sum(j.owner_id == owner_id for j in pending) >= PER_USER:
                raise JobLimit(f"at most {PER_USER} of your jobs queued or running at a time")
            job = Job(secrets.token_urlsafe(12), owner_id, title)
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.state in ("done", "failed")]
            for old in sorted(finished, key=lambda j: j.created)[:-_KEEP]:
                del self._jobs[old.id]
        self._pool.submit(self._run, job, target, payload)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, if known."""
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: Job, target: Callable[..., dict[str, Any]], payload: Any) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(target, payload, child), daemon=True)
        job.state, job.started = "running", time.monotonic()
        proc.start()
        child.close()
        deadline = job.started + self.timeout_s
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    job.state = "failed"
                    job.error = (
                        f"run time: over the limit of {self.timeout_s:g} s per job on "
                        "this page (use `ketasim trial` for larger runs)"
                    )
                    break
                if not parent.poll(min(left, 0.5)):
                    if not proc.is_alive() and not parent.poll():
                        job.state, job.error = "failed", "the computation stopped unexpectedly"
                        break
                    continue
                try:
                    msg = parent.recv()
                except EOFError:
                    job.state, job.error = "failed", "the computation stopped unexpectedly"
                    break
                if msg[0] == "progress":
                    job.done, job.total = int(msg[1]), int(msg[2])
                elif msg[0] == "done":
                    job.result, job.state = msg[1], "done"
                    break
                else:
                    job.state, job.error = "failed", str(msg[1])
                    break
        finally:
            job.finished = time.monotonic()
            if proc.is_alive():
                proc.kill()
            proc.join(timeout=5)
            parent.close()

    def shutdown(self) -> None:
        """Stop taking jobs (running ones are left to finish or time out)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
