"""Trial arms resolved for running: model (with assumed variability), regimen, outputs, PD plans.

Resolved once per spec and process (:func:`arms_cached`), so that every chunk a worker runs
reuses them. Randomness comes from :func:`stream`: ``SeedSequence(seed, spawn_key=key)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelNotFoundError
from ketasim.pk import Regimen
from ketasim.pk.variability import sample_thetas
from ketasim.population.covariates import PresetPopulation
from ketasim.population.pd_endpoints import (
    ANTIDEPRESSANT_KINDS,
    PDPlan,
    ResponsePlan,
    plan_pd_endpoint,
    plan_response_rate,
)
from ketasim.population.programs import (
    ENDPOINT_AUC,
    ENDPOINT_MAX,
    ENDPOINT_TIME_ABOVE,
    EndpointPlan,
)
from ketasim.population.segments import ArmChanges, CovariateStep, tafd_segment_min
from ketasim.population.spec import Arm, TrialSpec
from ketasim.population.variability import Omega, omega_matrix, with_assumed_iiv
from ketasim.regimens import parse_regimen
from ketasim.types import FloatArray
from ketasim.units import parse_duration_min

__all__ = [
    "ResolvedArm",
    "arms_cached",
    "bounds_cached",
    "endpoint_plan",
    "population_bounds",
    "resolve_arms",
    "stream",
]

_KIND_CODES = {
    "cmax": ENDPOINT_MAX,
    "probability_above": ENDPOINT_MAX,
    "auc": ENDPOINT_AUC,
    "time_above": ENDPOINT_TIME_ABOVE,
    "pd_peak": ENDPOINT_MAX,
    "pd_event": ENDPOINT_MAX,
}


def stream(seed: int, *key: int) -> np.random.Generator:
    """The random stream ``key`` of a trial seeded with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


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
    changes: ArmChanges = field(default_factory=ArmChanges)

    @property
    def segmented(self) -> bool:
        """Whether the arm's systems change with time or start at steady state (IOV,
        covariate changes, steady state: :mod:`ketasim.population.segments`)."""
        return bool(self.model.iov) or self.changes.any

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


def arm_changes(
    arm: Arm, model: ModelSpec, where: str, regimen: Regimen, until_min: float
) -> ArmChanges:
    """The arm's covariate changes and steady state, checked; errors name the field."""
    known = {"WT", "AGE", "HT", "FEMALE", *model.covariate_defaults}
    steps: list[CovariateStep] = []
    for j, change in enumerate(arm.covariate_changes):
        here = f"{where}.covariate_changes[{j}]"
        at = parse_duration_min(change.at, field=f"{here}.at")
        if steps and at <= steps[-1].at_min:
            raise InputError(
                f"{here}.at",
                f"{change.at!r} ({at:g} min) must come after the change before it "
                f"({steps[-1].at_min:g} min)",
            )
        for key, values in (("set", change.set), ("scale", change.scale)):
            for name in values:
                if name not in known:
                    raise InputError(
                        f"{here}.{key}.{name}",
                        f"model {model.id} has no covariate {name!r}; it has "
                        f"{', '.join(sorted(known))}",
                    )
        steps.append(CovariateStep(at, dict(change.set), dict(change.scale)))
    interval = arm.interval_h * 60.0 if arm.steady_state and arm.interval_h else None
    segment = None
    if model.time_varying:  # parameters change with the time after the first dose
        segment = tafd_segment_min(until_min - min(d.time_min for d in regimen))
    return ArmChanges(tuple(steps), interval, where, segment, until_min)


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
            model = sample_thetas(
                model, stream(spec.seed, 3, spec.replicate, i), field="replicates"
            )
        model = with_assumed_iiv(model, arm.assumed_iiv, field=f"{where}.assumed_iiv")
        omega = omega_matrix(model, field=f"{where}.assumed_iiv")
        regimen = parse_regimen(
            arm.regimen, route=arm.route, over=arm.over, repeat=arm.repeat, field=f"{where}.regimen"
        )
        for dose in regimen:
            if dose.route not in model.route_names:
                raise InputError(
                    f"{where}.regimen",
                    f"model {model.id} does not support route "
                    f"{dose.route!r}; supported: {', '.join(model.route_names)}",
                )
        names = _output_names(model)
        pd_plans: dict[int, PDPlan] = {}
        response_plans: dict[int, ResponsePlan] = {}
        sites: dict[str, tuple[str, float, str]] = {}
        for j, ep in enumerate(spec.endpoints):
            if not spec.endpoint_applies(j, arm.name):
                continue
            if ep.kind in ("pd_peak", "pd_event"):
                plan = plan_pd_endpoint(
                    model,
                    ep.pd_model or "",
                    ep.pd_endpoint or "",
                    field=f"endpoints[{j}]",
                    condition=ep.condition,
                )
                pd_plans[j] = plan
                if plan.site is not None:
                    sites.setdefault(plan.driver, (*plan.site, plan.driver))
                continue
            if ep.kind in ANTIDEPRESSANT_KINDS:
                at = parse_duration_min(ep.at or "", field=f"endpoints[{j}].at") / 60.0
                response_plans[j] = plan_response_rate(
                    model,
                    field=f"endpoints[{j}]",
                    at_h=at,
                    background=ep.background,
                    baseline_madrs=ep.baseline_madrs,
                    kind=ep.kind,
                    remission_cutoff=ep.remission_cutoff,
                    placebo=arm.placebo,
                )
                continue
            if ep.output not in names:
                raise InputError(
                    f"endpoints[{j}].output",
                    f"{ep.output!r} is not produced by "
                    f"model {model.id} (arm {arm.name!r}); it has "
                    f"{', '.join(names)}",
                )
        names = (*names, *sites)
        changes = arm_changes(arm, model, where, regimen, float(spec.outputs.grid()[-1]))
        arms.append(
            ResolvedArm(
                i,
                arm.name,
                model,
                regimen,
                omega,
                names,
                pd_plans,
                response_plans,
                tuple(sites.values()),
                changes,
            )
        )
    produced = {n for a in arms for n in a.output_names}
    missing = [n for n in spec.outputs.names or [] if n not in produced]
    if missing:
        raise InputError(
            "outputs.names",
            f"{', '.join(missing)} produced by no arm's model; "
            f"they produce {', '.join(sorted(produced))}",
        )
    return arms


def endpoint_plan(spec: TrialSpec, arm: ResolvedArm, grid: FloatArray) -> EndpointPlan:
    """The kernel's endpoint plan of one arm (empty windows for endpoints it does not have)."""
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
                raise InputError(
                    f"endpoints[{j}].{key}",
                    f"{text!r} ({t:g} min) is not a time "
                    f"of the output grid ({grid[0]:g} to {grid[-1]:g} min)",
                )
            bounds.append(int(hit[0]))
        if bounds[0] > bounds[1] or (bounds[0] == bounds[1] and ep.kind in ("auc", "time_above")):
            raise InputError(f"endpoints[{j}].to", "the window must end after it starts")
        plan = arm.pd_plans.get(j)
        out.append(arm.output_names.index(plan.driver if plan is not None else ep.output or ""))
        kind.append(_KIND_CODES[ep.kind])
        start.append(bounds[0])
        stop.append(bounds[1])
        thr.append(ep.threshold_ng_per_ml or 0.0)
    return EndpointPlan(
        np.array(out, dtype=np.int64),
        np.array(kind, dtype=np.int64),
        np.array(start, dtype=np.int64),
        np.array(stop, dtype=np.int64),
        np.array(thr, dtype=np.float64),
    )


_ARM_CACHE: dict[str, list[ResolvedArm]] = {}


def arms_cached(spec: TrialSpec) -> list[ResolvedArm]:
    """:func:`resolve_arms`, cached per spec in this process."""
    key = spec.model_dump_json()
    arms = _ARM_CACHE.get(key)
    if arms is None:
        if len(_ARM_CACHE) > 8:
            _ARM_CACHE.clear()
        arms = resolve_arms(spec)
        _ARM_CACHE[key] = arms
    return arms


_BOUNDS_CACHE: dict[str, dict[str, tuple[float, float]] | None] = {}


def population_bounds(
    spec: TrialSpec, arms: list[ResolvedArm]
) -> dict[str, tuple[float, float]] | None:
    """Covariate bounds of a preset population given every arm's model validity (``None`` for
    other populations); raises :class:`InputError` naming the field (see ``presets.py``)."""
    if not isinstance(spec.population, PresetPopulation):
        return None
    from ketasim.population.presets import preset_bounds

    models = list({a.model.id: a.model for a in arms}.values())
    return preset_bounds(spec.population, models)


def bounds_cached(spec: TrialSpec) -> dict[str, tuple[float, float]] | None:
    """:func:`population_bounds`, cached per spec in this process."""
    key = spec.model_dump_json()
    if key not in _BOUNDS_CACHE:
        if len(_BOUNDS_CACHE) > 8:
            _BOUNDS_CACHE.clear()
        _BOUNDS_CACHE[key] = population_bounds(spec, arms_cached(spec))
    return _BOUNDS_CACHE[key]
