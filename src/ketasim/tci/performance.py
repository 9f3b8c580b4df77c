"""TCI under model misspecification: Varvel's performance measures over a simulated population.

A plan's rate schedule (computed for the model's typical patient) is replayed into "true"
patients: the same covariates with random effects drawn from a model's inter-individual
variability (the plan's model, or another one). For each true patient and each sample time the
performance error is ``PE = (C_true - C_predicted) / C_predicted x 100`` and, following Varvel,
Donoho & Shafer (J Pharmacokinet Biopharm 1992;20:63-94):

- MDPE = median PE (bias), MDAPE = median |PE| (inaccuracy),
- divergence = slope of the least-squares line of |PE| against time (% per hour),
- wobble = median |PE - MDPE| (intra-individual variability of PE).

The population is summarised by the median and the 10th and 90th percentiles of the individual
values. True concentrations are noise-free model predictions (no assay error is added).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.pk.system import LinearSystem, build_system
from ketasim.pk.variability import sample_etas
from ketasim.tci.effect import _iv_state, with_effect_site
from ketasim.tci.plan import TciPlan, replay_rates
from ketasim.types import FloatArray

__all__ = ["TciPerformance", "VarvelMeasures", "sample_etas", "tci_performance", "varvel_measures"]


@dataclass(frozen=True, slots=True)
class VarvelMeasures:
    """Varvel's measures for one patient (percent; divergence in percent per hour)."""

    mdpe_percent: float
    mdape_percent: float
    divergence_percent_per_h: float
    wobble_percent: float


def varvel_measures(
    times_min: FloatArray, measured: FloatArray, predicted: FloatArray
) -> VarvelMeasures:
    """Varvel's MDPE, MDAPE, divergence and wobble from paired concentrations.

    Samples with a predicted concentration <= 0 are ignored (PE is undefined there).
    """
    t = np.asarray(times_min, dtype=float)
    m = np.asarray(measured, dtype=float)
    p = np.asarray(predicted, dtype=float)
    keep = p > 0
    if np.count_nonzero(keep) < 2:
        raise InputError("samples", "need at least two samples with a predicted concentration > 0")
    pe = (m[keep] - p[keep]) / p[keep] * 100.0
    mdpe = float(np.median(pe))
    ape = np.abs(pe)
    th = t[keep] / 60.0
    divergence = float(np.polyfit(th, ape, 1)[0]) if np.ptp(th) > 0 else 0.0
    return VarvelMeasures(
        mdpe, float(np.median(ape)), divergence, float(np.median(np.abs(pe - mdpe)))
    )


@dataclass(frozen=True)
class TciPerformance:
    """Performance of one TCI plan across simulated true patients.

    ``per_patient`` holds each patient's :class:`VarvelMeasures`; :meth:`summary` gives the
    population median and 10th-90th percentiles.
    """

    plan_model_id: str
    true_model_id: str
    site: str
    sample_times_min: FloatArray
    per_patient: tuple[VarvelMeasures, ...]
    seed: int | None
    pe_quantiles_percent: FloatArray = field(default_factory=lambda: np.zeros((3, 0)))
    """10th, 50th and 90th percentiles of PE (%) across patients at each sample time."""

    def summary(self) -> dict[str, dict[str, float]]:
        """``{measure: {"median", "p10", "p90"}}`` across patients."""
        out: dict[str, dict[str, float]] = {}
        for key in ("mdpe_percent", "mdape_percent", "divergence_percent_per_h", "wobble_percent"):
            values = np.array([getattr(v, key) for v in self.per_patient])
            out[key] = {
                "median": float(np.median(values)),
                "p10": float(np.percentile(values, 10)),
                "p90": float(np.percentile(values, 90)),
            }
        return out


def _true_system(plan: TciPlan, model: ModelSpec, etas: dict[str, float]) -> LinearSystem:
    system = build_system(model, plan.patient, etas=etas)
    if plan.effect_site is not None:
        system = with_effect_site(system, plan.analyte, plan.effect_site.ke0_per_min)
    return system


def tci_performance(
    plan: TciPlan,
    *,
    n_patients: int = 100,
    true_model: ModelSpec | None = None,
    plan_model: ModelSpec | None = None,
    site: Literal["plasma", "effect"] = "plasma",
    sample_every_min: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> TciPerformance:
    """Replay ``plan`` into ``n_patients`` true patients and compute Varvel's measures.

    ``true_model`` (default ``plan_model``, the model the plan was made with) supplies the
    variability the true patients are drawn from; a true model without variability gives
    one true patient, its typical individual. The effect site of the true patients uses
    the plan's ke0. Samples are taken every ``sample_every_min`` (rounded to the pump grid)
    from the first interval on.
    """
    model = true_model or plan_model
    if model is None:
        raise InputError("true_model", "give the plan's model (plan_model) or a true_model")
    if not 1 <= n_patients <= 100_000:
        raise InputError("n_patients", f"{n_patients} is outside 1 to 100000")
    h = plan.pump.update_interval_min
    stride = max(1, round(sample_every_min / h))
    idx = np.arange(stride, plan.times_min.size, stride)
    times = plan.times_min[idx]
    name = f"{plan.analyte}_{site}"
    if name not in plan.concentrations_ng_per_ml:
        raise InputError("site", f"the plan has no {name} concentration")
    predicted = plan.concentrations_ng_per_ml[name][idx]
    seed = rng if isinstance(rng, int) else None
    measures = []
    pes = []
    # a true model without variability is one true patient (its typical values)
    draws = sample_etas(model, n_patients, rng) if model.iiv else [{}]
    for etas in draws:
        system = _true_system(plan, model, etas)
        states = replay_rates(system, _iv_state(system), plan.rate_mg_per_min, h)
        row = next(o.row for o in system.outputs if o.name == name)
        true = states[idx] @ row * 1000.0
        measures.append(varvel_measures(times, true, predicted))
        with np.errstate(divide="ignore", invalid="ignore"):
            pes.append(np.where(predicted > 0, (true - predicted) / predicted * 100.0, np.nan))
    quantiles = np.nanpercentile(np.array(pes), [10, 50, 90], axis=0)
    return TciPerformance(
        plan.model_id,
        model.id,
        site,
        times,
        tuple(measures),
        seed,
        np.asarray(quantiles, dtype=float),
    )
