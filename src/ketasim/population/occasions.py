"""The kernel run of trial arms whose systems change at known times (segments).

A segment is an occasion of inter-occasion variability (one per dosing day: every patient draws
a new kappa per occasion and IOV parameter, ``TV x exp(eta + kappa_k)``) or a stretch of
constant covariates; :mod:`ketasim.population.segments` builds the segments' systems and inputs.
Each segment has its own rate matrices; the state is carried across a segment's start (exact, as
:func:`ketasim.pk.simulate` with ``occasions`` and :func:`ketasim.pk.piecewise.solve_piecewise`).

The kernel's propagation (:mod:`ketasim.population.kernel`) is reused unchanged: a program
step in segment k uses the propagators of segment k's rate matrices, i.e. the table of step
propagators is indexed by (segment, step length, segment after the step) instead of step length
alone; a step that reaches a segment whose output rows are scaled differently carries the jump
of the scaled state (see :mod:`ketasim.population.segments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.pk.occasions import occasion_index
from ketasim.population import kernel
from ketasim.population.batch import BatchInputs, BatchSystem
from ketasim.population.kernel import EndpointPlan, KernelArrays, Program
from ketasim.population.propagators import compiled_propagators, propagators
from ketasim.population.summaries import LogBins
from ketasim.types import FloatArray

__all__ = ["OccasionBatch", "run_group_occasions", "segmented_arrays"]


@dataclass(frozen=True)
class OccasionBatch:
    """P patients' systems on each occasion, their dose inputs and their kappas.

    ``systems[k]``: segment k (an occasion, or a stretch of constant covariates; starting at
    ``starts_min[k]``, the first holds from the beginning); ``kappas``: name -> (P,
    n_occasions).
    """

    systems: tuple[BatchSystem, ...]
    starts_min: tuple[float, ...]
    inputs: BatchInputs
    kappas: Mapping[str, FloatArray]
    scales: tuple[FloatArray, ...] = ()
    """Per segment, ``S`` (P, n) with output rows ``C_k = C_0 S`` (empty: all ones); the
    kernel then runs on ``z = S x`` (:mod:`ketasim.population.segments`)."""
    steady_interval_min: float | None = None
    """The arm starts at steady state at its first dose with this dosing interval (min)."""


def run_group_occasions(
    batch: OccasionBatch,
    program: Program,
    grid: FloatArray,
    bins: LogBins,
    endpoints: EndpointPlan,
    hist: NDArray[np.integer[Any]],
    acc: FloatArray,
    prof: FloatArray,
    *,
    compiled: bool | None = None,
    single: bool = False,
) -> None:
    """:func:`ketasim.population.kernel.run_group` with each step on its occasion's system."""
    use_numba = kernel.use_compiled(compiled)
    arrays = segmented_arrays(batch, program, use_numba=use_numba)
    kernel.run_arrays(
        arrays, program, grid, bins, endpoints, hist, acc, prof, use_numba=use_numba, single=single
    )


def segmented_arrays(
    batch: OccasionBatch, program: Program, *, use_numba: bool = False
) -> KernelArrays:
    """The kernel's arrays for a program whose steps run on their segments' systems.

    ``phi``'s entries are (segment, step length, next segment) triples, the program's
    ``step_h`` / ``step_drive`` re-indexed to them, ``h_values`` their lengths (min): the layout of
    :func:`ketasim.population.kernel_numpy.kernel_numpy` (``use_numba``: the propagators come
    from the compiled routine, same values)."""
    occ = occasion_index(batch.starts_min, program.times[:-1])
    # the segment after each step: another one where the step reaches a segment's start
    nxt = occasion_index(batch.starts_min, program.times[1:]) if batch.scales else occ
    pairs: dict[tuple[int, int, int], int] = {}
    step_h = np.empty_like(program.step_h)
    for b in range(program.step_h.size):
        key = (int(occ[b]), int(program.step_h[b]), int(nxt[b]))
        step_h[b] = pairs.setdefault(key, len(pairs))
    n_pat = program.patients.size
    n = batch.systems[0].K.shape[1]
    scale = [S[program.patients] for S in batch.scales]
    phi = np.empty((len(pairs), n, n, n_pat))
    gammas: list[FloatArray] = []
    jumps: list[FloatArray | None] = []
    for (o, hi, o_next), _ in sorted(pairs.items(), key=lambda kv: kv[1]):
        K = batch.systems[o].K[program.patients]
        if scale:  # on z = S x: S K S^-1
            K = scale[o][:, :, None] * K / scale[o][:, None, :]
        jump = scale[o_next] / scale[o] if scale and o_next != o else None
        jumps.append(jump)
        h = float(program.h_values[hi])
        if use_numba:
            ph, ga = compiled_propagators(np.ascontiguousarray(np.transpose(K, (1, 2, 0))), h)
            if jump is not None:
                ph *= jump.T[:, None, :]
            phi[len(gammas)] = ph
            gammas.append(np.transpose(ga, (2, 0, 1)))
        else:
            ph, ga = propagators(K, h)
            if jump is not None:
                ph = ph * jump[:, :, None]
            phi[len(gammas)] = np.transpose(ph, (1, 2, 0))
            gammas.append(ga)
    drives, step_drive = kernel.drive_table(step_h, program.step_rate)
    entries = sorted(pairs, key=lambda k: pairs[k])
    drive = np.empty((len(drives), n, n_pat))
    for (hi, r), di in drives.items():
        u = program.rates[r] * scale[entries[hi][0]] if scale else program.rates[r]
        drive[di] = np.einsum("pik,pk->ip", gammas[hi], u)
        jump = jumps[hi]
        if jump is not None:
            drive[di] *= jump.T
    bolus = np.ascontiguousarray(np.transpose(program.bolus, (0, 2, 1)))
    if scale:
        seg = occasion_index(batch.starts_min, program.times)
        for b in np.flatnonzero(program.bolus_index >= 0).tolist():
            bolus[program.bolus_index[b]] *= scale[int(seg[b])].T
    C = np.ascontiguousarray(np.transpose(batch.systems[0].C[program.patients], (1, 2, 0)))
    h_values = np.asarray([program.h_values[h] for _, h, _ in pairs])
    return KernelArrays(phi, drive, bolus, C, step_h, step_drive, h_values)
