"""One chunk of a trial arm: sample its patients, run the kernel, summarise.

Each chunk draws its randomness from its own streams (:func:`ketasim.population.arms.stream`):
covariates from stream 0 (shared by all arms: every arm sees the same virtual patients), etas
from stream 1 (shared by arms on the same model: paired comparisons), residual errors from
stream (2, arm). A chunk's result therefore depends only on the spec, never on which worker or
backend ran it. :func:`run_batch` runs consecutive chunks in one task and returns their summed
concentration histogram once (for Dask: fewer, bigger tasks and one transfer per batch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.pd import default_antidepressant_params, draw_individuals, resolve_pd_model
from ketasim.pd.antidepressant_population_range import ANTIDEPRESSANT_MIN_AGE_YEARS
from ketasim.pd.schema import Endpoint as PDEndpoint
from ketasim.population.arms import (
    ResolvedArm,
    arms_cached,
    bounds_cached,
    endpoint_plan,
    stream,
)
from ketasim.population.batch import BatchInputs, BatchSystem, batch_inputs, batch_system
from ketasim.population.covariates import sample_covariates
from ketasim.population.kernel import build_programs, run_group
from ketasim.population.occasions import OccasionBatch, run_group_occasions
from ketasim.population.pd_endpoints import (
    add_pd_sites,
    antidepressant_outcomes,
    pd_values,
    sample_pd_parameters,
)
from ketasim.population.precision import check_single
from ketasim.population.segments import covariates_in_force, segment_batch
from ketasim.population.spec import TrialSpec
from ketasim.population.summaries import ChunkSummary, LogBins, sparse_counts
from ketasim.population.variability import residual_observations, sample_etas
from ketasim.types import FloatArray

__all__ = [
    "ENDPOINT_BINS",
    "PROFILE_CEILING",
    "BatchSummary",
    "ChunkTask",
    "compact_counts",
    "expand_counts",
    "profile_bins",
    "run_batch",
    "run_chunk",
]

ENDPOINT_BINS = LogBins(1e-3, 1e9)
PROFILE_CEILING = 1e6  # ng/mL; higher concentrations are counted as overflow (NaN quantile)


def profile_bins(spec: TrialSpec) -> LogBins:
    """The bins of the concentration histograms of ``spec``."""
    return LogBins(spec.outputs.floor_ng_per_ml, PROFILE_CEILING)


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: patients ``start .. start + size - 1`` of arm ``arm_index``."""

    spec: TrialSpec
    arm_index: int
    chunk_index: int
    start: int
    size: int
    individuals: int = 0
    compiled: bool | None = None
    sparse: bool = True


def _outside_validity(model: ModelSpec, covs: Sequence[Mapping[str, FloatArray]]) -> int:
    """Patients whose covariates leave the model's ranges at any time of the trial (``covs``:
    the values in force at the start and after each covariate change)."""
    bad = np.zeros(next(iter(covs[0].values())).size, dtype=bool)
    for cov in covs:
        for key, name in (("weight_kg", "WT"), ("age_years", "AGE"), ("height_cm", "HT")):
            rng = model.validity.get(key)  # type: ignore[call-overload]
            if rng is None or name not in cov:
                continue
            v = cov[name]
            if rng.min is not None:
                bad |= v < rng.min
            if rng.max is not None:
                bad |= v > rng.max
    return int(bad.sum())


def _minors(cov: Mapping[str, FloatArray]) -> int:
    """Patients under the antidepressant model's adult age (none without an AGE covariate)."""
    if "AGE" not in cov:
        return 0
    return int(np.sum(np.asarray(cov["AGE"]) < ANTIDEPRESSANT_MIN_AGE_YEARS))


def run_chunk(task: ChunkTask, profile: NDArray[np.integer[Any]] | None = None) -> ChunkSummary:
    """Simulate and summarise one chunk (runs in any worker; depends only on the task).

    ``profile``: a (T, n_out, n_cells) histogram to add the chunk's concentration counts to
    (e.g. one per worker thread, merged once at the end); the summary then carries none.
    """
    spec = task.spec
    arm = arms_cached(spec)[task.arm_index]
    grid = spec.outputs.grid()
    n = task.size
    cov = sample_covariates(
        spec.population,
        n,
        stream(spec.seed, 0, task.chunk_index),
        first=task.start,
        bounds=bounds_cached(spec),
    )
    etas = sample_etas(arm.omega, n, stream(spec.seed, 1, task.chunk_index))
    occ = None
    if arm.segmented:  # IOV (an occasion per dosing day), covariate changes, steady state
        occ = segment_batch(
            arm.model,
            arm.regimen,
            cov,
            etas,
            stream(spec.seed, 6, task.chunk_index),
            arm.pd_sites,
            arm.changes,
        )
        system, inputs = occ.systems[0], occ.inputs
    else:
        system = add_pd_sites(batch_system(arm.model, cov, etas), arm.pd_sites)
        inputs = batch_inputs(arm.model, system, arm.regimen, cov["WT"])
    if spec.arms[arm.index].placebo:  # the same sessions without drug: no exposure
        inputs = BatchInputs(
            tuple(replace(e, amount_mg=np.zeros_like(e.amount_mg)) for e in inputs.events)
        )
    programs = build_programs(inputs, grid, system.K.shape[1])
    bins = profile_bins(spec)
    plan = endpoint_plan(spec, arm, grid)
    n_out = len(system.output_names)
    shape = (grid.size, n_out, bins.n_bins)
    if profile is not None and profile.shape != shape:
        raise ValueError(f"profile histogram of shape {profile.shape}, expected {shape}")
    hist = profile if profile is not None else np.zeros(shape, dtype=np.int32)  # < 2^31
    acc = np.zeros((plan.size, n))
    keep = max(0, min(task.individuals - task.start, n))
    profiles = np.zeros((keep, grid.size, n_out))
    single = spec.outputs.precision == "float32"
    for prog in programs:
        if single:
            check_single(bins, system.K.shape[1], prog.times.size)
        group_acc = np.zeros((plan.size, prog.patients.size))
        first = prog.patients[prog.patients < keep]
        group_prof = np.zeros((first.size, grid.size, n_out))
        if first.size and not np.array_equal(first, prog.patients[: first.size]):
            raise AssertionError("profile patients must lead their group")  # pragma: no cover
        common = (prog, grid, bins, plan, hist, group_acc, group_prof)
        if occ is None:
            run_group(system, *common, compiled=task.compiled, single=single)
        else:
            run_group_occasions(occ, *common, compiled=task.compiled, single=single)
        acc[:, prog.patients] = group_acc
        if first.size:
            profiles[first] = group_prof
    values = acc.copy()
    for j, ep in enumerate(spec.endpoints):
        if ep.kind == "auc":
            values[j] /= 60.0  # ng/mL x min -> ng x h/mL
    exceed = np.zeros(plan.size, dtype=np.int64)
    for j, ep in enumerate(spec.endpoints):
        if ep.kind == "probability_above":
            exceed[j] = int(np.sum(values[j] > (ep.threshold_ng_per_ml or 0.0)))
    pd_params = _pd_chunk(task, arm, system, cov, values, exceed, occ)
    ep_counts = (
        np.stack([ENDPOINT_BINS.count(v) for v in values])
        if plan.size
        else np.zeros((0, ENDPOINT_BINS.n_bins), dtype=np.int64)
    )
    individuals = parameters = None
    if keep:
        kappa_cols = (
            {}
            if occ is None
            else {
                f"kappa_{name}_occ{k + 1}": v[:, k]
                for name, v in occ.kappas.items()
                for k in range(v.shape[1])
            }
        )
        individuals, parameters = _individuals(
            task,
            arm,
            grid,
            cov,
            etas,
            {**system.values, **pd_params, **kappa_cols},
            profiles,
            system.output_names,
        )
    index = count = np.zeros(0, dtype=np.int64)
    dense = None
    if profile is None and task.sparse:
        index, count = sparse_counts(hist)
    elif profile is None:
        dense = hist
    return ChunkSummary(
        arm_index=task.arm_index,
        chunk_index=task.chunk_index,
        n_patients=n,
        profile_shape=shape,
        profile_index=index,
        profile_count=count,
        endpoint_counts=ep_counts,
        endpoint_sum=values.sum(axis=1),
        endpoint_sumsq=(values**2).sum(axis=1),
        endpoint_min=values.min(axis=1) if n else np.full(plan.size, np.inf),
        endpoint_max=values.max(axis=1) if n else np.full(plan.size, -np.inf),
        exceed=exceed,
        outside_validity=_outside_validity(arm.model, covariates_in_force(cov, arm.changes)),
        antidepressant_minors=_minors(cov) if arm.response_plans else 0,
        individuals=individuals,
        parameters=parameters,
        profile_dense=dense,
    )


def _pd_chunk(
    task: ChunkTask,
    arm: ResolvedArm,
    system: BatchSystem,
    cov: Mapping[str, FloatArray],
    values: FloatArray,
    exceed: NDArray[np.int64],
    occ: OccasionBatch | None = None,
) -> dict[str, FloatArray]:
    """PD endpoints of one chunk, in place: ``values[j]`` from the peak driver to the effect
    (or the response probability), ``exceed[j]`` the exact count of PD events. Returns the
    per-patient PD parameters (for ``--individuals``). ``occ``: the arm's segments, if any."""
    spec = task.spec
    n = task.size
    gen = stream(spec.seed, 3, task.chunk_index)  # shared by the arms: paired comparisons
    params_out: dict[str, FloatArray] = {}
    for j, ep in enumerate(spec.endpoints):
        if ep.kind not in ("pd_peak", "pd_event"):
            continue
        pd_ep = _pd_endpoint(ep.pd_model or "", ep.pd_endpoint or "")
        params = sample_pd_parameters(pd_ep, n, gen, iiv=ep.pd_iiv)
        plan = arm.pd_plans.get(j)
        if plan is None:
            continue
        peak = values[j].copy()
        values[j] = pd_values(plan, peak, params)
        if ep.effect_above is not None:
            exceed[j] = int(np.sum(values[j] > ep.effect_above))
        elif ep.effect_below is not None:
            exceed[j] = int(np.sum(values[j] < ep.effect_below))
        elif ep.ce_over_c50_above is not None:
            ratio = peak * plan.scale / params["c50_ng_per_ml"]
            exceed[j] = int(np.sum(ratio > ep.ce_over_c50_above))
        for key, v in params.items():
            params_out[f"pd_{ep.name}_{key}"] = v
    if arm.response_plans:
        ad_params = default_antidepressant_params()
        means = {rp.baseline_madrs for rp in arm.response_plans.values()}
        mean_bl = means.pop() if len(means) == 1 else None
        people = draw_individuals(
            ad_params, n, stream(spec.seed, 4, task.chunk_index), baseline_madrs=mean_bl
        )

        def ratings_rng(t_h: float) -> np.random.Generator:
            return stream(spec.seed, 5, task.chunk_index, round(t_h * 60.0))

        for j, rplan in arm.response_plans.items():
            values[j], exceed[j] = antidepressant_outcomes(
                rplan, arm.model, system, arm.regimen, cov["WT"], people, ratings_rng, occ
            )
        params_out.update(
            {
                "antidepressant_eta_placebo": people.eta_placebo,
                "antidepressant_eta_drug": people.eta_drug,
                "antidepressant_baseline_madrs": people.baseline_madrs,
            }
        )
    return params_out


def _pd_endpoint(pd_model: str, name: str) -> PDEndpoint:
    return resolve_pd_model(pd_model).endpoint(name)


def _individuals(
    task: ChunkTask,
    arm: ResolvedArm,
    grid: FloatArray,
    cov: Mapping[str, FloatArray],
    etas: Mapping[str, FloatArray],
    values: Mapping[str, FloatArray],
    profiles: FloatArray,
    names: tuple[str, ...],
) -> tuple[dict[str, NDArray[np.generic]], dict[str, NDArray[np.generic]]]:
    keep, n_t, _ = profiles.shape
    ids = task.start + np.arange(keep)
    cols: dict[str, NDArray[np.generic]] = {
        "id": np.repeat(ids, n_t),
        "time_min": np.tile(grid, keep),
    }
    rng = stream(task.spec.seed, 2, task.arm_index, task.chunk_index)
    for o, name in enumerate(names):
        pred = profiles[:, :, o].reshape(-1)
        cols[f"{name}_ng_per_ml"] = pred
        analyte, _, site = name.rpartition("_")
        if site == "plasma":
            obs = residual_observations(arm.model, analyte, pred, rng)
            if obs is not None:
                cols[f"{name}_observed_ng_per_ml"] = obs
    params: dict[str, NDArray[np.generic]] = {"id": ids}
    for key, v in cov.items():
        params[f"covariate_{key}"] = np.asarray(v)[:keep]
    for key, v in etas.items():
        params[f"eta_{key}"] = np.asarray(v)[:keep]
    for key, v in values.items():
        if key not in cov:
            params[key] = np.asarray(v)[:keep]
    return cols, params


@dataclass(frozen=True)
class BatchSummary:
    """Consecutive chunks of one arm: their summaries (without concentration counts) in chunk
    order, and the counts of all of them summed, compacted by :func:`compact_counts`."""

    chunks: tuple[ChunkSummary, ...]
    profile_shape: tuple[int, int, int]
    profile_lo: NDArray[np.int32]
    profile_hi: NDArray[np.int32]
    profile_values: NDArray[np.int32]


def run_batch(tasks: Sequence[ChunkTask]) -> BatchSummary:
    """Run consecutive chunks of one arm in this worker and sum their histograms (exact)."""
    spec = tasks[0].spec
    arm = arms_cached(spec)[tasks[0].arm_index]
    bins = profile_bins(spec)
    shape = (spec.outputs.grid().size, len(arm.output_names), bins.n_bins)
    hist = np.zeros(shape, dtype=np.int32)
    chunks = tuple(run_chunk(t, hist) for t in tasks)
    lo, hi, values = compact_counts(hist)
    return BatchSummary(chunks, shape, lo, hi, values)


def compact_counts(
    dense: NDArray[np.integer[Any]],
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Each row's (last axis) counts from its first to its last nonzero cell: ``lo``, ``hi``
    (exclusive) per row and the concatenated counts (int32). A trial's rows are narrow: a time
    point's concentrations span a few octaves of the histogram's thirty."""
    rows = dense.reshape(-1, dense.shape[-1])
    nz = rows != 0
    any_nz = nz.any(axis=1)
    lo = np.where(any_nz, np.argmax(nz, axis=1), 0).astype(np.int32)
    hi = np.where(any_nz, rows.shape[1] - np.argmax(nz[:, ::-1], axis=1), 0).astype(np.int32)
    values = (
        np.concatenate([rows[r, lo[r] : hi[r]] for r in range(rows.shape[0])]).astype(np.int32)
        if rows.shape[0]
        else np.zeros(0, np.int32)
    )
    return lo, hi, values


def expand_counts(
    target: NDArray[np.integer[Any]],
    lo: NDArray[np.int32],
    hi: NDArray[np.int32],
    values: NDArray[np.int32],
) -> None:
    """Add counts compacted by :func:`compact_counts` to ``target`` (same shape), in place."""
    rows = target.reshape(-1, target.shape[-1])
    start = 0
    for r in range(rows.shape[0]):
        width = int(hi[r] - lo[r])
        if width > 0:
            rows[r, lo[r] : hi[r]] += values[start : start + width]
            start += width
