"""Inter-occasion variability in virtual trials: one occasion per dosing day.

For an arm whose model has ``[iov]`` entries, each dosing day (the first dose of each day that
has a dose, :func:`ketasim.pk.occasions.dose_day_starts`) starts an occasion; every patient
draws a new, independent kappa per occasion and IOV parameter
(:func:`ketasim.pk.variability.sample_occasion_etas`, from the chunk's own random stream), so
the parameters are ``TV x exp(eta + kappa_k)`` on occasion k. Each occasion has its own rate
matrices; each dose takes the bioavailability, lag and duration of its occasion; the state is
carried across an occasion's start (exact, as :func:`ketasim.pk.simulate` with ``occasions``).

The kernel's propagation (:mod:`ketasim.population.kernel`) is reused unchanged: a program
step on occasion k uses the propagators of occasion k's rate matrices, i.e. the table of step
propagators is indexed by (occasion, step length) instead of step length alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.pk import Regimen
from ketasim.pk.events import InputEvent
from ketasim.pk.occasions import dose_day_starts, occasion_index
from ketasim.pk.variability import sample_occasion_etas
from ketasim.population import kernel
from ketasim.population.batch import BatchInputs, BatchSystem, batch_inputs, batch_system
from ketasim.population.kernel import EndpointPlan, Program
from ketasim.population.pd_endpoints import add_pd_sites
from ketasim.population.propagators import compiled_propagators, propagators
from ketasim.population.summaries import LogBins
from ketasim.types import FloatArray

__all__ = ["OccasionBatch", "occasion_batch", "run_group_occasions"]


@dataclass(frozen=True)
class OccasionBatch:
    """P patients' systems on each occasion, their dose inputs and their kappas.

    ``systems[k]``: occasion k (starting at ``starts_min[k]``; the first holds from the
    beginning); ``kappas``: name -> (P, n_occasions).
    """

    systems: tuple[BatchSystem, ...]
    starts_min: tuple[float, ...]
    inputs: BatchInputs
    kappas: Mapping[str, FloatArray]


def occasion_batch(
    model: ModelSpec,
    regimen: Regimen,
    covariates: Mapping[str, FloatArray],
    etas: Mapping[str, FloatArray],
    rng: np.random.Generator,
    pd_sites: tuple[tuple[str, float, str], ...] = (),
) -> OccasionBatch:
    """Systems and inputs of P patients with one occasion per dosing day of ``regimen``."""
    doses = list(regimen)
    starts = dose_day_starts(d.time_min for d in doses)
    n = int(np.asarray(covariates["WT"]).shape[0])
    kappas = sample_occasion_etas(model, n, len(starts), rng)
    which = occasion_index(starts, np.array([d.time_min for d in doses]))
    systems = []
    events: list[InputEvent] = []
    for k, start in enumerate(starts):
        system = add_pd_sites(
            batch_system(model, covariates, etas, {name: v[:, k] for name, v in kappas.items()}),
            pd_sites,
        )
        systems.append(system)
        mine = tuple(d for d, w in zip(doses, which, strict=True) if w == k)
        events += batch_inputs(model, system, Regimen(mine), covariates["WT"]).events
        if k:  # a breakpoint at the occasion's start, whatever the doses' lag times
            at = np.full(n, start)
            events.append(InputEvent(0, at, at.copy(), np.zeros(n)))
    C0 = systems[0].C
    if any(not np.array_equal(s.C, C0) for s in systems[1:]):
        raise InputError(
            "arms.model",
            f"model {model.id}: inter-occasion variability on an "
            "observed compartment's volume is not supported in trials",
        )
    return OccasionBatch(tuple(systems), tuple(starts), BatchInputs(tuple(events)), kappas)


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
) -> None:
    """:func:`ketasim.population.kernel.run_group` with each step on its occasion's system."""
    use_numba = kernel.HAVE_NUMBA if compiled is None else compiled
    if use_numba and not kernel.HAVE_NUMBA:
        raise RuntimeError("numba is not installed")
    occ = occasion_index(batch.starts_min, program.times[:-1])
    pairs: dict[tuple[int, int], int] = {}
    step_h = np.empty_like(program.step_h)
    for b in range(program.step_h.size):
        step_h[b] = pairs.setdefault((int(occ[b]), int(program.step_h[b])), len(pairs))
    n_pat = program.patients.size
    n = batch.systems[0].K.shape[1]
    phi = np.empty((len(pairs), n, n, n_pat))
    gammas: list[FloatArray] = []
    for (o, hi), _ in sorted(pairs.items(), key=lambda kv: kv[1]):
        K = batch.systems[o].K[program.patients]
        h = float(program.h_values[hi])
        if use_numba:
            ph, ga = compiled_propagators(np.ascontiguousarray(np.transpose(K, (1, 2, 0))), h)
            phi[len(gammas)] = ph
            gammas.append(np.transpose(ga, (2, 0, 1)))
        else:
            ph, ga = propagators(K, h)
            phi[len(gammas)] = np.transpose(ph, (1, 2, 0))
            gammas.append(ga)
    drives: dict[tuple[int, int], int] = {}
    step_drive = np.full(step_h.size, -1, dtype=np.int64)
    for b in range(step_h.size):
        r = int(program.step_rate[b])
        if r >= 0:
            step_drive[b] = drives.setdefault((int(step_h[b]), r), len(drives))
    drive = np.empty((len(drives), n, n_pat))
    for (hi, r), di in drives.items():
        drive[di] = np.einsum("pik,pk->ip", gammas[hi], program.rates[r])
    bolus = np.ascontiguousarray(np.transpose(program.bolus, (0, 2, 1)))
    C = np.ascontiguousarray(np.transpose(batch.systems[0].C[program.patients], (1, 2, 0)))
    n_prof = min(prof.shape[0], n_pat)
    if use_numba:
        kernel.run_compiled(
            phi,
            drive,
            bolus,
            C,
            program.bolus_index,
            program.record,
            step_h,
            step_drive,
            grid,
            bins,
            endpoints,
            hist,
            acc,
            prof,
        )
        return
    prog = Program(
        program.patients,
        program.times,
        program.bolus,
        program.bolus_index,
        program.record,
        np.asarray([program.h_values[h] for _, h in pairs]),
        step_h,
        program.rates,
        step_drive,
    )
    kernel._kernel_numpy(phi, drive, bolus, C, prog, grid, bins, endpoints, hist, acc, prof, n_prof)
