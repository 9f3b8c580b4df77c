"""Between-trial variation of the non-specific parts of the empirical antidepressant model.

Placebo response differs between trials far beyond sampling error (Jones BDM et al. JAMA Netw
Open 2021;4:e2125531, PMC8463940: 50 placebo-controlled TRD trials, "heterogeneity was
large"; its tau was not read). The model's non-specific parts (session, expectancy, new oral
antidepressant) carry a trial effect: ``exp(eta_T)`` times their sum, ``eta_T ~ N(0,
omega_trial_placebo^2)``, shared by all arms of a trial.

Second stage, with the fitted parameters fixed: each single trial's eta_T is estimated from
its control arms only (placebo, midazolam or a newly started oral antidepressant, no ketamine
or esketamine: their summaries depend on eta_T alone), with its standard error from the
curvature of the weighted chi2; omega is then the maximum-likelihood SD of the etas around 0
(each eta normal with variance ``se^2 + omega^2``), with a profile-likelihood 95% interval.
Pooled meta-analytic estimates (Han 2016, Cochrane 2021) are not single trials and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from ketasim.pd.antidepressant import AntidepressantParams
from ketasim.pd.calibration.antidepressant_points import (
    CalibrationPoint,
    calibration_points,
    parent_outputs,
    predict_points,
    trial_studies,
)

__all__ = ["TrialEffect", "TrialSD", "control_points", "estimate_trial_sd", "trial_effects"]

ETA_BOUND = 3.0  # search range of one trial effect (log scale)
OMEGA_BOUND = 3.0  # search range of the SD


@dataclass(frozen=True)
class TrialEffect:
    """One trial's effect on its non-specific parts (log scale) and its standard error."""

    study: str
    eta: float
    se: float
    n_points: int


@dataclass(frozen=True)
class TrialSD:
    """ML estimate of the between-trial SD with its profile-likelihood 95% interval (None: the
    likelihood stays within 3.84 of its maximum to the search bound on that side)."""

    omega: float
    low: float | None
    high: float | None
    n_trials: int


def control_points(
    study: str, points: tuple[CalibrationPoint, ...] | None = None
) -> tuple[CalibrationPoint, ...]:
    """The study's values from arms without ketamine or esketamine exposure."""
    pts = points if points is not None else calibration_points()
    return tuple(
        p
        for p in pts
        if p.study == study and "-" not in p.regimen and parent_outputs()[p.regimen] is None
    )


def _control_chi2(
    params: AntidepressantParams, study: str, ctrl: tuple[CalibrationPoint, ...]
) -> Callable[[float], float]:
    obs = np.array([p.value for p in ctrl])
    se = np.array([p.se for p in ctrl])

    def chi2(eta: float) -> float:
        pred = predict_points(params, ctrl, {study: eta})
        return float(np.sum(((pred - obs) / se) ** 2))

    return chi2


def trial_effects(
    params: AntidepressantParams, points: tuple[CalibrationPoint, ...] | None = None
) -> list[TrialEffect]:
    """eta_T of every single trial with control arms, from those arms only (weighted least
    squares in eta_T; SE = sqrt(2 / chi2'') by a central second difference)."""
    pts = points if points is not None else calibration_points()
    out = []
    for study in trial_studies(pts):
        ctrl = control_points(study, pts)
        if not ctrl:
            continue
        chi2 = _control_chi2(params, study, ctrl)
        sol = minimize_scalar(
            chi2, bounds=(-ETA_BOUND, ETA_BOUND), method="bounded", options={"xatol": 1e-6}
        )
        eta = float(sol.x)
        h = 0.02
        curv = (chi2(eta + h) - 2 * chi2(eta) + chi2(eta - h)) / h**2
        se_eta = math.sqrt(2.0 / curv) if curv > 0 else math.inf
        out.append(TrialEffect(study, eta, se_eta, len(ctrl)))
    return out


def _minus2_loglik(omega: float, effects: list[TrialEffect]) -> float:
    v = np.array([e.se**2 for e in effects]) + omega**2
    eta = np.array([e.eta for e in effects])
    return float(np.sum(np.log(v) + eta**2 / v))


def estimate_trial_sd(effects: list[TrialEffect]) -> TrialSD:
    """Maximum-likelihood SD of the trial effects around 0, with a 95% profile interval."""
    usable = [e for e in effects if math.isfinite(e.se)]
    if len(usable) < 2:
        raise ValueError("at least two trials with control arms are needed")

    def f(w: float) -> float:
        return _minus2_loglik(w, usable)

    sol = minimize_scalar(f, bounds=(0.0, OMEGA_BOUND), method="bounded")
    w_hat = float(sol.x)
    best = f(w_hat)

    def drop(w: float) -> float:
        return f(w) - best - 3.84

    low = None if drop(0.0) <= 0 or w_hat <= 1e-6 else float(brentq(drop, 0.0, w_hat))
    high = None if drop(OMEGA_BOUND) <= 0 else float(brentq(drop, w_hat, OMEGA_BOUND))
    return TrialSD(w_hat, low, high, len(usable))
