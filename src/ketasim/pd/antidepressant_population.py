"""Expected outcomes of the EMPIRICAL antidepressant model over the between-patient distribution.

Quadrature (equal-probability nodes) over the two random effects (eta_P, eta_D): mean MADRS change,
response and remission probabilities, and relapse among responders. Virtual trials draw
individuals instead (:mod:`ketasim.pd.antidepressant_individuals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

from ketasim.pd.antidepressant_params import AntidepressantParams
from ketasim.pd.antidepressant_parts import individual_scores

__all__ = [
    "OutcomeProbabilities",
    "outcome_probabilities",
    "quadrature_nodes",
    "relapse_probability",
]

FloatArray = NDArray[np.float64]
_QUAD_DRUG = 64  # equal-probability nodes over eta_D
_QUAD_PLACEBO = 64  # and over eta_P
_HERMITE_DRUG = 41  # Gauss-Hermite nodes over eta_D for the mean change
_HERMITE_PLACEBO = 15  # and over eta_P
_HERMITE_FLUCTUATION = 7  # Gauss-Hermite nodes over a within-patient fluctuation


@cache
def _quantile_rule(n: int) -> FloatArray:
    """Standard-normal quantiles at the midpoints of n equal-probability bins."""
    return np.asarray(ndtri((np.arange(n) + 0.5) / n), dtype=np.float64)


@cache
def _hermite(n: int) -> tuple[FloatArray, FloatArray]:
    z, w = np.polynomial.hermite.hermgauss(n)
    return np.asarray(z, dtype=np.float64), np.asarray(w, dtype=np.float64)


def _hermite_nodes(params: AntidepressantParams) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Product Gauss-Hermite rule (15 x 41 nodes) over (eta_P, eta_D): for smooth integrands."""
    zp, wp = _hermite(_HERMITE_PLACEBO)
    zd, wd = _hermite(_HERMITE_DRUG)
    ep = math.sqrt(2.0) * params.omega_placebo * zp
    ed = math.sqrt(2.0) * params.omega_drug * zd
    w = np.outer(wp, wd).ravel() / math.pi
    return np.repeat(ep, zd.size), np.tile(ed, zp.size), w


def quadrature_nodes(
    params: AntidepressantParams, nodes: tuple[int, int] = (_QUAD_PLACEBO, _QUAD_DRUG)
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Nodes (eta_P, eta_D) and weights of a product equal-probability (quantile midpoint) rule.

    Response and remission are thresholds of the random effects (step integrands); a
    Gauss-Hermite rule puts a few heavy nodes far in the tails and quantises such probabilities
    (with omega_placebo ~ 2 it gave 0.30 for true probabilities of 0.25 and 0.38); equal weights
    bound the error of a step by 1/n per axis (smaller with the rating error smoothing it)."""
    zp = _quantile_rule(nodes[0])
    zd = _quantile_rule(nodes[1])
    ep = params.omega_placebo * zp
    ed = params.omega_drug * zd
    w = np.full(zp.size * zd.size, 1.0 / (zp.size * zd.size))
    return np.repeat(ep, zd.size), np.tile(ed, zp.size), w


@dataclass(frozen=True)
class OutcomeProbabilities:
    """Expected outcomes over the between-patient distribution at given times."""

    mean_change: FloatArray
    response: FloatArray
    remission: FloatArray


def outcome_probabilities(
    baseline_madrs: float,
    placebo_h: FloatArray,
    ce_ng_per_ml: FloatArray,
    params: AntidepressantParams,
    *,
    remission_cutoff: float = 10.0,
    nodes: tuple[int, int] = (_QUAD_PLACEBO, _QUAD_DRUG),
    probabilities: bool = True,
    drug_scale: FloatArray | float = 1.0,
    fluctuation_var: FloatArray | None = None,
) -> OutcomeProbabilities:
    """Mean MADRS change and the probabilities that a patient's rating meets response
    (<= 50% of baseline) or remission (<= ``remission_cutoff``), for a patient of known
    baseline, the rating error integrated exactly. The mean (a smooth integrand) by a product
    Gauss-Hermite rule; the probabilities (thresholds) by the equal-probability rule of
    :func:`quadrature_nodes` (``nodes`` per axis). ``probabilities=False`` skips response and
    remission (returned as NaN). ``drug_scale``: factor on the drug part (T,);
    ``fluctuation_var``: the variance (T,) of a within-patient fluctuation ``x`` on log MADRS
    at each time (scores times ``exp(x)``, x normal and independent of the random effects;
    the mean exactly, the probabilities over 7 Gauss-Hermite nodes of x)."""
    hp_e, hd_e, hw = _hermite_nodes(params)
    smooth = individual_scores(
        baseline_madrs, placebo_h, ce_ng_per_ml, params, hp_e, hd_e, drug_scale
    )
    var = None if fluctuation_var is None else np.asarray(fluctuation_var, dtype=np.float64)
    if var is not None:
        smooth = smooth * np.exp(0.5 * var)
    mean = hw @ (smooth - baseline_madrs)
    if not probabilities:
        nan = np.full(mean.shape, np.nan)
        return OutcomeProbabilities(np.asarray(mean), nan, nan)
    ep, ed, w = quadrature_nodes(params, nodes)
    scores = individual_scores(baseline_madrs, placebo_h, ce_ng_per_ml, params, ep, ed, drug_scale)
    if var is not None and np.any(var > 0):
        zx, wx = _hermite(_HERMITE_FLUCTUATION)
        fx = np.exp(math.sqrt(2.0) * np.outer(zx, np.sqrt(var)))  # (7, T)
        scores = (scores[None, :, :] * fx[:, None, :]).reshape(-1, scores.shape[1])
        w = np.outer(wx / math.sqrt(math.pi), w).ravel()
    sd = params.residual_sd_madrs
    if sd > 0:
        resp = w @ ndtr((0.5 * baseline_madrs - scores) / sd)
        remi = w @ ndtr((remission_cutoff - scores) / sd)
    else:
        resp = w @ (scores <= 0.5 * baseline_madrs).astype(float)
        remi = w @ (scores <= remission_cutoff).astype(float)
    return OutcomeProbabilities(np.asarray(mean), np.asarray(resp), np.asarray(remi))


def relapse_probability(
    baseline_madrs: float,
    placebo_h: FloatArray,
    ce_ng_per_ml: FloatArray,
    params: AntidepressantParams,
    end_index: int,
    drug_scale: FloatArray | float = 1.0,
) -> FloatArray:
    """P(no longer a responder at t | responder at ``times[end_index]``), from the individual
    trajectories without rating error; 0 at and before the end-of-course time.
    ``drug_scale``: factor on the drug part (T,). Without a within-patient fluctuation; with
    one, :func:`ketasim.pd.antidepressant_relapse.rated_relapse_probability`."""
    ep, ed, w = quadrature_nodes(params)
    scores = individual_scores(baseline_madrs, placebo_h, ce_ng_per_ml, params, ep, ed, drug_scale)
    resp = scores <= 0.5 * baseline_madrs
    at_end = resp[:, end_index]
    denom = float(w @ at_end)
    out = np.zeros(scores.shape[1])
    if denom <= 0:
        return out
    lost = at_end[:, None] & ~resp
    out = (w @ lost.astype(float)) / denom
    out[: end_index + 1] = 0.0
    return np.asarray(out, dtype=np.float64)
