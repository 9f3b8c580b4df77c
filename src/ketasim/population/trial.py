"""The front door of virtual trials: ``run_trial(spec) -> TrialResult``.

Work is split into chunks of ``spec.chunk_size`` patients (:mod:`ketasim.population.chunks`;
arms: :mod:`ketasim.population.arms`; result assembly: :mod:`ketasim.population.results`). A
chunk's result depends only on the spec, never on which worker or backend ran it, and the merged
summary is the same for the local and the Dask backends: integer counts add exactly, and the
floating-point sums are merged in chunk order.

Locally (threads), each worker thread counts concentrations into its own histogram, summed once
at the end (no per-chunk histogram to allocate, transfer or merge). On Dask, consecutive chunks
run as a few batches per worker, each returning its summed histogram once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ketasim.errors import InputError
from ketasim.population.arms import ResolvedArm, population_bounds, resolve_arms
from ketasim.population.backends import Scheduler, parse_scheduler, run_batched, run_ordered
from ketasim.population.chunks import (
    ENDPOINT_BINS,
    BatchSummary,
    ChunkTask,
    expand_counts,
    profile_bins,
    run_batch,
    run_chunk,
)
from ketasim.population.results import TrialResult, assemble_result
from ketasim.population.spec import TrialSpec
from ketasim.population.summaries import Accumulator, ChunkSummary

__all__ = ["ChunkTask", "ResolvedArm", "TrialResult", "resolve_arms", "run_chunk", "run_trial"]


def _tasks(
    spec: TrialSpec, individuals: int, compiled: bool | None, sparse: bool
) -> list[ChunkTask]:
    tasks = []
    n_chunks = -(-spec.n // spec.chunk_size)
    for a in range(len(spec.arms)):
        for c in range(n_chunks):
            start = c * spec.chunk_size
            tasks.append(
                ChunkTask(
                    spec,
                    a,
                    c,
                    start,
                    min(spec.chunk_size, spec.n - start),
                    individuals,
                    compiled,
                    sparse,
                )
            )
    return tasks


class _ThreadProfiles:
    """One concentration histogram per worker thread and arm (created on first use)."""

    def __init__(self, shapes: list[tuple[int, int, int]]) -> None:
        self._shapes = shapes
        self._local = threading.local()
        self._lock = threading.Lock()
        self.all: list[tuple[int, NDArray[np.int32]]] = []

    def get(self, arm_index: int) -> NDArray[np.int32]:
        mine: dict[int, NDArray[np.int32]] | None = getattr(self._local, "hists", None)
        if mine is None:
            mine = self._local.hists = {}
        hist = mine.get(arm_index)
        if hist is None:
            hist = mine[arm_index] = np.zeros(self._shapes[arm_index], dtype=np.int32)
            with self._lock:
                self.all.append((arm_index, hist))
        return hist

    def run(self, task: ChunkTask) -> ChunkSummary:
        return run_chunk(task, self.get(task.arm_index))


def _chunk_results(
    tasks: list[ChunkTask], sched: Scheduler, accs: list[Accumulator]
) -> Iterator[ChunkSummary]:
    """Every chunk's summary in chunk order; concentration counts go straight into ``accs``."""
    if sched.kind == "local":
        profiles = _ThreadProfiles([a.profile.shape for a in accs])
        try:
            yield from run_ordered(profiles.run, tasks, sched)
        finally:
            for arm_index, hist in profiles.all:
                accs[arm_index].profile += hist
        return
    if sched.kind == "local-cluster" and tasks:
        # load the compiled kernels here once, before the cluster's workers are forked from
        # this process (they inherit them; the result of this small chunk is discarded)
        run_chunk(replace(tasks[0], size=min(64, tasks[0].size), individuals=0))
    batch: BatchSummary
    for batch in run_batched(run_batch, tasks, sched, key=lambda t: t.arm_index):
        expand_counts(
            accs[batch.chunks[0].arm_index].profile,
            batch.profile_lo,
            batch.profile_hi,
            batch.profile_values,
        )
        yield from batch.chunks


def run_trial(
    spec: TrialSpec,
    *,
    scheduler: str | Scheduler | None = None,
    individuals: int = 0,
    progress: Callable[[int, int], None] | None = None,
    compiled: bool | None = None,
) -> TrialResult:
    """Run a virtual trial and summarise it.

    Parameters
    ----------
    spec:
        A validated spec (see :func:`ketasim.population.load_trial_spec`).
    scheduler:
        ``local[:N]`` (default), ``local-cluster[:N]`` or ``tcp://HOST:PORT`` (Dask).
    individuals:
        Also return the full profiles of the first K patients of each arm.
    progress:
        Called with (patients done, patients in all) after each chunk.
    compiled:
        Force (True) or forbid (False) the numba kernel; default: use it when installed here
        (the choice is passed to every worker, so all chunks run the same engine).
    """
    if individuals < 0:
        raise InputError("individuals", f"{individuals} must be >= 0")
    arms = resolve_arms(spec)
    bounds = population_bounds(spec, arms)
    sched = scheduler if isinstance(scheduler, Scheduler) else parse_scheduler(scheduler)
    grid = spec.outputs.grid()
    bins = profile_bins(spec)
    accs = [
        Accumulator(
            (grid.size, len(a.output_names), bins.n_bins), len(spec.endpoints), ENDPOINT_BINS.n_bins
        )
        for a in arms
    ]
    # decided here, not per worker, so that every chunk runs the same engine
    from ketasim.population import kernel

    engine = kernel.HAVE_NUMBA if compiled is None else compiled
    tasks = _tasks(spec, individuals, engine, sparse=sched.kind != "local")
    total = spec.n * len(arms)
    done = 0
    if progress is not None:
        progress(0, total)
    for result in _chunk_results(tasks, sched, accs):
        accs[result.arm_index].add(result)
        done += result.n_patients
        if progress is not None:
            progress(done, total)
    return assemble_result(spec, arms, accs, bounds, sched, individuals, grid, bins)
