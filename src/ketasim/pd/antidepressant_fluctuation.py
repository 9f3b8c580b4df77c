"""Within-patient fluctuation of depression severity over weeks: an Ornstein-Uhlenbeck process.

A patient's MADRS is multiplied by ``exp(x(t))``, where x is a zero-mean Ornstein-Uhlenbeck
process on the log scale with stationary SD ``sd_log`` and correlation time ``tau_h`` (the
autocorrelation of two values dt apart is ``exp(-dt / tau_h)``), started at 0 at the first
session (the baseline rating is the patient's baseline by definition):

    x(0) = 0,  x(t + dt) = x(t) e^(-dt/tau) + sd_log sqrt(1 - e^(-2 dt/tau)) z,  z ~ N(0, 1)

which is exact for any spacing of the times (no discretisation error), so that
``Var x(t) = sd_log^2 (1 - e^(-2t/tau))`` and
``Cov(x(s), x(t)) = sd_log^2 e^(-|t-s|/tau) (1 - e^(-2 min(s,t)/tau))``.

This is separate from the rating error (independent between visits, ``residual_sd_madrs``):
the fluctuation is a real, slowly changing state of the patient, what lets a stable patient
relapse months after the last change of treatment. Neither its size nor its correlation time
was found in a published source (see ``docs/antidepressant-model.md``): it is used only in
sensitivity analyses over a stated range, never with a tuned value.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ketasim.errors import InputError

__all__ = ["ou_covariance", "ou_paths"]

FloatArray = NDArray[np.float64]


def _check(times_h: FloatArray, sd_log: float, tau_h: float) -> None:
    if not (math.isfinite(sd_log) and sd_log >= 0):
        raise InputError("fluctuation_sd_log", f"{sd_log!r} must be >= 0")
    if not (math.isfinite(tau_h) and tau_h > 0):
        raise InputError("fluctuation_tau_h", f"{tau_h!r} must be > 0 h")
    if times_h.ndim != 1 or np.any(np.diff(times_h) < 0) or np.any(times_h < 0):
        raise InputError("times_h", "must be a 1-D ascending array of hours >= 0")


def ou_paths(
    n: int,
    times_h: FloatArray,
    sd_log: float,
    tau_h: float,
    rng: np.random.Generator,
) -> FloatArray:
    """n independent paths of the process at ``times_h`` (h after the first session), shape
    (n, T); exact transition, started at x(0) = 0."""
    t = np.asarray(times_h, dtype=np.float64)
    _check(t, sd_log, tau_h)
    out = np.zeros((n, t.size))
    if sd_log == 0.0 or t.size == 0:
        return out
    prev_t, prev_x = 0.0, np.zeros(n)
    for k, tk in enumerate(t):
        a = math.exp(-(tk - prev_t) / tau_h)
        prev_x = prev_x * a + sd_log * math.sqrt(max(1.0 - a * a, 0.0)) * rng.standard_normal(n)
        out[:, k] = prev_x
        prev_t = float(tk)
    return out


def ou_covariance(times_h: FloatArray, sd_log: float, tau_h: float) -> FloatArray:
    """The closed-form covariance matrix of :func:`ou_paths` at ``times_h`` (T, T)."""
    t = np.asarray(times_h, dtype=np.float64)
    _check(t, sd_log, tau_h)
    s, u = np.meshgrid(t, t, indexing="ij")
    return np.asarray(
        sd_log**2
        * np.exp(-np.abs(s - u) / tau_h)
        * (1.0 - np.exp(-2.0 * np.minimum(s, u) / tau_h)),
        dtype=np.float64,
    )
