"""Forecast one patient's MADRS from their own ratings (EMPIRICAL antidepressant model).

The patient's baseline and random effects (``eta_P``, ``eta_D``) are estimated by maximum a
posteriori with the model's between-patient distributions as priors and its rating error as the
likelihood; the posterior is then sampled (importance sampling around the MAP with a widened
Laplace proposal) to give bands. Pure: ratings and exposures in, arrays out.

An exposure (:class:`Exposure`) is a schedule's parent plasma concentration on the 2-min grid
with its session times; :func:`exposure_of` builds one from a PK model, a patient and a regimen.
Ratings must have been taken under the exposure given as ``observed`` (the schedule so far);
alternative schedules should repeat the sessions already given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    GRID_STEP_H,
    AntidepressantParams,
    Background,
    default_antidepressant_params,
    exposure_memory,
    parent_concentration,
    placebo_parts,
    session_times_h,
)
from ketasim.pd.antidepressant_parts import individual_scores
from ketasim.pk import Regimen

__all__ = ["Exposure", "Forecast", "ScheduleForecast", "exposure_of", "forecast_from_ratings"]

FloatArray = NDArray[np.float64]
BAND = (5.0, 95.0)  # 90% bands


@dataclass(frozen=True)
class Exposure:
    """A schedule: racemic-equivalent parent plasma concentration (ng/mL; see
    :func:`ketasim.pd.antidepressant.parent_concentration`) on a uniform grid from 0 (h), and
    the session times (h)."""

    grid_h: FloatArray
    concentration_ng_per_ml: FloatArray
    sessions_h: tuple[float, ...]


def exposure_of(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    horizon_h: float,
    *,
    allow_extrapolation: bool = False,
) -> Exposure:
    """The exposure of ``regimen`` for ``patient`` under ``model`` up to ``horizon_h``."""
    grid, conc = parent_concentration(
        model, patient, regimen, horizon_h, allow_extrapolation=allow_extrapolation
    )
    return Exposure(grid, conc, tuple(session_times_h(regimen)))


def _parts(
    exposure: Exposure, times_h: FloatArray, params: AntidepressantParams, background: Background
) -> tuple[FloatArray, FloatArray]:
    grid = exposure.grid_h
    if times_h.size and times_h.max() > grid[-1] + 1e-9:
        raise InputError("times_h", f"beyond the schedule's horizon ({grid[-1]:g} h)")
    parts = placebo_parts(times_h, exposure.sessions_h, params, background)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    ce = np.interp(
        times_h,
        grid,
        exposure_memory(
            exposure.concentration_ng_per_ml,
            float(grid[1] - grid[0]),
            params.ke0_per_h,
            power=params.exposure_power,
        ),
    )
    return hp, ce


def _predict(
    theta: FloatArray, hp: FloatArray, ce: FloatArray, params: AntidepressantParams
) -> FloatArray:
    """theta rows (baseline, eta_P, eta_D) -> scores (n, T)."""
    th = np.atleast_2d(theta)
    return individual_scores(th[:, 0], hp, ce, params, th[:, 1], th[:, 2])


@dataclass(frozen=True)
class ScheduleForecast:
    """Forecast under one schedule at ``times_h``: the MAP trajectory, the population
    prediction (typical random effects, the estimated baseline), and 90% bands of the
    patient's true score and of a rating (adds the rating error)."""

    times_h: FloatArray
    map_madrs: FloatArray
    population_madrs: FloatArray
    median_madrs: FloatArray
    low_madrs: FloatArray
    high_madrs: FloatArray
    rating_low: FloatArray
    rating_high: FloatArray
    response_probability: FloatArray


@dataclass(frozen=True)
class Forecast:
    """MAP estimates (baseline MADRS, eta_P, eta_D), their posterior SDs, and per-schedule
    forecasts."""

    baseline_madrs: float
    eta_placebo: float
    eta_drug: float
    posterior_sd: FloatArray
    schedules: Mapping[str, ScheduleForecast]
    empirical: bool = True


def _weighted_quantiles(values: FloatArray, weights: FloatArray, qs: Sequence[float]) -> FloatArray:
    """Weighted percentiles along axis 0 (values (n, T)); qs in percent."""
    order = np.argsort(values, axis=0)
    v = np.take_along_axis(values, order, axis=0)
    w = weights[order]
    cw = np.cumsum(w, axis=0)
    cw = cw / cw[-1]
    out = np.empty((len(qs), values.shape[1]))
    for i, q in enumerate(qs):
        idx = np.argmax(cw >= q / 100.0, axis=0)
        out[i] = v[idx, np.arange(values.shape[1])]
    return out


def forecast_from_ratings(
    ratings_time_h: Sequence[float] | FloatArray,
    ratings_madrs: Sequence[float] | FloatArray,
    observed: Exposure,
    forecast_times_h: Sequence[float] | FloatArray,
    *,
    schedules: Mapping[str, Exposure] | None = None,
    params: AntidepressantParams | None = None,
    background: Background = "continuing",
    draws: int = 2000,
    rng: np.random.Generator | int | None = 0,
) -> Forecast:
    """MAP-update one patient from their MADRS ratings and forecast under each schedule.

    ``ratings_time_h``: hours after the first session (a rating at 0 is the baseline);
    ``observed``: the schedule under which the ratings were taken (also forecast as
    ``"planned"`` unless ``schedules`` names one); ``schedules``: alternatives (name ->
    exposure) that repeat the sessions already given. Returns MAP values and, per schedule,
    arrays at ``forecast_times_h`` with 90% bands.
    """
    p = params if params is not None else default_antidepressant_params()
    t = np.asarray(ratings_time_h, dtype=np.float64)
    y = np.asarray(ratings_madrs, dtype=np.float64)
    if t.ndim != 1 or t.shape != y.shape or t.size == 0:
        raise InputError("ratings", "give equal, non-empty lists of times (h) and MADRS scores")
    if np.any(~np.isfinite(y)) or np.any((y < 0) | (y > 60)):
        raise InputError("madrs", "MADRS scores must lie in [0, 60]")
    if np.any(t < 0) or np.any(~np.isfinite(t)):
        raise InputError("time_h", "rating times must be >= 0 h (after the first session)")
    if draws < 100:
        raise InputError("draws", f"{draws} posterior draws; at least 100")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    hp, ce = _parts(observed, t, p, background)
    sd = max(p.residual_sd_madrs, 1e-6)
    prior_mean = np.array([p.typical_baseline_madrs, 0.0, 0.0])
    prior_sd = np.array([p.baseline_sd_madrs, p.omega_placebo, p.omega_drug])

    def residuals(theta: FloatArray) -> FloatArray:
        pred = _predict(theta, hp, ce, p)[0]
        return np.concatenate(((pred - y) / sd, (theta - prior_mean) / prior_sd))

    start = prior_mean.copy()
    if np.any(t == 0):
        start[0] = float(np.mean(y[t == 0]))
    best = None
    for eta_d0 in (-2.0, 0.0, 2.0):
        start[2] = eta_d0 * p.omega_drug / 2.0
        sol = least_squares(
            residuals,
            start,
            method="trf",
            bounds=(
                [1.0, -6 * prior_sd[1], -6 * prior_sd[2]],
                [60.0, 6 * prior_sd[1], 6 * prior_sd[2]],
            ),
        )
        if best is None or sol.cost < best.cost:
            best = sol
    assert best is not None
    theta_map = best.x
    jac = best.jac
    try:
        cov = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        cov = np.diag(prior_sd**2)
    cov = 0.5 * (cov + cov.T) + 1e-10 * np.eye(3)
    # importance sampling from a widened Laplace proposal (multivariate t, 4 df)
    scale = 1.5**2 * cov
    chol = np.linalg.cholesky(scale)
    z = gen.standard_normal((draws, 3))
    g = gen.chisquare(4.0, draws) / 4.0
    theta = theta_map + (z @ chol.T) / np.sqrt(g)[:, None]
    theta[:, 0] = np.clip(theta[:, 0], 1.0, 60.0)
    pred = _predict(theta, hp, ce, p)
    log_post = -0.5 * np.sum(((pred - y) / sd) ** 2, axis=1) - 0.5 * np.sum(
        ((theta - prior_mean) / prior_sd) ** 2, axis=1
    )
    dev = np.linalg.solve(chol, (theta - theta_map).T).T
    log_prop = -3.5 * np.log1p(np.sum(dev**2, axis=1) / 4.0)
    lw = log_post - log_prop
    w = np.exp(lw - lw.max())
    w /= w.sum()
    mean = w @ theta
    post_sd = np.sqrt(np.maximum(w @ (theta - mean) ** 2, 0.0))
    out_t = np.asarray(forecast_times_h, dtype=np.float64)
    all_schedules = dict(schedules or {})
    all_schedules.setdefault("planned", observed)
    noise = gen.standard_normal((draws, out_t.size)) * p.residual_sd_madrs
    result: dict[str, ScheduleForecast] = {}
    for name, exp in all_schedules.items():
        hp_f, ce_f = _parts(exp, out_t, p, background)
        traj = _predict(theta, hp_f, ce_f, p)
        rated = np.clip(traj + noise, 0.0, 60.0)
        q = _weighted_quantiles(traj, w, (BAND[0], 50.0, BAND[1]))
        qr = _weighted_quantiles(rated, w, BAND)
        resp = w @ (rated <= 0.5 * theta[:, :1]).astype(float)
        map_traj = _predict(theta_map, hp_f, ce_f, p)[0]
        pop = _predict(np.array([theta_map[0], 0.0, 0.0]), hp_f, ce_f, p)[0]
        result[name] = ScheduleForecast(
            out_t, map_traj, pop, q[1], q[0], q[2], qr[0], qr[1], np.asarray(resp, dtype=np.float64)
        )
    return Forecast(float(theta_map[0]), float(theta_map[1]), float(theta_map[2]), post_sd, result)


def grid_for(horizon_h: float) -> FloatArray:
    """The 2-min grid of an exposure up to ``horizon_h`` (for callers building one)."""
    if not horizon_h > 0 or not math.isfinite(horizon_h):
        raise InputError("horizon_h", "must be > 0")
    return np.arange(0.0, horizon_h + GRID_STEP_H, GRID_STEP_H)
