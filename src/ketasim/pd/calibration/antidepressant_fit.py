"""Calibration of the empirical antidepressant model to published trial summaries.

Pure functions (the packaged data in, numbers out). The data and the model's predictions of
them are in :mod:`ketasim.pd.calibration.antidepressant_points`, the sources of the fixed
parameters in :mod:`ketasim.pd.calibration.antidepressant_sources`, the report text in
:mod:`ketasim.pd.calibration.antidepressant_report` and the command-line entry point in
:mod:`ketasim.pd.calibration.fit_antidepressant`.

Rows of ``antidepressant_data.csv`` with ``use = fit`` calibrate; rows with ``use = test``
(esketamine phase 3, TRANSFORM) are never fitted and are reported as the model's test.

The between-trial variation of the non-specific parts is estimated in a second stage, with the
fitted parameters fixed (:mod:`ketasim.pd.calibration.antidepressant_trial_effects`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from ketasim.pd.antidepressant import AntidepressantParams
from ketasim.pd.calibration.antidepressant_interval import new_trial_intervals
from ketasim.pd.calibration.antidepressant_points import (
    POOLED_STUDIES,
    RATES,
    CalibrationPoint,
    calibration_points,
    exposures,
    parent_outputs,
    predict_points,
)
from ketasim.pd.calibration.antidepressant_sources import (
    EXPECTANCY_FADE_PER_H,
    EXPOSURE_POWER,
    FIXED_SOURCES,
    SLOW_RATE_PER_H,
)
from ketasim.pd.calibration.antidepressant_trial_effects import estimate_trial_sd, trial_effects

__all__ = [
    "FITTED",
    "FIXED_SOURCES",
    "OMEGA_DRUG_FREE",
    "CalibrationPoint",
    "FitResult",
    "calibration_points",
    "exposures",
    "fit_antidepressant",
    "leave_one_study_out",
    "parent_outputs",
    "predict_points",
    "profile_intervals",
    "summarise",
]

FloatArray = NDArray[np.float64]

# Fitted parameters, their search bounds (a fitting choice) and scale (all log).
FITTED: dict[str, tuple[float, float]] = {
    "ke0_per_h": (1e-4, 0.5),
    "ec50_ng_per_ml": (0.01, 500.0),
    "emax": (0.01, 5.0),
    "session_effect": (1e-3, 2.0),
    "session_decay_per_h": (1e-3, 2.0),
    "expectancy_effect": (1e-3, 2.0),
    "new_oral_ad_effect": (1e-3, 3.0),
    "omega_placebo": (0.05, 3.0),
}
# omega_drug estimated freely (ML 3.64) fits the calibration data better but flattens the mean
# dose-response against Daly 2018 and Fava 2018 (docs/antidepressant-model.md): not adopted,
# kept as an alternative (benchmarks/antidepressant_alternatives.py).
OMEGA_DRUG_FREE: dict[str, tuple[float, float]] = {"omega_drug": (0.05, 6.0)}
START = AntidepressantParams(  # a starting guess (near an earlier fit), not data
    ke0_per_h=0.0092,
    ec50_ng_per_ml=1.72,
    emax=0.74,
    hill=6.0,
    omega_drug=1.5,
    session_effect=0.163,
    session_decay_per_h=0.048,
    session_onset_per_h=math.log(2.0) / (20.0 / 60.0),
    expectancy_effect=0.106,
    expectancy_rate_per_h=SLOW_RATE_PER_H,
    new_oral_ad_effect=0.062,
    omega_placebo=2.3,
    residual_sd_madrs=5.481795 * math.sqrt(1 - 0.91),
    typical_baseline_madrs=36.7,
    baseline_sd_madrs=5.481795,
    overlap_q=1.0,
    esketamine_potency=1.0,
    omega_trial_placebo=0.0,
    expectancy_fade_per_h=EXPECTANCY_FADE_PER_H,  # profile over half-times (sources)
    exposure_power=EXPOSURE_POWER,  # profile over fixed values (seventh session, sources)
)


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters, the data, predictions (typical trial) and error summaries;
    ``trial_eta``: the second-stage trial effects (:mod:`antidepressant_trial_effects`)."""

    params: AntidepressantParams
    points: tuple[CalibrationPoint, ...]
    predicted: FloatArray
    rmse_madrs_points: float
    rmse_response_pct_points: float
    chi2: float
    converged: bool
    trial_eta: dict[str, float] = field(default_factory=dict)


def _theta(p: AntidepressantParams, names: list[str]) -> FloatArray:
    d = asdict(p)
    return np.array([math.log(d[n]) for n in names])


def _params(
    theta: FloatArray, names: list[str], base: AntidepressantParams
) -> AntidepressantParams:
    return replace(base, **{n: math.exp(float(x)) for n, x in zip(names, theta, strict=True)})


def summarise(
    params: AntidepressantParams,
    points: tuple[CalibrationPoint, ...] | None = None,
    converged: bool = True,
    trial_eta: dict[str, float] | None = None,
) -> FitResult:
    """Predictions (a typical trial) and errors of ``params`` on ``points`` (default: the
    calibration data); ``trial_eta`` is carried along for the report."""
    pts = points if points is not None else calibration_points()
    pred = predict_points(params, pts)
    obs = np.array([p.value for p in pts])
    se = np.array([p.se for p in pts])
    is_r = np.array([p.quantity in RATES for p in pts])
    rmse_m = float(np.sqrt(np.mean((pred[~is_r] - obs[~is_r]) ** 2))) if np.any(~is_r) else 0.0
    rmse_r = float(100 * np.sqrt(np.mean((pred[is_r] - obs[is_r]) ** 2))) if np.any(is_r) else 0.0
    chi2 = float(np.sum(((pred - obs) / se) ** 2))
    return FitResult(params, pts, pred, rmse_m, rmse_r, chi2, converged, dict(trial_eta or {}))


def _fit(
    points: tuple[CalibrationPoint, ...],
    start: AntidepressantParams,
    names: list[str],
    *,
    max_nfev: int,
    starts: int,
    bounds: Mapping[str, tuple[float, float]] = FITTED,
) -> tuple[AntidepressantParams, bool, float]:
    obs = np.array([p.value for p in points])
    se = np.array([p.se for p in points])
    lo = np.array([math.log(bounds[n][0]) for n in names])
    hi = np.array([math.log(bounds[n][1]) for n in names])

    def residuals(x: FloatArray) -> FloatArray:
        r: FloatArray = (predict_points(_params(x, names, start), points) - obs) / se
        return r

    x0s = [np.clip(_theta(start, names), lo + 1e-9, hi - 1e-9)]
    if starts > 1 and "ec50_ng_per_ml" in names and "ke0_per_h" in names:
        i_e, i_k = names.index("ec50_ng_per_ml"), names.index("ke0_per_h")
        for ec50 in (0.3, 3.0, 30.0)[: starts - 1]:
            for ke0 in (0.003, 0.03):
                x = x0s[0].copy()
                x[i_e], x[i_k] = math.log(ec50), math.log(ke0)
                x0s.append(x)
    best = None
    for x0 in x0s:
        sol = least_squares(
            residuals, x0, method="trf", bounds=(lo, hi), max_nfev=max_nfev, x_scale=1.0
        )
        if best is None or sol.cost < best.cost:
            best = sol
    assert best is not None
    return _params(best.x, names, start), bool(best.success), float(2 * best.cost)


def fit_antidepressant(
    *,
    max_nfev: int = 150,
    starts: int = 2,
    start: AntidepressantParams | None = None,
    bounds: Mapping[str, tuple[float, float]] = FITTED,
) -> FitResult:
    """Weighted least squares of the ``FITTED`` parameters (or those of ``bounds``) on the
    calibration data (multi-start over EC50 and ke0); the other parameters stay at their derived
    or assumed values, except ``omega_trial_placebo``, estimated in a second stage from the
    trials' control arms."""
    names = list(bounds)
    params, ok, _ = _fit(
        calibration_points(),
        start or START,
        names,
        max_nfev=max_nfev,
        starts=starts,
        bounds=bounds,
    )
    effects = trial_effects(params)
    params = replace(params, omega_trial_placebo=estimate_trial_sd(effects).omega)
    return summarise(params, converged=ok, trial_eta={e.study: e.eta for e in effects})


@dataclass(frozen=True)
class StudyError:
    """In-sample and leave-one-study-out errors of one study's points."""

    study: str
    n_points: int
    rmse_in_sample: float
    rmse_left_out: float
    quantity: str
    inside_90: int | None = None  # left-out values inside the new-trial 90% interval


def _rmse(pred: FloatArray, pts: tuple[CalibrationPoint, ...]) -> float:
    obs = np.array([p.value for p in pts])
    scale = np.array([100.0 if p.quantity in RATES else 1.0 for p in pts])
    return float(np.sqrt(np.mean(((pred - obs) * scale) ** 2)))


def leave_one_study_out(
    fit: FitResult,
    *,
    max_nfev: int = 60,
    bounds: Mapping[str, tuple[float, float]] = FITTED,
) -> list[StudyError]:
    """Each study predicted by a fit without it (warm-started at ``fit``); errors in MADRS
    points, or percentage points for studies with response rates only; for single trials
    (not pooled estimates), how many of its values fall inside the 90% interval of a new trial
    (trial effect with omega re-estimated without the study, and sampling error).
    ``bounds``: the fitted parameters and their search bounds (default ``FITTED``)."""
    names = list(bounds)
    pts = fit.points
    out = []
    for study in dict.fromkeys(p.study for p in pts):
        held = tuple(p for p in pts if p.study == study)
        rest = tuple(p for p in pts if p.study != study)
        params, _, _ = _fit(rest, fit.params, names, max_nfev=max_nfev, starts=1, bounds=bounds)
        if study not in POOLED_STUDIES:  # the interval of a new trial, from the refit alone
            omega = estimate_trial_sd(trial_effects(params, rest)).omega
            pi = new_trial_intervals(replace(params, omega_trial_placebo=omega), held)
            inside = {r.point: r.inside for r in pi}
        kinds = {p.quantity for p in held}
        q = (
            "rate %-points"
            if kinds <= set(RATES)
            else "mixed"
            if len(kinds) > 1
            else "MADRS points"
        )
        for sub, label in (
            (tuple(p for p in held if p.quantity not in RATES), "MADRS points"),
            (tuple(p for p in held if p.quantity in RATES), "rate %-points"),
        ):
            if not sub:
                continue
            idx = [pts.index(p) for p in sub]
            out.append(
                StudyError(
                    study,
                    len(sub),
                    _rmse(fit.predicted[idx], sub),
                    _rmse(predict_points(params, sub), sub),
                    label if q == "mixed" else q,
                    None if study in POOLED_STUDIES else sum(inside[p] for p in sub),
                )
            )
    return out


@dataclass(frozen=True)
class ProfileInterval:
    """Profile-likelihood 95% interval of one parameter (None: the profile stays below the
    chi2 threshold up to the search bound on that side: not identified there)."""

    name: str
    estimate: float
    low: float | None
    high: float | None
    at_bound: bool


def profile_intervals(
    fit: FitResult,
    *,
    steps: int = 3,
    max_nfev: int = 20,
    bounds: Mapping[str, tuple[float, float]] = FITTED,
) -> list[ProfileInterval]:
    """For each fitted parameter: fix it on a log grid either side of the estimate, refit the
    others, and find where the weighted chi2 rises by 3.84 (95%). Coarse (``steps`` per side,
    up to the search bounds); linear interpolation between grid points."""
    names = list(bounds)
    base_chi2 = fit.chi2
    out = []
    for name in names:
        est = float(getattr(fit.params, name))
        lo_b, hi_b = bounds[name]
        at_bound = any(math.isclose(est, b, rel_tol=1e-3) for b in (lo_b, hi_b))
        others = [n for n in names if n != name]
        ends: list[float | None] = []
        for bound in (lo_b, hi_b):
            grid = np.exp(np.linspace(math.log(est), math.log(bound), steps + 1)[1:])
            prev_v, prev_d = est, 0.0
            found: float | None = None
            start = fit.params
            for v in grid:
                trial = replace(start, **{name: float(v)})
                params, _, chi2 = _fit(
                    fit.points, trial, others, max_nfev=max_nfev, starts=1, bounds=bounds
                )
                d = chi2 - base_chi2
                if d >= 3.84:
                    w = (3.84 - prev_d) / max(d - prev_d, 1e-12)
                    found = float(math.exp(math.log(prev_v) + w * (math.log(v) - math.log(prev_v))))
                    break
                prev_v, prev_d, start = float(v), d, params
            ends.append(found)
        out.append(ProfileInterval(name, est, ends[0], ends[1], at_bound))
    return out
