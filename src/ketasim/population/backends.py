"""Where the chunks run: locally on every core (default) or on a Dask cluster.

Both backends run the same function on the same chunk tasks and hand the results back **in task
order**, so the caller merges them in the same order whichever backend ran them: integer counts
are identical anyway, and the floating-point sums (endpoint means) are then bit-for-bit
identical too.

Schedulers (``--scheduler``):

- ``local`` (default) or ``local:N``: a thread pool of N workers (default: every core). The
  compiled kernel releases the GIL, so threads run in parallel without copying data.
- ``local-cluster`` or ``local-cluster:N``: start a Dask ``LocalCluster`` of N single-threaded
  worker processes (default 2) for the run, and close it afterwards (on Linux the workers are
  forked from this process, so they start with its imports and loaded kernels).
- ``tcp://HOST:PORT``: use a running Dask scheduler.

At most ``2 x workers`` tasks are in flight at once, so memory stays bounded whatever N is. On
Dask, :func:`run_batched` groups consecutive tasks into a few batches per worker.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from typing import Any, TypeVar

from ketasim.errors import InputError

__all__ = ["Scheduler", "batches", "parse_scheduler", "run_batched", "run_ordered"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Scheduler:
    """A parsed ``--scheduler`` value."""

    kind: str  # "local" | "local-cluster" | "address"
    workers: int
    address: str | None = None

    def describe(self) -> str:
        """Human-readable form, e.g. ``'local (2 threads)'``."""
        if self.kind == "local":
            return f"local ({self.workers} threads)"
        if self.kind == "local-cluster":
            return f"dask LocalCluster ({self.workers} workers)"
        return f"dask cluster at {self.address}"


def parse_scheduler(text: str | None) -> Scheduler:
    """Parse ``local[:N]``, ``local-cluster[:N]`` or ``tcp://HOST:PORT``."""
    value = (text or "local").strip()
    if value.startswith("tcp://"):
        host, _, port = value[len("tcp://") :].rpartition(":")
        if not host or not port.isdigit():
            raise InputError("scheduler", f"{value!r}: write tcp://HOST:PORT")
        return Scheduler("address", 0, value)
    kind, _, count = value.partition(":")
    if kind not in ("local", "local-cluster"):
        raise InputError(
            "scheduler", f"{value!r}: accepted local[:N], local-cluster[:N] or tcp://HOST:PORT"
        )
    default = (os.cpu_count() or 1) if kind == "local" else 2
    if count and (not count.isdigit() or int(count) < 1):
        raise InputError("scheduler", f"{value!r}: N must be a whole number >= 1")
    return Scheduler(kind, int(count) if count else default)


def _local(fn: Callable[[T], R], tasks: Sequence[T], workers: int) -> Iterator[R]:
    if workers == 1:
        for task in tasks:
            yield fn(task)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[R]] = deque()
        it = iter(tasks)
        for task in it:
            pending.append(pool.submit(fn, task))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(fn, nxt))
            yield result


def _dask(fn: Callable[[T], R], tasks: Sequence[T], client: Any, in_flight: int) -> Iterator[R]:
    pending: deque[Any] = deque()
    it = iter(tasks)
    for task in it:
        pending.append(client.submit(fn, task, pure=False))
        if len(pending) >= in_flight:
            break
    while pending:
        result = pending.popleft().result()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(client.submit(fn, nxt, pure=False))
        yield result


@contextmanager
def _dask_client(scheduler: Scheduler) -> Iterator[tuple[Any, int]]:
    """A Dask client for ``scheduler`` (starting a LocalCluster if asked) and its worker count."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("scheduler", "Dask is not installed; install ketasim[dask]") from None
    if scheduler.kind == "local-cluster":
        import dask

        # On Linux the workers are forked from this process: they inherit its imports (ketasim,
        # numba, the kernels already loaded by the caller's warm-up) instead of spawning fresh
        # interpreters that import everything again (measured: cluster start, the workers'
        # imports and shutdown ~11 s with spawn vs ~1.2 s with fork, 2 workers, load ~7-11).
        method = (
            "fork"
            if sys.platform == "linux"
            else dask.config.get("distributed.worker.multiprocessing-method")
        )
        with dask.config.set({"distributed.worker.multiprocessing-method": method}):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=scheduler.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            )
        with cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
            yield client, scheduler.workers
        return
    try:
        client = Client(scheduler.address, timeout="10s")  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise InputError("scheduler", f"cannot reach {scheduler.address}: {exc}") from None
    with client:
        yield client, max(1, len(client.scheduler_info().get("workers", {})))


def run_ordered(fn: Callable[[T], R], tasks: Sequence[T], scheduler: Scheduler) -> Iterator[R]:
    """Run ``fn`` on every task with ``scheduler``; yield the results in task order."""
    if scheduler.kind == "local":
        yield from _local(fn, tasks, scheduler.workers)
        return
    with _dask_client(scheduler) as (client, workers):
        yield from _dask(fn, tasks, client, 2 * workers)


def batches(tasks: Sequence[T], key: Callable[[T], Hashable], count: int) -> list[list[T]]:
    """Consecutive tasks with the same ``key`` cut into about ``count`` batches per key."""
    groups: list[list[T]] = []
    for _, run in groupby(tasks, key=key):
        items = list(run)
        size = -(-len(items) // max(1, min(count, len(items))))
        groups += [items[i : i + size] for i in range(0, len(items), size)]
    return groups


def run_batched(
    fn: Callable[[list[T]], R],
    tasks: Sequence[T],
    scheduler: Scheduler,
    key: Callable[[T], Hashable],
    per_worker: int = 2,
) -> Iterator[R]:
    """On a Dask scheduler: cut the tasks into ``per_worker`` batches per worker and key
    (:func:`batches`), run ``fn`` on each batch, yield the results in order (fewer, bigger
    tasks: each batch pays the transfer of its result once)."""
    if scheduler.kind == "local":
        raise ValueError("run_batched is for Dask schedulers; use run_ordered locally")
    with _dask_client(scheduler) as (client, workers):
        groups = batches(tasks, key, per_worker * workers)
        yield from _dask(fn, groups, client, 2 * workers)
