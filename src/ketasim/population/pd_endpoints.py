"""PD endpoints of virtual trials: peak effects, PD event probabilities and response rates.

Effects come from the PD layer's model files (:mod:`ketasim.pd`), joined to each virtual patient
the way :func:`ketasim.pd.simulate_effects` does it:

- the driver is the effect-site concentration with the **PD paper's ke0**, added to every
  patient's linear system as one more state (``<analyte>_pd_<pd model id>``), or the plasma
  concentration when the PD model has no ke0 (``[effect_site]`` without ``t_half_ke0``);
- a C50 given for the S-enantiomer is applied to half the racemic concentration after a racemic
  PK model (the PD layer's approximation);
- each endpoint is monotone in the driver for one patient (Hill and Emax curves, a fractional
  inhibitory curve, a one-analyte linear slope), so the extreme effect over a window is the
  effect at the patient's peak driver concentration, which the kernel already accumulates
  (``max`` over the window). Nothing N x T is stored.

Kinds (``[[endpoints]]``):

- ``pd_peak``: per patient, the effect at the peak driver concentration in the window (the
  highest effect, or the lowest for a decreasing effect such as the Herd 2008 sedation score);
  ``Ce/C50`` at the peak when the paper's Hill coefficient was not found;
- ``pd_event``: the same value plus the exact number (and fraction) of patients in whom the event
  happens at an output time of the window: ``effect_below`` (decreasing effects) or
  ``effect_above`` (increasing effects) a level, or ``ce_over_c50_above`` (driver above a multiple
  of C50: 1 = the published C50);
- ``response_rate``, ``remission_rate``, ``relapse_rate``: the EMPIRICAL antidepressant model
  (:mod:`ketasim.pd.antidepressant`). Each virtual patient gets the model's random effects and
  baseline MADRS (drawn once per chunk, shared by the endpoints and, for paired comparisons, by
  the arms), an exposure memory from their own parent plasma curve (2-min steps, the exact step
  of :func:`ketasim.pd.antidepressant.exposure_memory`) and rated MADRS scores with the model's
  rating error; the rates count individual patients.

Between-patient PD variability (``pd_iiv = true``, the default): each parameter with a published
``iiv_cv_percent`` is sampled log-normal per patient (fractional Imax capped at 1), as
:func:`ketasim.pd.endpoint_band` does; the log-normal form is an assumption unless the PD file
says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelNotFoundError
from ketasim.pd import (
    AntidepressantParams,
    Individuals,
    PDModelSpec,
    default_antidepressant_params,
    individual_ratings,
    pd_ke0_per_min,
    placebo_parts,
    potency_factor,
    resolve_pd_model,
    session_times_h,
)
from ketasim.pd.antidepressant_relapse import relapse_is_rated, visit_times
from ketasim.pd.effects import _same_drug, analyte_role  # the PD layer's drug matching
from ketasim.pd.response import fractional_inhibitory, hill_fraction, linear_effect, sigmoid_emax
from ketasim.pd.schema import Endpoint as PDEndpoint
from ketasim.pk import Regimen
from ketasim.pk.effect_site import append_effect_sites
from ketasim.population.batch import NG_PER_ML_PER_MG_PER_L, BatchSystem, batch_inputs
from ketasim.population.exposure_memory import exposure_memory_at
from ketasim.population.occasions import OccasionBatch
from ketasim.types import FloatArray
from ketasim.units import MOLECULAR_WEIGHT_G_PER_MOL, convert

__all__ = [
    "ANTIDEPRESSANT_KINDS",
    "PDPlan",
    "ResponsePlan",
    "add_pd_sites",
    "antidepressant_outcomes",
    "pd_values",
    "plan_pd_endpoint",
    "plan_response_rate",
    "sample_pd_parameters",
]

_PARENTS = ("ketamine", "esketamine", "arketamine")
ANTIDEPRESSANT_KINDS = ("response_rate", "remission_rate", "relapse_rate")


@dataclass(frozen=True)
class PDPlan:
    """How one ``pd_peak``/``pd_event`` endpoint is computed for one arm's model.

    ``driver``: output name whose window maximum drives the effect (ng/mL); ``site``: an effect
    state to add, (analyte, ke0 1/min), or None (plasma driver); ``scale``: factor on the driver
    (0.5 for an S-enantiomer C50 after racemic ketamine); ``direction``: +1 if the effect rises
    with concentration, -1 if it falls; ``unit``: unit of the per-patient value.
    """

    pd_model: PDModelSpec
    endpoint: PDEndpoint
    driver: str
    site: tuple[str, float] | None
    scale: float
    direction: int
    unit: str
    ratio_only: bool


@dataclass(frozen=True)
class ResponsePlan:
    """How an antidepressant endpoint (``response_rate``, ``remission_rate``, ``relapse_rate``)
    is computed: parent plasma output, assessment time (h after the first dose), background
    treatment, baseline MADRS, empirical parameters, kind, remission cutoff (MADRS points) and
    whether the arm is a placebo arm (the same sessions without drug)."""

    parent_output: str
    at_h: float
    background: str
    baseline_madrs: float | None
    params: AntidepressantParams
    kind: str = "response_rate"
    remission_cutoff: float = 10.0
    placebo: bool = False


def plan_pd_endpoint(
    model: ModelSpec, pd_model_name: str, pd_endpoint: str, *, field: str, condition: str | None
) -> PDPlan:
    """Resolve a PD model endpoint against a PK model; errors name ``field`` (``endpoints[j]``).

    ``condition``: ``effect_above``, ``effect_below``, ``ce_over_c50_above`` or None.
    """
    try:
        pd_model = resolve_pd_model(pd_model_name)
    except ModelNotFoundError as exc:
        raise InputError(f"{field}.pd_model", str(exc).removeprefix("--pd: ")) from None
    names = [e.name for e in pd_model.endpoints]
    if pd_endpoint not in names:
        raise InputError(
            f"{field}.pd_endpoint",
            f"{pd_model.id} has no endpoint {pd_endpoint!r}; it has {', '.join(names)}",
        )
    ep = pd_model.endpoint(pd_endpoint)
    if ep.drug is not None and model.drug and not _same_drug(ep.drug, model.drug):
        raise InputError(
            f"{field}.pd_endpoint",
            f"{pd_model.id} {ep.name} was estimated for "
            f"{ep.drug}, not for model {model.id}'s {model.drug}",
        )
    if ep.kind == "linear":
        if len(ep.slopes) != 1 or (ep.e0 is not None and ep.e0.value != 0):
            raise InputError(
                f"{field}.pd_endpoint",
                f"{pd_model.id} {ep.name} is linear in "
                "several analytes (or has a baseline); its peak is not the effect "
                "at one peak concentration, so it is not supported here",
            )
        role = ep.slopes[0].analyte
        direction = 1 if ep.slopes[0].value >= 0 else -1
    else:
        role = ep.analyte
        direction = (
            -1
            if ep.kind == "fractional_inhibitory"
            or (ep.kind == "sigmoid_emax" and ep.emax is not None and ep.emax.value < 0)
            else 1
        )
    analyte = next((a.name for a in model.analytes if analyte_role(a.name) == role), None)
    if analyte is None:
        raise InputError(
            f"{field}.pd_endpoint",
            f"{pd_model.id} {ep.name} is driven by {role}, which model {model.id} does not produce",
        )
    ratio_only = ep.kind != "linear" and ep.gamma is None
    if condition == "ce_over_c50_above" and ep.c50 is None:
        raise InputError(f"{field}.ce_over_c50_above", f"{pd_model.id} {ep.name} has no C50")
    if condition in ("effect_above", "effect_below") and ratio_only:
        raise InputError(
            f"{field}.{condition}",
            f"{pd_model.id} {ep.name}: the Hill "
            "coefficient was not found, so there is no effect value; use "
            "ce_over_c50_above",
        )
    if (condition == "effect_above" and direction < 0) or (
        condition == "effect_below" and direction > 0
    ):
        raise InputError(
            f"{field}.{condition}",
            f"{pd_model.id} {ep.name} "
            f"{'falls' if direction < 0 else 'rises'} with concentration; use "
            f"{'effect_below' if direction < 0 else 'effect_above'}",
        )
    ke0 = pd_ke0_per_min(pd_model)
    racemic = model.drug is not None and _same_drug(model.drug, "racemic ketamine")
    scale = 0.5 if ep.enantiomer == "S" and racemic else 1.0
    if ke0 is None:
        driver, site = f"{analyte}_plasma", None
    else:
        driver, site = f"{analyte}_pd_{pd_model.id}", (analyte, ke0)
    unit = "Ce/C50" if ratio_only else ep.effect_unit
    return PDPlan(pd_model, ep, driver, site, scale, direction, unit, ratio_only)


def add_pd_sites(system: BatchSystem, sites: tuple[tuple[str, float, str], ...]) -> BatchSystem:
    """A copy of ``system`` with one effect state per (analyte, ke0 1/min, output name):
    ``dCe/dt = ke0 (Cp - Ce)`` on the analyte's plasma concentration.

    The engine's effect-site equation (:func:`ketasim.pk.effect_site.append_effect_sites`), as
    :func:`ketasim.pd.add_effect_site` uses it for one patient; the outputs (ng/mL) are
    appended in the order of ``sites``.
    """
    if not sites:
        return system
    n_pat, n, _ = system.K.shape
    m = len(sites)
    rows = (
        np.stack(
            [
                system.C[:, system.output_names.index(f"{analyte}_plasma"), :]
                for analyte, _, _ in sites
            ],
            axis=1,
        )
        / NG_PER_ML_PER_MG_PER_L
    )  # mg/L
    ke0 = np.broadcast_to(np.array([ke0 for _, ke0, _ in sites], dtype=np.float64), (n_pat, m))
    K = append_effect_sites(system.K, rows, ke0)
    C = np.zeros((n_pat, system.C.shape[1] + m, n + m))
    C[:, : system.C.shape[1], :n] = system.C
    for i in range(m):
        C[:, system.C.shape[1] + i, n + i] = NG_PER_ML_PER_MG_PER_L
    return BatchSystem(
        system.model_id,
        K,
        C,
        (*system.state_names, *(f"effect_{name}" for _, _, name in sites)),
        (*system.output_names, *(name for _, _, name in sites)),
        system.values,
    )


def _conc(p: float, unit: str, analyte: str) -> float:
    return convert(p, unit, "ng/mL", molecular_weight_g_per_mol=MOLECULAR_WEIGHT_G_PER_MOL[analyte])


def sample_pd_parameters(
    ep: PDEndpoint, n: int, gen: np.random.Generator, *, iiv: bool
) -> dict[str, FloatArray]:
    """Per-patient PD parameters (``c50_ng_per_ml``, ``emax``, ``imax``, ``e0``, ``gamma``,
    ``slope_per_ng_per_ml``), typical values or log-normal draws of the published CVs.

    Always draws ``n`` normals per parameter that publishes a CV (whether or not ``iiv``), so
    the stream's use never depends on the settings of other endpoints' values.
    """
    out: dict[str, FloatArray] = {}
    for name in ("c50", "emax", "imax", "e0", "gamma"):
        p = getattr(ep, name)
        if p is None:
            continue
        value = p.value
        if name == "c50":
            value = _conc(p.value, p.unit, ep.analyte)
        if p.iiv_cv_percent is not None:
            omega = math.sqrt(math.log(1.0 + (p.iiv_cv_percent / 100.0) ** 2))
            eta = gen.normal(0.0, omega, n)
            draws = value * np.exp(eta) if iiv else np.full(n, value)
        else:
            draws = np.full(n, value)
        if name == "imax":
            draws = np.minimum(draws, 1.0)
        out["c50_ng_per_ml" if name == "c50" else name] = draws
    if ep.kind == "linear":
        s = ep.slopes[0]
        per = _conc(1.0, s.per_unit, s.analyte)
        out["slope_per_ng_per_ml"] = np.full(n, s.value / per)
    return out


def pd_values(
    plan: PDPlan, peak_driver_ng_per_ml: FloatArray, params: Mapping[str, FloatArray]
) -> FloatArray:
    """Per-patient effect at the peak driver concentration (or Ce/C50 when ``ratio_only``).

    The PD layer's response functions (:mod:`ketasim.pd.response`) on parameter arrays.
    """
    c = np.maximum(np.asarray(peak_driver_ng_per_ml, dtype=np.float64), 0.0) * plan.scale
    ep = plan.endpoint
    if ep.kind == "linear":
        return linear_effect(0.0, [(params["slope_per_ng_per_ml"], c)])
    if plan.ratio_only:
        return np.asarray(c / params["c50_ng_per_ml"], dtype=np.float64)
    c50, gamma = params["c50_ng_per_ml"], params["gamma"]
    if ep.kind == "sigmoid_emax":
        return sigmoid_emax(c, e0=params.get("e0", 0.0), emax=params["emax"], c50=c50, gamma=gamma)
    if ep.kind == "fractional_inhibitory":
        return fractional_inhibitory(c, e0=params["e0"], imax=params["imax"], c50=c50, gamma=gamma)
    return hill_fraction(c, c50, gamma)


def plan_response_rate(
    model: ModelSpec,
    *,
    field: str,
    at_h: float,
    background: str,
    baseline_madrs: float | None,
    kind: str = "response_rate",
    remission_cutoff: float = 10.0,
    placebo: bool = False,
) -> ResponsePlan:
    """Check that ``model`` has a parent plasma output and the settings are valid."""
    parent = next((f"{a.name}_plasma" for a in model.analytes if a.name in _PARENTS), None)
    if parent is None:
        raise InputError(
            f"{field}.kind",
            f"{kind} needs a ketamine or esketamine plasma output; model {model.id} has none",
        )
    if not at_h > 0:
        raise InputError(f"{field}.at", "the assessment time must be after the first dose")
    if baseline_madrs is not None and not 0 < baseline_madrs <= 60:
        raise InputError(f"{field}.baseline_madrs", f"{baseline_madrs!r} must lie in (0, 60]")
    if not 0 <= remission_cutoff <= 60:
        raise InputError(
            f"{field}.remission_cutoff", f"{remission_cutoff!r} must lie in [0, 60] MADRS points"
        )
    return ResponsePlan(
        parent,
        at_h,
        background,
        baseline_madrs,
        default_antidepressant_params(),
        kind,
        remission_cutoff,
        placebo,
    )


def _exposure_memory_at(
    plan: ResponsePlan,
    model: ModelSpec,
    system: BatchSystem,
    regimen: Regimen,
    weight_kg: FloatArray,
    times_h: list[float],
    segments: OccasionBatch | None = None,
) -> FloatArray:
    """Per patient, the racemic-equivalent exposure memory Ce (ng/mL) at ``times_h``, shape
    (n, len(times)) (:mod:`ketasim.population.exposure_memory`); ``segments``: the arm's
    segmented systems and inputs (steady state, covariate changes, IOV, TAFD), else one."""
    if plan.placebo:
        return np.zeros((system.n_patients, len(times_h)))
    if segments is None:
        inputs = batch_inputs(model, system, regimen, weight_kg)
        segments = OccasionBatch((system,), (-np.inf,), inputs, {})
    ss = None
    if segments.steady_interval_min is not None:  # the memory at its periodic steady state too
        ss = (min(d.time_min for d in regimen) / 60.0, segments.steady_interval_min / 60.0)
    ce = exposure_memory_at(
        segments,
        segments.inputs,
        plan.parent_output,
        plan.params.ke0_per_h,
        times_h,
        steady_state=ss,
        scale=potency_factor(plan.parent_output, plan.params),
        power=plan.params.exposure_power,
    )
    return ce


def antidepressant_outcomes(
    plan: ResponsePlan,
    model: ModelSpec,
    system: BatchSystem,
    regimen: Regimen,
    weight_kg: FloatArray,
    individuals: Individuals,
    rating_rng: Callable[[float], np.random.Generator],
    segments: OccasionBatch | None = None,
) -> tuple[FloatArray, int]:
    """Per drawn patient, the endpoint's 0/1 value and the count behind the rate.

    ``response_rate`` / ``remission_rate``: 1 if the patient's rating at ``at`` meets response
    (<= 50% of their baseline) / remission (<= the cutoff); count = those patients.
    ``relapse_rate``: 1 if the patient responded at the end of the course (last session + 24 h)
    and no longer does at ``at`` (or, with ``relapse_on_ratings``, at any weekly visit up to
    ``at``); count = the responders at the end of the course (the
    denominator). ``rating_rng(t_h)``: the generator of the rating errors at time t (the same
    for every endpoint, so one patient's ratings agree across endpoints). ``segments``: the
    arm's segmented systems and inputs, if any (the exposure follows them). The model itself is
    :mod:`ketasim.pd.antidepressant` (placebo parts, drug part, ratings).
    """
    p = plan.params
    sessions = session_times_h(regimen)
    end_h = max(sessions) + 24.0
    if plan.kind == "relapse_rate" and not plan.at_h > end_h:
        raise InputError(
            "at",
            f"relapse_rate needs an assessment after the end of the course "
            f"(last session + 24 h = {end_h:g} h)",
        )
    times = [end_h, plan.at_h] if plan.kind == "relapse_rate" else [plan.at_h]
    if plan.kind == "relapse_rate" and relapse_is_rated(p):  # ratings at weekly visits
        times = [float(t) for t in visit_times(end_h, plan.at_h)]
    ce = _exposure_memory_at(plan, model, system, regimen, weight_kg, times, segments)
    rated = []
    for i, t in enumerate(times):
        parts = placebo_parts(np.array([t]), sessions, p, plan.background)  # type: ignore[arg-type]
        hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
        rated.append(individual_ratings(individuals, hp, ce[:, i : i + 1], p, rating_rng(t))[:, 0])
    bl = individuals.baseline_madrs
    if plan.kind == "response_rate":
        v = rated[0] <= 0.5 * bl
        return v.astype(np.float64), int(v.sum())
    if plan.kind == "remission_rate":
        v = rated[0] <= plan.remission_cutoff
        return v.astype(np.float64), int(v.sum())
    responders = rated[0] <= 0.5 * bl
    relapsed = responders & np.any(np.stack(rated[1:]) > 0.5 * bl, axis=0)
    return relapsed.astype(np.float64), int(responders.sum())
