"""Virtual patients of the EMPIRICAL antidepressant model: random effects, baselines, ratings.

The one implementation used by virtual trials (:mod:`ketasim.population.pd_endpoints`) and the
forecast tests: arrays over patients; one patient is a batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.pd.antidepressant import AntidepressantParams
from ketasim.pd.antidepressant_parts import individual_scores

__all__ = ["Individuals", "draw_individuals", "individual_ratings"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Individuals:
    """Drawn virtual patients: random effects and baseline MADRS, arrays of shape (n,)."""

    eta_placebo: FloatArray
    eta_drug: FloatArray
    baseline_madrs: FloatArray


def draw_individuals(
    params: AntidepressantParams,
    n: int,
    rng: np.random.Generator,
    *,
    baseline_madrs: float | None = None,
) -> Individuals:
    """n patients: ``eta_P``, ``eta_D`` normal with the model's omegas; baseline normal around
    ``baseline_madrs`` (default the typical value) with the model's SD, kept within [1, 60]."""
    mean = params.typical_baseline_madrs if baseline_madrs is None else float(baseline_madrs)
    eta_p = rng.normal(0.0, params.omega_placebo, n)
    eta_d = rng.normal(0.0, params.omega_drug, n)
    bl = np.clip(rng.normal(mean, params.baseline_sd_madrs, n), 1.0, 60.0)
    return Individuals(eta_p, eta_d, bl)


def individual_ratings(
    individuals: Individuals,
    placebo_h: FloatArray,
    ce_ng_per_ml: FloatArray,
    params: AntidepressantParams,
    rng: np.random.Generator,
) -> FloatArray:
    """Rated MADRS of drawn patients: their trajectory plus the rating error, within [0, 60].

    ``placebo_h``: typical placebo part at the times (T,); ``ce_ng_per_ml``: (n, T) exposure
    memory from each patient's own exposure. Returns (n, T)."""
    true = individual_scores(
        individuals.baseline_madrs,
        placebo_h,
        ce_ng_per_ml,
        params,
        individuals.eta_placebo,
        individuals.eta_drug,
    )
    noise = rng.normal(0.0, params.residual_sd_madrs, true.shape)
    return np.asarray(np.clip(true + noise, 0.0, 60.0), dtype=np.float64)
