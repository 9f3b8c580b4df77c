"""Antidepressant response (MADRS over days to weeks): an EXPLICITLY EMPIRICAL model.

This is not a published PK/PD model. It is ketasim's own minimal structure (after
shared/reference/antidepressant-response.md section 5.2), calibrated to published trial
*summaries* by ``python -m ketasim.pd.calibration.fit_antidepressant``; its parameters and fit
report live in ``pd/calibration/antidepressant_params.toml``.

Structure (time t in hours; C(t) = plasma concentration of the administered parent drug, ng/mL):

- plasticity state S in [0, 1], driven by exposure, turning over back to baseline::

      dS/dt = kin * C / (EC50 + C) * (1 - S) - kout * S

- drug effect (fraction of the remaining MADRS removed): ``D = Dmax * S``
- placebo / session / background effect::

      P(t) = Pbg * (1 - exp(-kp t)) + Pacute * sum_sessions exp(-ka (t - t_s))   (t >= t_s)

  with ``Pbg`` = ``pbg_continuing`` (stable background treatment) or ``pbg_new_oral_ad``
  (an oral antidepressant started with the course);
- mean fraction improved ``m = 1 - (1 - P)(1 - D)``; mean MADRS change ``-BL * m``;
- response (>= 50% MADRS reduction) probability ``Phi((m - 0.5) / sigma)`` (between-patient
  spread of the fractional improvement, normal on the fraction scale).

One EC50 serves racemic and S-ketamine concentrations (no potency ratio is fitted).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pk import Regimen, simulate

__all__ = [
    "AntidepressantCourse",
    "AntidepressantParams",
    "Background",
    "antidepressant_course",
    "default_antidepressant_params",
    "plasticity_state",
    "simulate_antidepressant_course",
]

Background = Literal["continuing", "new_oral_ad"]


@dataclass(frozen=True, slots=True)
class AntidepressantParams:
    """Parameters of the empirical antidepressant model (rates per hour, EC50 in ng/mL)."""

    kin_per_h: float
    kout_per_h: float
    ec50_ng_per_ml: float
    dmax: float
    pbg_continuing: float
    pbg_new_oral_ad: float
    kp_per_h: float
    pacute: float
    ka_per_h: float
    sigma: float
    typical_baseline_madrs: float

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not math.isfinite(v):
                raise InputError(f.name, f"{v!r} is not a number")
        positive = ("kin_per_h", "kout_per_h", "ec50_ng_per_ml", "kp_per_h", "ka_per_h",
                    "sigma", "typical_baseline_madrs")
        for name in positive:
            if getattr(self, name) <= 0:
                raise InputError(name, f"{getattr(self, name)!r} must be > 0")
        for name in ("dmax", "pbg_continuing", "pbg_new_oral_ad", "pacute"):
            if not 0 <= getattr(self, name) < 1:
                raise InputError(name, f"{getattr(self, name)!r} must lie in [0, 1)")


@cache
def _stored() -> dict[str, object]:
    path = resources.files("ketasim.pd") / "calibration" / "antidepressant_params.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def default_antidepressant_params() -> AntidepressantParams:
    """The calibrated parameters shipped with ketasim (see the fit report in the same file)."""
    values = _stored()["parameters"]
    assert isinstance(values, dict)
    return AntidepressantParams(**{k: float(v) for k, v in values.items()})


@dataclass(frozen=True)
class AntidepressantCourse:
    """Model output at ``times_h`` (hours after the first session)."""

    times_h: NDArray[np.float64]
    drug_effect: NDArray[np.float64]
    placebo_effect: NDArray[np.float64]
    fraction_improved: NDArray[np.float64]
    madrs_change: NDArray[np.float64]
    response_probability: NDArray[np.float64]
    baseline_madrs: float
    empirical: bool = True


def plasticity_state(drive_per_h: NDArray[np.float64], kout_per_h: float, step_h: float
                     ) -> NDArray[np.float64]:
    """Solve ``dS/dt = g(t) (1 - S) - kout S``, S(0) = 0, with ``g`` constant over each step.

    Exact per step (S relaxes to ``g / (g + kout)`` at rate ``g + kout``). The linear recursion
    ``S[n+1] = a[n] S[n] + b[n]`` is evaluated block-wise with cumulative sums in log space
    (block length chosen so that no exponential overflows). Returns S at the grid points.
    """
    g = np.asarray(drive_per_h, dtype=float)
    rate = g + kout_per_h
    log_a = -rate * step_h
    a = np.exp(log_a)
    b = g / rate * (1.0 - a)
    n = g.size
    s = np.zeros(n)
    worst = float(np.max(rate)) * step_h if n else 0.0
    block = max(1, min(512, int(600.0 / worst) if worst > 0 else 512))
    current = 0.0
    for start in range(0, n - 1, block):
        stop = min(start + block, n - 1)
        la = log_a[start:stop]
        cum = np.concatenate(([0.0], np.cumsum(la)))
        acc = np.concatenate(([0.0], np.cumsum(b[start:stop] * np.exp(-cum[1:]))))
        s[start:stop + 1] = np.exp(cum) * (current + acc)
        current = float(s[stop])
    return s


def antidepressant_course(
    grid_h: NDArray[np.float64],
    concentration_ng_per_ml: NDArray[np.float64],
    sessions_h: Sequence[float],
    times_h: NDArray[np.float64] | Sequence[float],
    *,
    params: AntidepressantParams | None = None,
    background: Background = "continuing",
    baseline_madrs: float | None = None,
) -> AntidepressantCourse:
    """Evaluate the empirical model.

    ``grid_h``: a uniform time grid (h) starting at 0 on which ``concentration_ng_per_ml``
    (the parent drug's plasma concentration) is sampled; ``sessions_h``: session (dose or
    placebo) times; ``times_h``: output times, within the grid. A control arm passes zeros.
    """
    p = params if params is not None else default_antidepressant_params()
    grid = np.asarray(grid_h, dtype=float)
    conc = np.asarray(concentration_ng_per_ml, dtype=float)
    if grid.ndim != 1 or grid.shape != conc.shape or grid.size < 2:
        raise InputError("concentration", "grid and concentrations must be equal 1-D arrays")
    h = grid[1] - grid[0]
    if h <= 0 or not np.allclose(np.diff(grid), h, rtol=1e-6, atol=1e-9) or grid[0] != 0:
        raise InputError("grid_h", "must be uniform, ascending and start at 0")
    if np.any(conc < 0):
        raise InputError("concentration", "must be >= 0 ng/mL")
    out_t = np.asarray(times_h, dtype=float)
    if np.any(out_t < 0) or np.any(out_t > grid[-1]):
        raise InputError("times_h", f"must lie within the grid, 0-{grid[-1]:g} h")
    if background not in ("continuing", "new_oral_ad"):
        raise InputError("background", f"{background!r} is not continuing or new_oral_ad")
    bl = p.typical_baseline_madrs if baseline_madrs is None else float(baseline_madrs)
    if not 0 < bl <= 60:
        raise InputError("baseline_madrs", f"{bl!r} must lie in (0, 60]")
    drive = p.kin_per_h * conc / (p.ec50_ng_per_ml + conc)
    s_grid = plasticity_state(drive, p.kout_per_h, h)
    s = np.interp(out_t, grid, s_grid)
    d = p.dmax * s
    pbg = p.pbg_continuing if background == "continuing" else p.pbg_new_oral_ad
    placebo = pbg * (1.0 - np.exp(-p.kp_per_h * out_t))
    for ts in sessions_h:
        dt = out_t - ts
        placebo = placebo + np.where(dt >= 0, p.pacute * np.exp(-p.ka_per_h * np.maximum(dt, 0)),
                                     0.0)
    placebo = np.minimum(placebo, 0.999)
    m = 1.0 - (1.0 - placebo) * (1.0 - d)
    resp = ndtr((m - 0.5) / p.sigma)
    return AntidepressantCourse(out_t, d, placebo, m, -bl * m, resp, bl)


def simulate_antidepressant_course(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    times_h: NDArray[np.float64] | Sequence[float],
    *,
    params: AntidepressantParams | None = None,
    background: Background = "continuing",
    baseline_madrs: float | None = None,
    allow_extrapolation: bool = False,
    step_min: float = 2.0,
) -> AntidepressantCourse:
    """PK of ``regimen`` under ``model`` for ``patient``, then the empirical MADRS model.

    Sessions are the dose start times. ``times_h``: output times in hours after the first dose.
    The parent drug's plasma concentration (ketamine or esketamine) drives the model.
    """
    out_t = np.asarray(times_h, dtype=float)
    if out_t.size == 0:
        raise InputError("times_h", "give at least one output time")
    horizon_h = float(np.max(out_t))
    step_h = step_min / 60.0
    grid = np.arange(0.0, horizon_h + step_h, step_h)
    sim = simulate(model, patient, regimen, times_min=grid * 60.0,
                   allow_extrapolation=allow_extrapolation)
    parent = next((v for k, v in sim.concentrations_ng_per_ml.items()
                   if k in ("ketamine_plasma", "esketamine_plasma", "arketamine_plasma")), None)
    if parent is None:
        raise InputError("--model", f"{model.id} has no ketamine or esketamine plasma output")
    t0 = min(d.time_min for d in regimen)
    sessions = sorted({(d.time_min - t0) / 60.0 for d in regimen})
    return antidepressant_course(grid, np.maximum(parent, 0.0), sessions, out_t, params=params,
                                 background=background, baseline_madrs=baseline_madrs)
