"""Prediction intervals for the arm summaries of a NEW trial (the phase-3 test).

A new trial draws its own effect on the non-specific parts, ``eta_T ~ N(0,
omega_trial_placebo^2)`` (the between-trial random effect of the calibration,
:mod:`ketasim.pd.calibration.antidepressant_fit`), and its published summaries carry sampling
error: binomial for a rate, ``SD / sqrt(n)`` for a mean change (twice the variance for a
difference of two arms of n each). The interval is the one of the mixture over eta_T.

The between-patient SD of MADRS change used for the sampling error is taken from the
calibration trials that report it (never from the test): Japanese phase 2b (SD 11.68, 13.07,
10.53, 12.21; n 72, 39, 34, 39) and Singh 2016 (12.0, 10.2, 7.3, 5.7; n 17 each, derived), pooled
with weights n - 1: 11.24 MADRS points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from ketasim.pd.antidepressant import AntidepressantParams
from ketasim.pd.calibration.antidepressant_points import RATES, CalibrationPoint, predict_points

__all__ = ["CHANGE_SD_MADRS", "TrialInterval", "new_trial_intervals"]

FloatArray = NDArray[np.float64]
CHANGE_SD_MADRS = 11.24  # pooled SD of individual MADRS change, calibration arms (docstring)


@dataclass(frozen=True)
class TrialInterval:
    """The model's prediction of one published value of a new trial: median and interval
    (``level``, e.g. 0.9), and whether the published value falls inside."""

    point: CalibrationPoint
    median: float
    low: float
    high: float
    level: float

    @property
    def inside(self) -> bool:
        """The published value lies within [low, high]."""
        return self.low <= self.point.value <= self.high


def _sampling_sd(pt: CalibrationPoint, pred: FloatArray) -> FloatArray:
    if pt.n is None:
        return np.zeros_like(pred)
    if pt.quantity in RATES:
        p = np.clip(pred, 1e-6, 1 - 1e-6)
        return np.asarray(np.sqrt(p * (1 - p) / pt.n), dtype=np.float64)
    arms = 2.0 if pt.quantity == "madrs_difference" else 1.0
    return np.full_like(pred, CHANGE_SD_MADRS * math.sqrt(arms / pt.n))


def _mixture_quantile(q: float, mean: FloatArray, sd: FloatArray) -> float:
    if not np.any(sd > 0):
        return float(np.quantile(mean, q))
    s = np.maximum(sd, 1e-12)

    def cdf(x: float) -> float:
        return float(np.mean(ndtr((x - mean) / s))) - q

    span = float(np.max(s)) * 10 + 1e-9
    return float(brentq(cdf, float(mean.min()) - span, float(mean.max()) + span, xtol=1e-9))


def new_trial_intervals(
    params: AntidepressantParams,
    points: tuple[CalibrationPoint, ...],
    *,
    level: float = 0.9,
    nodes: int = 101,
) -> list[TrialInterval]:
    """For each point, the ``level`` prediction interval of a new trial's published value:
    the trial effect at ``nodes`` equal-probability quantiles of N(0, omega_trial_placebo^2),
    each with its sampling error."""
    if not 0 < level < 1:
        raise ValueError("level must lie in (0, 1)")
    omega = params.omega_trial_placebo
    z = ndtri((np.arange(nodes) + 0.5) / nodes) if omega > 0 else np.zeros(1)
    studies = {p.study for p in points}
    preds = np.array(
        [predict_points(params, points, dict.fromkeys(studies, float(omega * zi))) for zi in z]
    )
    out = []
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    for j, pt in enumerate(points):
        mean = preds[:, j]
        sd = _sampling_sd(pt, mean)
        out.append(
            TrialInterval(
                pt,
                _mixture_quantile(0.5, mean, sd),
                _mixture_quantile(lo_q, mean, sd),
                _mixture_quantile(hi_q, mean, sd),
                level,
            )
        )
    return out
