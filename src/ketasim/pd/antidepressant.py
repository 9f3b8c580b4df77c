"""Antidepressant response (MADRS over days to weeks): an EXPLICITLY EMPIRICAL model.

No published PK/PD model of ketamine or esketamine on MADRS could be read (Abuhelwa et al. Clin
Pharmacol Ther 2022 and the FDA clinical-pharmacology review of NDA 211243 were looked for; see
``pd/calibration/antidepressant_params.toml``). This is ketasim's own structure, calibrated to
published trial summaries by :mod:`ketasim.pd.calibration.antidepressant_fit`.

Structure (t in hours after the first session; C(t) = plasma concentration of the administered
parent drug, ng/mL, from whatever PK model and route is simulated):

- exposure memory: a slow effect compartment ``dCe/dt = ke0 (C - Ce)`` (Ce in ng/mL; with a
  half-life of days it integrates each session's exposure and carries it between sessions, so a
  course builds on itself and the benefit fades after the last session);
- drug part (log scale of the remaining MADRS): ``Hd = Emax Ce^g / (EC50^g + Ce^g)`` (typical;
  g the Hill coefficient);
- placebo parts, each named and 0 before the first session:

  - ``session``: the expectancy/session effect of each session (drug or placebo),
    ``A_s (exp(-k_d dt) - exp(-k_on dt))`` after each session;
  - ``expectancy``: the slow non-specific improvement of a trial, ``A_e (1 - exp(-k_e t))``;
  - ``new_oral_ad``: an oral antidepressant started with the course (background
    ``new_oral_ad``), ``A_ad (1 - exp(-k_e t))``; 0 with a continuing background treatment;

- patient i: ``MADRS_i(t) = BL_i exp(-(exp(eta_P,i) Hp(t) + Hd_i(t)))`` where ``Hd_i`` uses the
  patient's sensitivity ``Ce exp(eta_D,i)`` in place of Ce; ``eta_P ~ N(0, omega_placebo^2)``,
  ``eta_D ~ N(0, omega_drug^2)``; ratings add a normal error of SD ``residual_sd_madrs``.
  MADRS change is exactly 0 at t = 0.

Response (>= 50% drop), remission (MADRS <= cutoff) and relapse (a responder at the end of the
course who no longer meets response) are computed from individual trajectories: by Gauss-Hermite
quadrature over the two random effects for one patient's expectation (:func:`outcome_probabilities`)
or from drawn individuals in a virtual trial.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
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
    "PARENT_OUTPUTS",
    "AntidepressantCourse",
    "AntidepressantParams",
    "Background",
    "antidepressant_course",
    "default_antidepressant_params",
    "drug_part",
    "exposure_memory",
    "exposure_memory_coefficients",
    "madrs_scores",
    "outcome_probabilities",
    "parent_concentration",
    "placebo_parts",
    "relapse_probability",
    "session_times_h",
    "simulate_antidepressant_course",
    "stored_parameter_file",
]

Background = Literal["continuing", "new_oral_ad"]
FloatArray = NDArray[np.float64]
PARENT_OUTPUTS = ("ketamine_plasma", "esketamine_plasma", "arketamine_plasma")
GRID_STEP_H = 1.0 / 30.0  # 2-min exposure grid
_QUAD_DRUG = 41  # Gauss-Hermite nodes over eta_D
_QUAD_PLACEBO = 15  # and over eta_P


@dataclass(frozen=True, slots=True)
class AntidepressantParams:
    """Parameters of the empirical model (rates per hour; Ce and EC50 in ng/mL; MADRS points)."""

    ke0_per_h: float
    ec50_ng_per_ml: float
    emax: float
    hill: float
    omega_drug: float
    session_effect: float
    session_decay_per_h: float
    session_onset_per_h: float
    expectancy_effect: float
    expectancy_rate_per_h: float
    new_oral_ad_effect: float
    omega_placebo: float
    residual_sd_madrs: float
    typical_baseline_madrs: float
    baseline_sd_madrs: float

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not math.isfinite(v) or v < 0:
                raise InputError(f.name, f"{v!r} must be a number >= 0")
        for name in (
            "ke0_per_h",
            "ec50_ng_per_ml",
            "hill",
            "session_decay_per_h",
            "session_onset_per_h",
            "expectancy_rate_per_h",
            "typical_baseline_madrs",
        ):
            if getattr(self, name) <= 0:
                raise InputError(name, f"{getattr(self, name)!r} must be > 0")
        if self.typical_baseline_madrs > 60:
            raise InputError("typical_baseline_madrs", "must lie in (0, 60]")


@cache
def _stored() -> dict[str, object]:
    path = resources.files("ketasim.pd") / "calibration" / "antidepressant_params.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def stored_parameter_file() -> dict[str, object]:
    """The parsed ``antidepressant_params.toml`` (parameters, sources, fit, LOSO, intervals)."""
    return dict(_stored())


def default_antidepressant_params() -> AntidepressantParams:
    """The calibrated parameters shipped with ketasim (fit report in the same file)."""
    values = _stored()["parameters"]
    assert isinstance(values, dict)
    return AntidepressantParams(**{k: float(v) for k, v in values.items()})


def exposure_memory_coefficients(step_h: float, ke0_per_h: float) -> tuple[float, float, float]:
    """(a, b0, b1) of the exact step ``Ce[n] = a Ce[n-1] + b0 C[n] + b1 C[n-1]`` for C linear
    over a step of ``step_h`` hours (what :func:`exposure_memory` applies along the grid)."""
    if step_h <= 0 or ke0_per_h <= 0:
        raise InputError("step_h", "step and ke0 must be > 0")
    x = ke0_per_h * step_h
    a = math.exp(-x)
    one_minus = -math.expm1(-x)
    b0 = 1.0 - one_minus / x
    return a, b0, one_minus / x - a


def exposure_memory(
    concentration_ng_per_ml: FloatArray,
    step_h: float,
    ke0_per_h: float,
) -> FloatArray:
    """``dCe/dt = ke0 (C - Ce)``, Ce(0) = 0, exact for C linear between grid points.

    ``concentration_ng_per_ml``: samples on a uniform grid from t = 0 (last axis = time; any
    leading axes are patients). Returns Ce at the grid points, same shape.
    """
    from scipy.signal import lfilter  # imported here: scipy.signal costs ~0.3 s to import

    c = np.asarray(concentration_ng_per_ml, dtype=np.float64)
    a, b0, b1 = exposure_memory_coefficients(step_h, ke0_per_h)
    # y[n] = a y[n-1] + b0 c[n] + b1 c[n-1]; y[0] = 0 because c[0] enters with weight b0:
    # start the filter from the state that makes y[0] = 0.
    zi_shape = (*c.shape[:-1], 1)
    zi = (-b0 * c[..., :1]).reshape(zi_shape)
    out, _ = lfilter([b0, b1], [1.0, -a], c, axis=-1, zi=zi)
    return np.asarray(out, dtype=np.float64)


def drug_part(
    ce_ng_per_ml: FloatArray, params: AntidepressantParams, eta_drug: FloatArray | float = 0.0
) -> FloatArray:
    """Drug part on the log scale of the remaining MADRS: ``Emax x^g / (EC50^g + x^g)`` with
    ``x = Ce exp(eta_D)`` (eta_D: the patient's drug sensitivity, a potency factor; g: Hill).

    ``ce_ng_per_ml``: (T,) or (n, T); ``eta_drug``: scalar or (n,) (patients on the first axis).
    """
    ce = np.maximum(np.asarray(ce_ng_per_ml, dtype=np.float64), 0.0)
    eta = np.asarray(eta_drug, dtype=np.float64)
    x = ce * np.exp(eta)[..., None] if eta.ndim else ce * math.exp(float(eta))
    r = (x / params.ec50_ng_per_ml) ** params.hill
    return np.asarray(params.emax * r / (1.0 + r), dtype=np.float64)


def placebo_parts(
    times_h: FloatArray | Sequence[float],
    sessions_h: Sequence[float],
    params: AntidepressantParams,
    background: Background = "continuing",
) -> dict[str, FloatArray]:
    """The named placebo parts (log scale of the remaining MADRS) at ``times_h``.

    ``session`` (expectancy of each session), ``expectancy`` (slow non-specific improvement from
    the first session) and ``new_oral_ad`` (an oral antidepressant started with the course).
    Every part is 0 before the first session.
    """
    if background not in ("continuing", "new_oral_ad"):
        raise InputError("background", f"{background!r} is not continuing or new_oral_ad")
    t = np.asarray(times_h, dtype=np.float64)
    if not len(sessions_h):
        raise InputError("sessions_h", "give at least one session time")
    p = params
    session = np.zeros_like(t)
    for ts in sessions_h:
        dt = np.maximum(t - ts, 0.0)
        session += p.session_effect * (
            np.exp(-p.session_decay_per_h * dt) - np.exp(-p.session_onset_per_h * dt)
        )
    since = np.maximum(t - min(sessions_h), 0.0)
    rise = -np.expm1(-p.expectancy_rate_per_h * since)
    new_ad = p.new_oral_ad_effect * rise if background == "new_oral_ad" else np.zeros_like(t)
    return {
        "session": np.maximum(session, 0.0),
        "expectancy": p.expectancy_effect * rise,
        "new_oral_ad": new_ad,
    }


def madrs_scores(
    baseline_madrs: FloatArray | float,
    placebo_h: FloatArray,
    drug_h: FloatArray,
    eta_placebo: FloatArray | float,
) -> FloatArray:
    """Individual MADRS scores (no rating error): ``BL exp(-(e^etaP Hp + Hd))``.

    ``placebo_h``: the typical placebo part (T,); ``drug_h``: the individual drug part (n, T)
    or (T,); ``eta_placebo`` and ``baseline_madrs``: scalars or (n,).
    """
    bl = np.asarray(baseline_madrs, dtype=np.float64)
    ep = np.exp(np.asarray(eta_placebo, dtype=np.float64))
    if ep.ndim:
        ep = ep[..., None]
    if bl.ndim:
        bl = bl[..., None]
    return np.asarray(bl * np.exp(-(ep * placebo_h + drug_h)), dtype=np.float64)


@cache
def _hermite(n: int) -> tuple[FloatArray, FloatArray]:
    z, w = np.polynomial.hermite.hermgauss(n)
    return np.asarray(z, dtype=np.float64), np.asarray(w, dtype=np.float64)


def _quadrature(
    params: AntidepressantParams, nodes: tuple[int, int] = (_QUAD_PLACEBO, _QUAD_DRUG)
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Nodes (eta_P, eta_D) and weights of the product Gauss-Hermite rule."""
    zp, wp = _hermite(nodes[0])
    zd, wd = _hermite(nodes[1])
    ep = math.sqrt(2.0) * params.omega_placebo * zp
    ed = math.sqrt(2.0) * params.omega_drug * zd
    w = np.outer(wp, wd).ravel() / math.pi
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
) -> OutcomeProbabilities:
    """Mean MADRS change and the probabilities that a patient's rating meets response
    (<= 50% of baseline) or remission (<= ``remission_cutoff``), for a patient of known
    baseline: quadrature over eta_P and eta_D (``nodes`` per axis), the rating error integrated
    exactly. ``probabilities=False`` skips response and remission (returned as NaN)."""
    ep, ed, w = _quadrature(params, nodes)
    scores = madrs_scores(baseline_madrs, placebo_h, drug_part(ce_ng_per_ml, params, ed), ep)
    sd = params.residual_sd_madrs
    mean = w @ (scores - baseline_madrs)
    if not probabilities:
        nan = np.full(mean.shape, np.nan)
        return OutcomeProbabilities(np.asarray(mean), nan, nan)
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
) -> FloatArray:
    """P(no longer a responder at t | responder at ``times[end_index]``), from the individual
    trajectories without rating error; 0 at and before the end-of-course time."""
    ep, ed, w = _quadrature(params)
    scores = madrs_scores(baseline_madrs, placebo_h, drug_part(ce_ng_per_ml, params, ed), ep)
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


@dataclass(frozen=True)
class AntidepressantCourse:
    """Model output at ``times_h`` (hours after the first session).

    ``madrs_change``: expected change of the patient population (points, 0 at t = 0);
    ``placebo_change``: the same sessions without drug; ``drug_change``: their difference (the
    drug-attributable part); ``placebo_parts``: the named parts of the typical patient (log scale);
    probabilities per time; ``relapse_probability``: after the course's end (last session + 24 h),
    among responders then, 0 before.
    """

    times_h: FloatArray
    madrs_change: FloatArray
    placebo_change: FloatArray
    drug_change: FloatArray
    response_probability: FloatArray
    remission_probability: FloatArray
    relapse_probability: FloatArray
    placebo_response_probability: FloatArray
    placebo_parts: Mapping[str, FloatArray]
    drug_part: FloatArray
    baseline_madrs: float
    remission_cutoff: float
    end_of_course_h: float
    placebo: bool = False
    empirical: bool = True


def antidepressant_course(
    grid_h: FloatArray,
    concentration_ng_per_ml: FloatArray,
    sessions_h: Sequence[float],
    times_h: FloatArray | Sequence[float],
    *,
    params: AntidepressantParams | None = None,
    background: Background = "continuing",
    baseline_madrs: float | None = None,
    remission_cutoff: float = 10.0,
    placebo: bool = False,
) -> AntidepressantCourse:
    """Evaluate the model from the parent drug's plasma concentration.

    ``grid_h``: a uniform grid (h) from 0 on which ``concentration_ng_per_ml`` is sampled;
    ``sessions_h``: session (dose or placebo) times; ``times_h``: output times within the grid.
    ``placebo``: the same sessions without drug (the concentration is ignored).
    """
    p = params if params is not None else default_antidepressant_params()
    grid = np.asarray(grid_h, dtype=np.float64)
    conc = np.asarray(concentration_ng_per_ml, dtype=np.float64)
    if grid.ndim != 1 or grid.shape != conc.shape or grid.size < 2:
        raise InputError("concentration", "grid and concentrations must be equal 1-D arrays")
    h = grid[1] - grid[0]
    if h <= 0 or not np.allclose(np.diff(grid), h, rtol=1e-6, atol=1e-9) or grid[0] != 0:
        raise InputError("grid_h", "must be uniform, ascending and start at 0")
    if np.any(conc < 0):
        raise InputError("concentration", "must be >= 0 ng/mL")
    out_t = np.asarray(times_h, dtype=np.float64)
    if out_t.ndim != 1 or np.any(out_t < 0) or np.any(out_t > grid[-1] + 1e-9):
        raise InputError("times_h", f"must lie within the grid, 0-{grid[-1]:g} h")
    bl = p.typical_baseline_madrs if baseline_madrs is None else float(baseline_madrs)
    if not 0 < bl <= 60:
        raise InputError("baseline_madrs", f"{bl!r} must lie in (0, 60]")
    if not 0 <= remission_cutoff <= 60:
        raise InputError("remission_cutoff", f"{remission_cutoff!r} must lie in [0, 60] MADRS")
    parts = placebo_parts(out_t, sessions_h, p, background)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    ce_grid = exposure_memory(conc, float(h), p.ke0_per_h)
    ce = np.zeros_like(out_t) if placebo else np.interp(out_t, grid, ce_grid)
    end_h = max(sessions_h) + 24.0
    total = outcome_probabilities(bl, hp, ce, p, remission_cutoff=remission_cutoff)
    pbo = outcome_probabilities(bl, hp, np.zeros_like(ce), p, remission_cutoff=remission_cutoff)
    relapse = np.zeros_like(out_t)
    after = out_t > end_h
    if np.any(after):  # trajectories from the end of the course to each later output time
        t_rel = np.concatenate(([end_h], out_t[after]))
        parts_r = placebo_parts(t_rel, sessions_h, p, background)
        hp_r = parts_r["session"] + parts_r["expectancy"] + parts_r["new_oral_ad"]
        ce_r = np.zeros_like(t_rel) if placebo else np.interp(t_rel, grid, ce_grid)
        relapse[after] = relapse_probability(bl, hp_r, ce_r, p, 0)[1:]
    return AntidepressantCourse(
        out_t,
        total.mean_change,
        pbo.mean_change,
        total.mean_change - pbo.mean_change,
        total.response,
        total.remission,
        relapse,
        pbo.response,
        parts,
        drug_part(ce, p),
        bl,
        float(remission_cutoff),
        end_h,
        placebo,
    )


def session_times_h(regimen: Regimen) -> list[float]:
    """Session times (h after the first dose): the distinct dose start times."""
    t0 = min(d.time_min for d in regimen)
    return sorted({(d.time_min - t0) / 60.0 for d in regimen})


def parent_concentration(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    horizon_h: float,
    *,
    allow_extrapolation: bool = False,
    step_h: float = GRID_STEP_H,
) -> tuple[FloatArray, FloatArray]:
    """(grid h, parent plasma ng/mL) on a uniform grid from the first dose to ``horizon_h``."""
    grid = np.arange(0.0, horizon_h + step_h, step_h)
    t0 = min(d.time_min for d in regimen)
    sim = simulate(
        model, patient, regimen, times_min=t0 + grid * 60.0, allow_extrapolation=allow_extrapolation
    )
    parent = next((v for k, v in sim.concentrations_ng_per_ml.items() if k in PARENT_OUTPUTS), None)
    if parent is None:
        raise InputError("--model", f"{model.id} has no ketamine or esketamine plasma output")
    return grid, np.maximum(np.asarray(parent, dtype=np.float64), 0.0)


def simulate_antidepressant_course(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    times_h: FloatArray | Sequence[float],
    *,
    params: AntidepressantParams | None = None,
    background: Background = "continuing",
    baseline_madrs: float | None = None,
    remission_cutoff: float = 10.0,
    placebo: bool = False,
    allow_extrapolation: bool = False,
) -> AntidepressantCourse:
    """PK of ``regimen`` under ``model`` for ``patient``, then the empirical MADRS model.

    Sessions are the dose start times; ``times_h`` are hours after the first dose. ``placebo``:
    the same sessions without drug.
    """
    out_t = np.asarray(times_h, dtype=np.float64)
    if out_t.size == 0:
        raise InputError("times_h", "give at least one output time")
    grid, conc = parent_concentration(
        model, patient, regimen, float(np.max(out_t)), allow_extrapolation=allow_extrapolation
    )
    return antidepressant_course(
        grid,
        conc,
        session_times_h(regimen),
        out_t,
        params=params,
        background=background,
        baseline_madrs=baseline_madrs,
        remission_cutoff=remission_cutoff,
        placebo=placebo,
    )
