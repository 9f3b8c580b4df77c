"""Relapse on *rated* MADRS at visits, with the within-patient fluctuation (pure numerics).

A responder is a patient whose rating at the reference time meets response (<= 50% of
baseline); a relapse is a rating that no longer meets it at any later visit up to the time
asked. Ratings are the patient's trajectory times ``exp(x(t))`` (x: the Ornstein-Uhlenbeck
fluctuation of :mod:`ketasim.pd.antidepressant_fluctuation`, size ``fluctuation_sd_log`` and
correlation time ``fluctuation_tau_h``, started at 0 at the first session) plus the rating error
(normal, SD ``residual_sd_madrs``, independent between visits).

Given the random effects and the fluctuation path, the rating errors are independent, so the
probability of staying a responder through the visits is a product of normal CDFs: the
estimator integrates the rating error exactly, the random effects by equal-probability
quadrature and the fluctuation by Monte Carlo with common random numbers (a fixed seed: the
same normals for every parameter value, so the prediction is a smooth function of the
parameters and a fit can use it). The Monte Carlo error is reported from independent groups of
paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from ketasim.errors import InputError
from ketasim.pd.antidepressant_fluctuation import ou_paths
from ketasim.pd.antidepressant_params import AntidepressantParams
from ketasim.pd.antidepressant_parts import individual_scores
from ketasim.pd.antidepressant_population import quadrature_nodes

__all__ = [
    "VISIT_EVERY_H",
    "RatedRelapse",
    "fluctuation_variance",
    "rated_relapse_probability",
    "relapse_is_rated",
    "visit_times",
]

FloatArray = NDArray[np.float64]
RELAPSE_SEED = 20031122  # common random numbers of the fluctuation paths (a fixed choice)
VISIT_EVERY_H = 168.0  # rating visits after a course: weekly (an assumption, see the docs)


def relapse_is_rated(params: AntidepressantParams) -> bool:
    """Whether relapse is judged on rated MADRS at visits (``relapse_on_ratings``, always with a
    fluctuation) rather than on the trajectory at the time asked."""
    return params.relapse_on_ratings > 0 or params.fluctuation_sd_log > 0


def visit_times(from_h: float, to_h: float, every_h: float = VISIT_EVERY_H) -> FloatArray:
    """The reference time ``from_h``, then visits every ``every_h`` up to ``to_h`` (the last
    visit at ``to_h``)."""
    if not to_h > from_h or not every_h > 0:
        raise InputError("times_h", f"visits need {to_h!r} > {from_h!r} h and a spacing > 0")
    k = max(math.ceil((to_h - from_h) / every_h - 1e-9), 1)
    return np.asarray(np.minimum(from_h + every_h * np.arange(k + 1), to_h), dtype=np.float64)


def fluctuation_variance(times_h: FloatArray, params: AntidepressantParams) -> FloatArray | None:
    """Variance of the fluctuation at ``times_h`` (h after the first session),
    ``sd^2 (1 - exp(-2 t / tau))``; None when the model has no fluctuation."""
    if params.fluctuation_sd_log <= 0:
        return None
    t = np.maximum(np.asarray(times_h, dtype=np.float64), 0.0)
    return np.asarray(
        params.fluctuation_sd_log**2 * -np.expm1(-2.0 * t / params.fluctuation_tau_h),
        dtype=np.float64,
    )


@dataclass(frozen=True)
class RatedRelapse:
    """P(relapse by the last visit | responder at the reference time), its Monte Carlo
    standard error, and the fraction of patients who were responders at the reference time."""

    probability: float
    mc_se: float
    responders: float


def rated_relapse_probability(
    baseline_madrs: float,
    placebo_h: FloatArray,
    ce_ng_per_ml: FloatArray,
    times_h: FloatArray,
    params: AntidepressantParams,
    *,
    drug_scale: FloatArray | float = 1.0,
    paths: int = 16,
    nodes: tuple[int, int] = (40, 40),
    seed: int = RELAPSE_SEED,
) -> RatedRelapse:
    """Relapse among rated responders (see the module text).

    ``times_h`` (V + 1,): the reference time, then the visits (ascending, h after the first
    session); ``placebo_h``, ``ce_ng_per_ml`` and ``drug_scale`` at those times. ``paths``
    fluctuation paths per quadrature node (``nodes`` per axis over eta_P, eta_D)."""
    t = np.asarray(times_h, dtype=np.float64)
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
        raise InputError("times_h", "give the reference time and at least one later visit")
    if params.fluctuation_sd_log <= 0:
        paths = 1  # no fluctuation: nothing random left, the estimate is exact
    elif paths < 2:
        raise InputError("paths", f"{paths!r} must be >= 2 (the Monte Carlo error needs groups)")
    ep, ed, w = quadrature_nodes(params, nodes)
    scores = individual_scores(baseline_madrs, placebo_h, ce_ng_per_ml, params, ep, ed, drug_scale)
    n = ep.size
    x = ou_paths(
        n * paths,
        t,
        params.fluctuation_sd_log,
        params.fluctuation_tau_h if params.fluctuation_tau_h > 0 else 1.0,
        np.random.default_rng(seed),
    ).reshape(paths, n, t.size)
    rated = scores[None, :, :] * np.exp(x)  # (paths, nodes, V + 1), before the rating error
    half = 0.5 * baseline_madrs
    sd = params.residual_sd_madrs
    p_resp = ndtr((half - rated) / sd) if sd > 0 else (rated <= half).astype(np.float64)
    at_ref = p_resp[:, :, 0]
    stay = np.prod(p_resp[:, :, 1:], axis=2)
    num = (at_ref * (1.0 - stay)) @ w  # (paths,)
    den = at_ref @ w
    if float(den.sum()) <= 0:
        return RatedRelapse(0.0, 0.0, 0.0)
    prob = float(num.sum() / den.sum())
    groups = num / np.maximum(den, 1e-300)
    se = float(np.std(groups, ddof=1) / np.sqrt(paths)) if paths > 1 else 0.0
    return RatedRelapse(prob, se, float(den.mean()))
