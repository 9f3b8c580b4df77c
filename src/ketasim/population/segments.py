"""Trial arms whose patients' systems change at known times, and arms at steady state.

A patient's system changes at

- the start of each occasion of a model with ``[iov]`` entries (one occasion per dosing day,
  :func:`ketasim.pk.occasions.dose_day_starts`; a new kappa per occasion and IOV parameter);
- each of the arm's ``covariate_changes`` (NONMEM's convention: a value holds from its time on;
  ``set`` gives a covariate a value, ``scale`` multiplies the value in force before).

Between two such times (a *segment*) the system is linear with constant rate matrix; the state
(amounts, effect-site concentrations) is carried across a boundary exactly, and each dose takes
the bioavailability, lag, duration and (mg/kg) weight of the segment in which it is given, as
:func:`ketasim.pk.piecewise.solve_piecewise` does for one patient.

The kernel reads every output through one output matrix ``C``. When a segment's volumes differ
(a weight change, IOV on a volume), its output rows are ``C_j = C_0 S_j`` with ``S_j`` a diagonal
scaling per patient (an output reads its own compartment), and the kernel runs on ``z = S_j x``:
rate matrix ``S_j K_j S_j^-1``, inputs ``S_j u``, and at a boundary the jump ``S_(j+1) / S_j``
(applied at the end of the step that reaches it; :func:`ketasim.population.occasions.
run_group_occasions`).

A model with time-varying parameters (``TAFD_MIN``, time after the first dose: Flint 2017's
S-norketamine clearance) is cut into segments of :func:`tafd_segment_min` (15 min; at most 96
segments, so longer for a long trial) from the first dose, each with the parameters at its
midpoint: an approximation of the single-patient ODE path whose error is that of the parameters
over half a segment (Flint 2017, S-norketamine: about 0.13% at 15 min, 0.7% at 60 min; the
parent is exact), where trials before used the value at the first dose throughout.

Steady state (``arms[].steady_state`` with ``interval_h``, NONMEM SS = 1): the doses of the
regimen given in its first interval (from its first dose ``t0`` to ``t0 + II``) have been given
every II since ever; at ``t0`` the state is that steady state (with the system of the segment in
force at ``t0``), and the inputs of earlier intervals still running after ``t0`` continue
(:func:`ketasim.pk.steady_state.steady_state_batch`). The regimen then goes on as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.pk import Regimen
from ketasim.pk.events import Dose, InputEvent
from ketasim.pk.occasions import dose_day_starts, occasion_index
from ketasim.pk.steady_state import steady_state_batch
from ketasim.pk.variability import sample_occasion_etas
from ketasim.population.batch import BatchInputs, BatchSystem, batch_inputs, batch_system
from ketasim.population.occasions import OccasionBatch
from ketasim.population.pd_endpoints import add_pd_sites
from ketasim.population.propagators import HAVE_NUMBA, compiled_propagators, propagators
from ketasim.types import FloatArray

__all__ = [
    "ArmChanges",
    "CovariateStep",
    "covariates_in_force",
    "segment_batch",
    "tafd_segment_min",
]


@dataclass(frozen=True)
class CovariateStep:
    """From ``at_min`` on: covariates ``set`` to values and ``scale``d by factors."""

    at_min: float
    set: Mapping[str, float]
    scale: Mapping[str, float]


@dataclass(frozen=True)
class ArmChanges:
    """What makes an arm's systems change with time: covariate steps (ascending) and the
    steady state's interval (min; None without steady state). ``field`` names the arm."""

    steps: tuple[CovariateStep, ...] = ()
    interval_min: float | None = None
    field: str = "arms"
    tafd_segment_min: float | None = None
    """A model with time-varying parameters (``TAFD_MIN``): segments of this length from the
    first dose, each with the parameters at its midpoint, until ``until_min``."""
    until_min: float = 0.0

    @property
    def any(self) -> bool:
        """Whether there is anything to do beyond a plain arm."""
        return bool(self.steps) or self.interval_min is not None or bool(self.tafd_segment_min)


def tafd_segment_min(span_min: float) -> float:
    """Segment length (min) of a time-varying model in a trial spanning ``span_min`` after the
    first dose: 15 min, longer for long trials (at most 96 segments)."""
    return max(TAFD_SEGMENT_MIN, span_min / TAFD_MAX_SEGMENTS)


TAFD_SEGMENT_MIN = 15.0
_FAR_MIN = 10_000.0  # a third TAFD (min) at which linearity in time is checked
TAFD_MAX_SEGMENTS = 96


def _tafd_starts(doses: Sequence[Dose], changes: ArmChanges) -> list[float]:
    if not changes.tafd_segment_min or not doses:
        return []
    first = min(d.time_min for d in doses)
    count = int(np.ceil((changes.until_min - first) / changes.tafd_segment_min - 1e-9))
    return [first + k * changes.tafd_segment_min for k in range(max(count, 0) + 1)]


def _tafd_at(starts: Sequence[float], j: int, first: float, length: float) -> float:
    """TAFD (min) at the midpoint of segment j (0 before the first dose)."""
    if starts[j] < first:
        return 0.0
    end = starts[j + 1] if j + 1 < len(starts) else starts[j] + length
    return 0.5 * (starts[j] + end) - first


def _covariates_at(
    base: Mapping[str, FloatArray], changes: ArmChanges, t: float
) -> dict[str, FloatArray]:
    field = changes.field
    cov = {k: np.asarray(v, dtype=np.float64) for k, v in base.items()}
    n = next(iter(cov.values())).shape[0]
    for step in changes.steps:
        if step.at_min > t:
            break
        for name, value in step.set.items():
            cov[name] = np.full(n, float(value))
        for name, factor in step.scale.items():
            if name not in cov:
                raise InputError(
                    f"{field}.covariate_changes",
                    f"scale of {name}: the population gives no {name} to scale; use set",
                )
            cov[name] = cov[name] * float(factor)
    return cov


def covariates_in_force(
    base: Mapping[str, FloatArray], changes: ArmChanges
) -> list[dict[str, FloatArray]]:
    """The covariates at the start and after each of the arm's changes within the trial (up
    to ``until_min``): every set of values a patient has during the trial."""
    times = [s.at_min for s in changes.steps if s.at_min <= changes.until_min]
    return [_covariates_at(base, changes, t) for t in [-np.inf, *times]]


def _scaling(C0: FloatArray, C: FloatArray, model_id: str, field: str) -> FloatArray:
    """``S`` (P, n) with ``C = C0 S`` (columns scaled), or an error naming ``field``."""
    P, _, n = C0.shape
    S = np.ones((P, n))
    if C is C0 or np.array_equal(C, C0):
        return S
    read = C0 != 0.0
    for k in range(n):
        rows = np.flatnonzero(np.any(read[:, :, k], axis=0))
        if rows.size:
            S[:, k] = C[:, rows[0], k] / C0[:, rows[0], k]
    if not np.allclose(C, C0 * S[:, None, :], rtol=1e-12, atol=0.0) or not np.all(S > 0):
        raise InputError(
            field,
            f"model {model_id}: an output reads compartments whose volumes change in different "
            "ways at a covariate change or occasion; not supported in trials",
        )
    return S


def segment_batch(
    model: ModelSpec,
    regimen: Regimen,
    covariates: Mapping[str, FloatArray],
    etas: Mapping[str, FloatArray],
    rng: np.random.Generator,
    pd_sites: tuple[tuple[str, float, str], ...] = (),
    changes: ArmChanges | None = None,
) -> OccasionBatch:
    """Systems, scalings and inputs of P patients on each segment (see the module notes)."""
    changes = changes or ArmChanges()
    doses = list(regimen)
    n = int(np.asarray(covariates["WT"]).shape[0])
    occ_starts = dose_day_starts(d.time_min for d in doses) if model.iov else []
    kappas = sample_occasion_etas(model, n, len(occ_starts), rng)
    # segment 0 holds from the beginning (before the first occasion, as in occasion_index)
    tafd = _tafd_starts(doses, changes)
    starts = [-np.inf, *sorted({*occ_starts[1:], *(s.at_min for s in changes.steps), *tafd})]
    systems = _systems(model, covariates, etas, kappas, pd_sites, changes, starts, occ_starts, tafd)
    scales = [_scaling(systems[0].C, s.C, model.id, changes.field) for s in systems]
    if all(np.all(S == 1.0) for S in scales):
        scales = []
    which = occasion_index(starts, np.array([d.time_min for d in doses]))
    events: list[InputEvent] = []
    for j, start in enumerate(starts):
        mine = tuple(d for d, w in zip(doses, which, strict=True) if w == j)
        if mine:
            weight = _covariates_at(covariates, changes, start)["WT"]
            events += batch_inputs(model, systems[j], Regimen(mine), weight).events
        if j:  # a breakpoint at the segment's start, whatever the doses' lag times
            at = np.full(n, start)
            events.append(InputEvent(0, at, at.copy(), np.zeros(n)))
    if changes.interval_min is not None and doses:
        events += _steady_state_events(model, doses, covariates, systems, starts, changes)
    return OccasionBatch(
        tuple(systems),
        tuple(starts),
        BatchInputs(tuple(events)),
        kappas,
        tuple(scales),
        changes.interval_min if doses else None,
    )


def _systems(
    model: ModelSpec,
    covariates: Mapping[str, FloatArray],
    etas: Mapping[str, FloatArray],
    kappas: Mapping[str, FloatArray],
    pd_sites: tuple[tuple[str, float, str], ...],
    changes: ArmChanges,
    starts: Sequence[float],
    occ_starts: Sequence[float],
    tafd: Sequence[float],
) -> list[BatchSystem]:
    """Each segment's system: its occasion's kappas, its covariates and (a time-varying model)
    the parameters at its midpoint, from ``K0 + t K1`` when K is linear in time."""
    n = int(np.asarray(covariates["WT"]).shape[0])
    systems: list[BatchSystem] = []
    occ_of = occasion_index(occ_starts, np.asarray(starts)) if occ_starts else None
    affine: dict[tuple[int, int], tuple[BatchSystem, FloatArray | None]] = {}
    for j, start in enumerate(starts):
        k = int(occ_of[j]) if occ_of is not None else 0
        cov = _covariates_at(covariates, changes, start)
        kap = {name: v[:, k] for name, v in kappas.items()}

        def system_at(
            tafd_min: float | None,
            cov: dict[str, FloatArray] = cov,
            kap: dict[str, FloatArray] = kap,
        ) -> BatchSystem:
            here = cov if tafd_min is None else {**cov, "TAFD_MIN": np.full(n, tafd_min)}
            return add_pd_sites(batch_system(model, here, etas, kap), pd_sites)

        if not tafd:
            systems.append(system_at(None))
            continue
        mid = _tafd_at(starts, j, tafd[0], float(changes.tafd_segment_min or 0.0))
        key = (k, sum(1 for step in changes.steps if step.at_min <= start))
        if key not in affine:  # K linear in TAFD (checked at a third point): K0 + t K1
            s0, s1, far = system_at(0.0), system_at(1.0), system_at(_FAR_MIN)
            slope = s1.K - s0.K
            linear = np.array_equal(far.C, s0.C) and np.allclose(
                far.K, s0.K + _FAR_MIN * slope, rtol=1e-9, atol=1e-15
            )
            affine[key] = (s0, slope if linear else None)
        s0, K1 = affine[key]
        systems.append(replace(s0, K=s0.K + mid * K1) if K1 is not None else system_at(mid))
    return systems


def _batch_propagators(K: FloatArray, h: float) -> tuple[FloatArray, FloatArray]:
    """``(Phi, Gamma)`` (P, n, n) of a step ``h``: compiled when numba is here (much faster
    than numpy's stacked small products), else numpy."""
    if not HAVE_NUMBA:
        return propagators(K, h)
    phi, gamma = compiled_propagators(np.ascontiguousarray(np.transpose(K, (1, 2, 0))), h)
    return np.transpose(phi, (2, 0, 1)), np.transpose(gamma, (2, 0, 1))


def _steady_state_events(
    model: ModelSpec,
    doses: Sequence[Dose],
    covariates: Mapping[str, FloatArray],
    systems: Sequence[BatchSystem],
    starts: Sequence[float],
    changes: ArmChanges,
) -> list[InputEvent]:
    """The steady state at the first dose as one amount per state, and the inputs of earlier
    intervals still running after it."""
    ii = float(changes.interval_min or 0.0)
    t0 = min(d.time_min for d in doses)
    unit = Regimen(tuple(d for d in doses if d.time_min < t0 + ii))
    j = int(occasion_index(starts, np.array([t0]))[0])
    weight = _covariates_at(covariates, changes, starts[j])["WT"]
    unit_events = batch_inputs(model, systems[j], unit, weight).events
    x_ss, tails = steady_state_batch(
        systems[j].K,
        unit_events,
        time_min=t0,
        ii_min=ii,
        propagators=_batch_propagators,
        field=f"{changes.field}.interval_h",
    )
    n = x_ss.shape[0]
    at = np.full(n, t0)
    amounts = [
        InputEvent(i, at.copy(), at.copy(), x_ss[:, i])
        for i in range(x_ss.shape[1])
        if np.any(x_ss[:, i] != 0.0)
    ]
    return [*amounts, *tails]
