"""The front door of virtual trials: ``run_trial(spec) -> TrialResult``.

Work is split into chunks of ``spec.chunk_size`` patients. Each chunk draws its randomness from
its own stream, ``SeedSequence(seed, spawn_key=(stream, chunk))``: covariates from stream 0
(shared by all arms: every arm sees the same virtual patients), etas from stream 1 (shared by
arms on the same model: paired comparisons), residual errors from stream (2, arm). A chunk's
result therefore depends only on the spec, never on which worker or backend ran it, and the
merged summary is the same for the local and the Dask backends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelNotFoundError
from ketasim.findings import Finding
from ketasim.pd import default_antidepressant_params, draw_individuals, resolve_pd_model
from ketasim.pd.schema import Endpoint as PDEndpoint
from ketasim.pk import Regimen
from ketasim.pk.variability import sample_thetas
from ketasim.population.backends import Scheduler, parse_scheduler, run_ordered
from ketasim.population.batch import BatchInputs, BatchSystem, batch_inputs, batch_system
from ketasim.population.covariates import PresetPopulation, sample_covariates
from ketasim.population.kernel import (
    ENDPOINT_AUC,
    ENDPOINT_MAX,
    ENDPOINT_TIME_ABOVE,
    EndpointPlan,
    build_programs,
    run_group,
)
from ketasim.population.occasions import occasion_batch, run_group_occasions
from ketasim.population.pd_endpoints import (
    ANTIDEPRESSANT_KINDS,
    PDPlan,
    ResponsePlan,
    add_pd_sites,
    antidepressant_outcomes,
    pd_values,
    plan_pd_endpoint,
    plan_response_rate,
    sample_pd_parameters,
)
from ketasim.population.spec import Endpoint, TrialSpec
from ketasim.population.summaries import (
    Accumulator,
    ChunkSummary,
    LogBins,
    quantiles_from_counts,
    sparse_counts,
)
from ketasim.population.variability import (
    Omega,
    omega_matrix,
    residual_observations,
    sample_etas,
    with_assumed_iiv,
)
from ketasim.regimens import parse_regimen
from ketasim.types import FloatArray
from ketasim.units import parse_duration_min

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChunkTask", "ResolvedArm", "TrialResult", "resolve_arms", "run_chunk", "run_trial"]

_KIND_CODES = {"cmax": ENDPOINT_MAX, "probability_above": ENDPOINT_MAX, "auc": ENDPOINT_AUC,
               "time_above": ENDPOINT_TIME_ABOVE, "pd_peak": ENDPOINT_MAX,
               "pd_event": ENDPOINT_MAX}
_ENDPOINT_BINS = LogBins(1e-3, 1e9)
_PROFILE_CEILING = 1e6  # ng/mL; higher concentrations are counted as overflow (NaN quantile)


@dataclass(frozen=True)
class ResolvedArm:
    """An arm with its model (assumed variability added), regimen and eta covariance."""

    index: int
    name: str
    model: ModelSpec
    regimen: Regimen
    omega: Omega
    output_names: tuple[str, ...]
    pd_plans: Mapping[int, PDPlan] = field(default_factory=dict)
    response_plans: Mapping[int, ResponsePlan] = field(default_factory=dict)
    pd_sites: tuple[tuple[str, float, str], ...] = ()

    @property
    def variability(self) -> str:
        """How the arm's variability was obtained: published, or ASSUMED (which entries)."""
        if not self.omega.assumed:
            return f"published ({self.model.id})"
        parts = []
        for name in self.omega.assumed:
            iiv = self.model.iiv[name]
            size = f"CV {iiv.cv_percent:g}%" if iiv.cv_percent else f"omega^2 {iiv.omega_sq:g}"
            parts.append(f"{name} {size}")
        published = [n for n in self.omega.names if n not in self.omega.assumed]
        extra = f"; published on {', '.join(published)}" if published else ""
        return "ASSUMED: " + ", ".join(parts) + extra


def _output_names(model: ModelSpec) -> tuple[str, ...]:
    names = [f"{a.name}_plasma" for a in model.analytes]
    names += [f"{e.analyte}_effect" for e in model.effect_sites]
    return tuple(names)


def resolve_arms(spec: TrialSpec) -> list[ResolvedArm]:
    """Resolve every arm's model, regimen and variability; errors name the field."""
    arms: list[ResolvedArm] = []
    for i, arm in enumerate(spec.arms):
        where = f"arms[{i}]"
        try:
            model = resolve_model(arm.model)
        except ModelNotFoundError as exc:
            raise InputError(f"{where}.model", str(exc).removeprefix("--model: ")) from None
        if spec.replicate is not None:  # a replicate trial: estimates drawn from their RSEs
            model = sample_thetas(model, _stream(spec.seed, 3, spec.replicate, i),
                                  field="replicates")
        model = with_assumed_iiv(model, arm.assumed_iiv, field=f"{where}.assumed_iiv")
        omega = omega_matrix(model, field=f"{where}.assumed_iiv")
        regimen = parse_regimen(arm.regimen, route=arm.route, over=arm.over, repeat=arm.repeat,
                                field=f"{where}.regimen")
        for dose in regimen:
            if dose.route not in model.route_names:
                raise InputError(f"{where}.regimen", f"model {model.id} does not support route "
                                 f"{dose.route!r}; supported: {', '.join(model.route_names)}")
        names = _output_names(model)
        pd_plans: dict[int, PDPlan] = {}
        response_plans: dict[int, ResponsePlan] = {}
        sites: dict[str, tuple[str, float, str]] = {}
        for j, ep in enumerate(spec.endpoints):
            if not spec.endpoint_applies(j, arm.name):
                continue
            if ep.kind in ("pd_peak", "pd_event"):
                plan = plan_pd_endpoint(model, ep.pd_model or "", ep.pd_endpoint or "",
                                        field=f"endpoints[{j}]", condition=ep.condition)
                pd_plans[j] = plan
                if plan.site is not None:
                    sites.setdefault(plan.driver, (*plan.site, plan.driver))
                continue
            if ep.kind in ANTIDEPRESSANT_KINDS:
                at = parse_duration_min(ep.at or "", field=f"endpoints[{j}].at") / 60.0
                response_plans[j] = plan_response_rate(
                    model, field=f"endpoints[{j}]", at_h=at, background=ep.background,
                    baseline_madrs=ep.baseline_madrs, kind=ep.kind,
                    remission_cutoff=ep.remission_cutoff, placebo=arm.placebo)
                continue
            if ep.output not in names:
                raise InputError(f"endpoints[{j}].output", f"{ep.output!r} is not produced by "
                                 f"model {model.id} (arm {arm.name!r}); it has "
                                 f"{', '.join(names)}")
        names = (*names, *sites)
        arms.append(ResolvedArm(i, arm.name, model, regimen, omega, names, pd_plans,
                                response_plans, tuple(sites.values())))
    produced = {n for a in arms for n in a.output_names}
    missing = [n for n in spec.outputs.names or [] if n not in produced]
    if missing:
        raise InputError("outputs.names", f"{', '.join(missing)} produced by no arm's model; "
                         f"they produce {', '.join(sorted(produced))}")
    return arms


def _endpoint_plan(spec: TrialSpec, arm: ResolvedArm, grid: FloatArray) -> EndpointPlan:
    out, kind, start, stop, thr = [], [], [], [], []
    for j, ep in enumerate(spec.endpoints):
        if not spec.endpoint_applies(j, arm.name) or ep.kind in ANTIDEPRESSANT_KINDS:
            # not computed for this arm: an empty window (start > stop) never updates
            out.append(0)
            kind.append(ENDPOINT_MAX)
            start.append(1)
            stop.append(0)
            thr.append(0.0)
            continue
        bounds = []
        for key, text in (("from", ep.from_), ("to", ep.to)):
            if text is None:
                bounds.append(0 if key == "from" else grid.size - 1)
                continue
            t = parse_duration_min(text, field=f"endpoints[{j}].{key}")
            hit = np.flatnonzero(np.isclose(grid, t, rtol=0, atol=1e-6))
            if hit.size == 0:
                raise InputError(f"endpoints[{j}].{key}", f"{text!r} ({t:g} min) is not a time "
                                 f"of the output grid ({grid[0]:g} to {grid[-1]:g} min)")
            bounds.append(int(hit[0]))
        if bounds[0] > bounds[1] or (bounds[0] == bounds[1]
                                     and ep.kind in ("auc", "time_above")):
            raise InputError(f"endpoints[{j}].to", "the window must end after it starts")
        plan = arm.pd_plans.get(j)
        out.append(arm.output_names.index(plan.driver if plan is not None else ep.output or ""))
        kind.append(_KIND_CODES[ep.kind])
        start.append(bounds[0])
        stop.append(bounds[1])
        thr.append(ep.threshold_ng_per_ml or 0.0)
    return EndpointPlan(np.array(out, dtype=np.int64), np.array(kind, dtype=np.int64),
                        np.array(start, dtype=np.int64), np.array(stop, dtype=np.int64),
                        np.array(thr, dtype=np.float64))


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


_ARM_CACHE: dict[str, list[ResolvedArm]] = {}


def _arms_cached(spec: TrialSpec) -> list[ResolvedArm]:
    key = spec.model_dump_json()
    arms = _ARM_CACHE.get(key)
    if arms is None:
        if len(_ARM_CACHE) > 8:
            _ARM_CACHE.clear()
        arms = resolve_arms(spec)
        _ARM_CACHE[key] = arms
    return arms


_BOUNDS_CACHE: dict[str, dict[str, tuple[float, float]] | None] = {}


def population_bounds(spec: TrialSpec, arms: list[ResolvedArm]
                      ) -> dict[str, tuple[float, float]] | None:
    """Covariate bounds of a preset population given every arm's model validity (``None`` for
    other populations); raises :class:`InputError` naming the field (see ``presets.py``)."""
    if not isinstance(spec.population, PresetPopulation):
        return None
    from ketasim.population.presets import preset_bounds

    models = list({a.model.id: a.model for a in arms}.values())
    return preset_bounds(spec.population, models)


def _bounds_cached(spec: TrialSpec) -> dict[str, tuple[float, float]] | None:
    key = spec.model_dump_json()
    if key not in _BOUNDS_CACHE:
        if len(_BOUNDS_CACHE) > 8:
            _BOUNDS_CACHE.clear()
        _BOUNDS_CACHE[key] = population_bounds(spec, _arms_cached(spec))
    return _BOUNDS_CACHE[key]


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _outside_validity(model: ModelSpec, cov: Mapping[str, FloatArray]) -> int:
    bad = np.zeros(next(iter(cov.values())).size, dtype=bool)
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


def run_chunk(task: ChunkTask) -> ChunkSummary:
    """Simulate and summarise one chunk (runs in any worker; depends only on the task)."""
    spec = task.spec
    arm = _arms_cached(spec)[task.arm_index]
    grid = spec.outputs.grid()
    n = task.size
    cov = sample_covariates(spec.population, n, _stream(spec.seed, 0, task.chunk_index),
                            first=task.start, bounds=_bounds_cached(spec))
    etas = sample_etas(arm.omega, n, _stream(spec.seed, 1, task.chunk_index))
    occ = None
    if arm.model.iov:  # inter-occasion variability: an occasion per dosing day (occasions.py)
        occ = occasion_batch(arm.model, arm.regimen, cov, etas,
                             _stream(spec.seed, 6, task.chunk_index), arm.pd_sites)
        system, inputs = occ.systems[0], occ.inputs
    else:
        system = add_pd_sites(batch_system(arm.model, cov, etas), arm.pd_sites)
        inputs = batch_inputs(arm.model, system, arm.regimen, cov["WT"])
    if spec.arms[arm.index].placebo:  # the same sessions without drug: no exposure
        inputs = BatchInputs(tuple(replace(e, amount_mg=np.zeros_like(e.amount_mg))
                                   for e in inputs.events))
    programs = build_programs(inputs, grid, system.K.shape[1])
    bins = LogBins(spec.outputs.floor_ng_per_ml, _PROFILE_CEILING)
    plan = _endpoint_plan(spec, arm, grid)
    n_out = len(system.output_names)
    hist = np.zeros((grid.size, n_out, bins.n_bins), dtype=np.int32)  # per chunk: < 2^31
    acc = np.zeros((plan.size, n))
    keep = max(0, min(task.individuals - task.start, n))
    profiles = np.zeros((keep, grid.size, n_out))
    for prog in programs:
        group_acc = np.zeros((plan.size, prog.patients.size))
        first = prog.patients[prog.patients < keep]
        group_prof = np.zeros((first.size, grid.size, n_out))
        if first.size and not np.array_equal(first, prog.patients[:first.size]):
            raise AssertionError("profile patients must lead their group")  # pragma: no cover
        if occ is None:
            run_group(system, prog, grid, bins, plan, hist, group_acc, group_prof,
                      compiled=task.compiled)
        else:
            run_group_occasions(occ, prog, grid, bins, plan, hist, group_acc, group_prof,
                                compiled=task.compiled)
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
    pd_params = _pd_chunk(task, arm, system, cov, values, exceed)
    ep_counts = np.stack([_ENDPOINT_BINS.count(v) for v in values]) if plan.size else np.zeros(
        (0, _ENDPOINT_BINS.n_bins), dtype=np.int64)
    individuals = parameters = None
    if keep:
        kappa_cols = {} if occ is None else {
            f"kappa_{name}_occ{k + 1}": v[:, k] for name, v in occ.kappas.items()
            for k in range(v.shape[1])}
        individuals, parameters = _individuals(task, arm, grid, cov, etas,
                                               {**system.values, **pd_params, **kappa_cols},
                                               profiles, system.output_names)
    if task.sparse:
        index, count = sparse_counts(hist)
        dense = None
    else:
        index = count = np.zeros(0, dtype=np.int64)
        dense = hist
    return ChunkSummary(
        arm_index=task.arm_index, chunk_index=task.chunk_index, n_patients=n,
        profile_shape=(int(hist.shape[0]), int(hist.shape[1]), int(hist.shape[2])),
        profile_index=index, profile_count=count, endpoint_counts=ep_counts,
        endpoint_sum=values.sum(axis=1), endpoint_sumsq=(values**2).sum(axis=1),
        endpoint_min=values.min(axis=1) if n else np.full(plan.size, np.inf),
        endpoint_max=values.max(axis=1) if n else np.full(plan.size, -np.inf),
        exceed=exceed, outside_validity=_outside_validity(arm.model, cov),
        individuals=individuals, parameters=parameters, profile_dense=dense)


def _pd_chunk(task: ChunkTask, arm: ResolvedArm, system: BatchSystem,
              cov: Mapping[str, FloatArray], values: FloatArray, exceed: NDArray[np.int64]
              ) -> dict[str, FloatArray]:
    """PD endpoints of one chunk, in place: ``values[j]`` from the peak driver to the effect
    (or the response probability), ``exceed[j]`` the exact count of PD events. Returns the
    per-patient PD parameters (for ``--individuals``)."""
    spec = task.spec
    n = task.size
    gen = _stream(spec.seed, 3, task.chunk_index)  # shared by the arms: paired comparisons
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
        people = draw_individuals(ad_params, n, _stream(spec.seed, 4, task.chunk_index),
                                  baseline_madrs=mean_bl)

        def ratings_rng(t_h: float) -> np.random.Generator:
            return _stream(spec.seed, 5, task.chunk_index, round(t_h * 60.0))

        for j, rplan in arm.response_plans.items():
            values[j], exceed[j] = antidepressant_outcomes(
                rplan, arm.model, system, arm.regimen, cov["WT"], people, ratings_rng)
        params_out.update({"antidepressant_eta_placebo": people.eta_placebo,
                           "antidepressant_eta_drug": people.eta_drug,
                           "antidepressant_baseline_madrs": people.baseline_madrs})
    return params_out


def _pd_endpoint(pd_model: str, name: str) -> PDEndpoint:
    return resolve_pd_model(pd_model).endpoint(name)


def _individuals(task: ChunkTask, arm: ResolvedArm, grid: FloatArray,
                 cov: Mapping[str, FloatArray], etas: Mapping[str, FloatArray],
                 values: Mapping[str, FloatArray], profiles: FloatArray,
                 names: tuple[str, ...]
                 ) -> tuple[dict[str, NDArray[np.generic]], dict[str, NDArray[np.generic]]]:
    keep, n_t, _ = profiles.shape
    ids = task.start + np.arange(keep)
    cols: dict[str, NDArray[np.generic]] = {
        "id": np.repeat(ids, n_t), "time_min": np.tile(grid, keep)}
    rng = _stream(task.spec.seed, 2, task.arm_index, task.chunk_index)
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
class TrialResult:
    """Summaries of a virtual trial.

    Attributes
    ----------
    summary:
        Percentile bands: one row per arm, output and time, with ``n`` and columns ``p5``,
        ``p50``, ... (ng/mL; 0 means below ``outputs.floor_ng_per_ml``).
    endpoints:
        One row per arm and endpoint: ``mean``, ``sd``, ``min``, ``max`` (exact), percentiles
        (from the merged histogram), and for ``probability_above`` the exact ``probability``
        with its Wilson 95% interval.
    individuals, individual_parameters:
        Full profiles and covariates/etas/parameters of the first K patients of each arm
        (``None`` unless asked for).
    replicate_bands:
        With ``replicates = K`` > 1: one row per arm, endpoint and statistic (``mean``,
        ``p50``, ``probability``) with its between-trial percentiles (``p5``, ``p50``,
        ``p95``) over the K replicate trials (``None`` otherwise).
    variability:
        Arm name -> how its variability was obtained (``published`` or ``ASSUMED: ...``).
    """

    spec: TrialSpec
    summary: pd.DataFrame
    endpoints: pd.DataFrame
    variability: Mapping[str, str]
    findings: tuple[Finding, ...] = ()
    individuals: pd.DataFrame | None = None
    individual_parameters: pd.DataFrame | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    replicate_bands: pd.DataFrame | None = None

    @property
    def seed(self) -> int:
        """The seed the trial ran with."""
        return self.spec.seed


def _pd_row(row: dict[str, Any], ep: Endpoint, arm: ResolvedArm, j: int, n: int,
            mean: float, sd: float, count: int = 0) -> None:
    """Columns of the PD kinds (added to the endpoint row in place)."""
    plan = arm.pd_plans.get(j)
    if plan is not None:
        row.update({"output": plan.driver, "unit": plan.unit, "pd_model": plan.pd_model.id,
                    "pd_endpoint": plan.endpoint.name})
        if ep.condition is not None:
            row.update({"condition": ep.condition, "level": getattr(ep, ep.condition)})
        basis = ("EMPIRICAL model" if plan.pd_model.empirical else "published PD model")
        variability = ("PD variability: published CVs, log-normal (ASSUMED form)"
                       if ep.pd_iiv and _has_pd_iiv(plan) else "PD typical values")
        site = (f"effect site with the PD paper's ke0 {plan.site[1]:.4g} /min"
                if plan.site is not None else "plasma (the PD model has no ke0)")
        row["note"] = (f"{basis} {plan.pd_model.id}; driver: {site}; value per patient: "
                       f"{'Ce/C50' if plan.ratio_only else 'effect'} at the peak driver "
                       f"concentration in the window; {variability}")
        return
    rplan = arm.response_plans.get(j)
    if rplan is not None:
        k = round(mean * n)
        denom = n if rplan.kind != "relapse_rate" else int(count)
        lo, hi = _wilson(k, denom) if denom else (float("nan"), float("nan"))
        what = {"response_rate": "response (rating <= 50% of the patient's baseline)",
                "remission_rate": f"remission (rating <= {rplan.remission_cutoff:g})",
                "relapse_rate": "relapse (a responder at the end of the course, last session "
                                "+ 24 h, who no longer responds at the assessment time)"}
        row.update({"output": rplan.parent_output, "count": k, "denominator": denom,
                    "probability": k / denom if denom else float("nan"),
                    "ci95_low": lo, "ci95_high": hi, "pd_model": "antidepressant-empirical",
                    "placebo_arm": rplan.placebo,
                    "note": "EMPIRICAL (ketasim's antidepressant model calibrated to trial "
                            f"summaries): counts individual virtual patients meeting "
                            f"{what[rplan.kind]}, from each patient's exposure, random effects, "
                            "baseline and rating error; the CI covers virtual-patient sampling "
                            "only, not the empirical model's calibration uncertainty"})


def _has_pd_iiv(plan: PDPlan) -> bool:
    return any(getattr(plan.endpoint, k) is not None and getattr(plan.endpoint, k).iiv_cv_percent
               for k in ("c50", "emax", "imax", "e0", "gamma"))


def _pd_findings(arm: ResolvedArm) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for plan in arm.pd_plans.values():
        pd_model = plan.pd_model
        if pd_model.id in seen:
            continue
        seen.add(pd_model.id)
        src = f"PD model {pd_model.id}"
        drug = arm.model.drug
        if drug is not None and drug not in pd_model.compatible_drugs:
            out.append(Finding(f"pd.{pd_model.id}.drug", "warn",
                               f"arm {arm.name!r}: PK model drug {drug!r} is not among the "
                               f"drugs {pd_model.id} was estimated for "
                               f"({', '.join(pd_model.compatible_drugs)})", src))
        if plan.site is None:
            out.append(Finding(f"pd.{pd_model.id}.no_ke0", "info",
                               f"{pd_model.id}: no effect-site ke0 in the source; effects are "
                               "driven by plasma concentration", src))
        if pd_model.empirical:
            out.append(Finding(f"pd.{pd_model.id}.empirical", "info",
                               f"{pd_model.id} is an EMPIRICAL model calibrated by ketasim to "
                               "summary data, not a published PK/PD model", src))
        if plan.scale != 1.0:
            out.append(Finding(f"pd.{pd_model.id}.racemic_half", "info",
                               f"{pd_model.id}: C50 refers to S-ketamine; taken as half of the "
                               "racemic concentration (approximation)", src))
    if arm.response_plans:
        out.append(Finding("pd.antidepressant.empirical", "info",
                           f"arm {arm.name!r}: response rates come from ketasim's EMPIRICAL "
                           "antidepressant model (not a published PK/PD model)",
                           "ketasim.pd.antidepressant"))
    return out


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def _tasks(spec: TrialSpec, individuals: int, compiled: bool | None, sparse: bool
           ) -> list[ChunkTask]:
    tasks = []
    n_chunks = -(-spec.n // spec.chunk_size)
    for a in range(len(spec.arms)):
        for c in range(n_chunks):
            start = c * spec.chunk_size
            tasks.append(ChunkTask(spec, a, c, start, min(spec.chunk_size, spec.n - start),
                                   individuals, compiled, sparse))
    return tasks


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
    import pandas as pd

    if individuals < 0:
        raise InputError("individuals", f"{individuals} must be >= 0")
    arms = resolve_arms(spec)
    bounds = population_bounds(spec, arms)
    sched = scheduler if isinstance(scheduler, Scheduler) else parse_scheduler(scheduler)
    grid = spec.outputs.grid()
    bins = LogBins(spec.outputs.floor_ng_per_ml, _PROFILE_CEILING)
    accs = [Accumulator((grid.size, len(a.output_names), bins.n_bins), len(spec.endpoints),
                        _ENDPOINT_BINS.n_bins) for a in arms]
    # decided here, not per worker, so that every chunk runs the same engine
    from ketasim.population import kernel

    engine = kernel.HAVE_NUMBA if compiled is None else compiled
    tasks = _tasks(spec, individuals, engine, sparse=sched.kind != "local")
    total = spec.n * len(arms)
    done = 0
    if progress is not None:
        progress(0, total)
    for result in run_ordered(run_chunk, tasks, sched):
        accs[result.arm_index].add(result)
        done += result.n_patients
        if progress is not None:
            progress(done, total)
    probs = np.asarray(spec.outputs.percentiles) / 100.0
    pcols = [f"p{p:g}" for p in spec.outputs.percentiles]
    frames = []
    ep_rows: list[dict[str, Any]] = []
    findings: list[Finding] = []
    if bounds is not None and isinstance(spec.population, PresetPopulation):
        shown = ", ".join(f"{k} {lo:g}-{hi:g}" for k, (lo, hi) in bounds.items()
                          if np.isfinite(hi) or k == "age_years")
        findings.append(Finding(
            "population.preset", "info",
            f"covariates from preset {spec.population.preset} "
            f"(validity = {spec.population.validity!r}): sampled within {shown}",
            spec.population.source))
    for arm, acc in zip(arms, accs, strict=True):
        q = quantiles_from_counts(acc.profile, probs, bins)  # (T, n_out, Q)
        wanted = [n for n in spec.outputs.names or arm.output_names if n in arm.output_names]
        for name in wanted:
            o = arm.output_names.index(name)
            frame = pd.DataFrame({"arm": arm.name, "output": name, "time_min": grid,
                                  "n": acc.profile[:, o, :].sum(axis=1)})
            for k, col in enumerate(pcols):
                frame[col] = q[:, o, k]
            frames.append(frame)
        eq = quantiles_from_counts(acc.endpoint_counts, probs, _ENDPOINT_BINS)
        for j, ep in enumerate(spec.endpoints):
            if not spec.endpoint_applies(j, arm.name):
                continue
            n = acc.n_patients
            mean = acc.endpoint_sum[j] / n
            var = max(acc.endpoint_sumsq[j] / n - mean * mean, 0.0) * n / max(n - 1, 1)
            row: dict[str, Any] = {
                "arm": arm.name, "endpoint": ep.name, "kind": ep.kind, "output": ep.output,
                "unit": ep.unit, "threshold_ng_per_ml": ep.threshold_ng_per_ml, "n": n,
                "mean": mean, "sd": float(np.sqrt(var)), "min": acc.endpoint_min[j],
                "max": acc.endpoint_max[j]}
            for k, col in enumerate(pcols):
                row[col] = eq[j, k]
            if ep.kind in ("probability_above", "pd_event"):
                k_ = int(acc.exceed[j])
                lo, hi = _wilson(k_, n)
                row.update({"count": k_, "probability": k_ / n, "ci95_low": lo,
                            "ci95_high": hi})
            _pd_row(row, ep, arm, j, n, mean, float(np.sqrt(var)), int(acc.exceed[j]))
            ep_rows.append(row)
        findings.extend(_pd_findings(arm))
        if acc.outside_validity:
            findings.append(Finding(
                "population.validity", "warn",
                f"arm {arm.name!r}: {acc.outside_validity} of {acc.n_patients} virtual patients "
                f"lie outside the covariate ranges model {arm.model.id} was built on",
                f"model file {arm.model.id}"))
        if arm.model.iov:
            findings.append(Finding(
                "population.iov", "info",
                f"arm {arm.name!r}: inter-occasion variability of {arm.model.id} on "
                f"{', '.join(arm.model.iov)}: a new draw per dosing day (occasion)",
                f"model file {arm.model.id}"))
        if arm.omega.assumed:
            findings.append(Finding(
                "population.assumed_variability", "info",
                f"arm {arm.name!r}: variability is ASSUMED, not published "
                f"({arm.variability})", "trial spec"))
    summary = pd.concat(frames, ignore_index=True)
    endpoints = pd.DataFrame(ep_rows)
    indiv = params = None
    if individuals:
        parts, pparts = [], []
        for arm, acc in zip(arms, accs, strict=True):
            for chunk in acc.individuals:
                f = pd.DataFrame(chunk)
                f.insert(0, "arm", arm.name)
                parts.append(f)
            for chunk in acc.parameters:
                f = pd.DataFrame(chunk)
                f.insert(0, "arm", arm.name)
                pparts.append(f)
        indiv = pd.concat(parts, ignore_index=True) if parts else None
        params = pd.concat(pparts, ignore_index=True) if pparts else None
    from ketasim.pk.simulate import _version

    provenance = {
        "seed": spec.seed, "n_per_arm": spec.n, "chunk_size": spec.chunk_size,
        "scheduler": sched.describe(), "ketasim_version": _version(),
        "models": {a.name: {"id": a.model.id, "citation": a.model.citation.text,
                            "doi": a.model.citation.doi, "pmid": a.model.citation.pmid}
                   for a in arms},
        "population_source": spec.population.source,
        "histogram": "128 bins per octave (relative width <= 0.78%); quantiles "
                     "interpolated log-linearly within a bin",
    }
    replicate_bands = None
    if spec.replicates > 1 and spec.replicate is None:
        from ketasim.population.replicates import replicate_bands as _bands

        replicate_bands = _bands(spec, scheduler=sched)
        provenance["replicates"] = (
            f"{spec.replicates} replicate trials of {spec.n} patients per arm, each with the "
            "models' estimates drawn from their published RSEs (independent truncated normals)")
    return TrialResult(spec=spec, summary=summary, endpoints=endpoints,
                       variability={a.name: a.variability for a in arms},
                       findings=tuple(findings), individuals=indiv,
                       individual_parameters=params, provenance=provenance,
                       replicate_bands=replicate_bands)
