"""Antidepressant response (MADRS over days to weeks): an EXPLICITLY EMPIRICAL model.

No published PK/PD model of ketamine or esketamine on MADRS could be read (Abuhelwa et al. Clin
Pharmacol Ther 2022 and the FDA clinical-pharmacology review of NDA 211243 were looked for; see
``pd/calibration/antidepressant_params.toml``). This is ketasim's own structure, calibrated to
published trial summaries by :mod:`ketasim.pd.calibration.antidepressant_fit`.

Structure (t in hours after the first session; C(t) = plasma concentration of the administered
parent drug, ng/mL, from whatever PK model and route is simulated):

- exposure memory: a slow effect compartment ``dCe/dt = ke0 ((C / 1 ng/mL)^p - Ce)`` (p =
  ``exposure_power``, 1.75 since the seventh session, so a higher, shorter peak counts more than
  the same area; Ce in (ng/mL)^p, its half-maximal level EC50^p with EC50 in ng/mL; with a
  half-life of days it integrates each session's exposure
  and carries it between sessions, so a course builds on itself and the benefit fades after the
  last session);
- drug part (log scale of the remaining MADRS): ``Hd = Emax Ce^g / ((EC50^p)^g + Ce^g)``
  (typical; g the Hill coefficient; EC50 in ng/mL);
- placebo parts, each named and 0 before the first session:

  - ``session``: the expectancy/session effect of each session (drug or placebo),
    ``A_s (exp(-k_d dt) - exp(-k_on dt))`` after each session;
  - ``expectancy``: the slow non-specific improvement of a trial, ``A_e (1 - exp(-k_e t))
    exp(-k_f t)``: it fades over months (half-time 39 weeks, fifth session, from the relapse
    of placebo responders continued on placebo, Khan 2008);
  - ``new_oral_ad``: an oral antidepressant started with the course (background
    ``new_oral_ad``), ``A_ad (1 - exp(-k_e t))``; 0 with a continuing background treatment;

- patient i: ``MADRS_i(t) = BL_i exp(-(exp(eta_P,i) Hp(t) + Hd_i(t)))`` where ``Hd_i`` uses the
  patient's sensitivity ``Ce exp(eta_D,i)`` in place of Ce; ``eta_P ~ N(0, omega_placebo^2)``,
  ``eta_D ~ N(0, omega_drug^2)``; ratings add a normal error of SD ``residual_sd_madrs``.
  MADRS change is exactly 0 at t = 0.

Response (>= 50% drop), remission (MADRS <= cutoff) and relapse (a responder at the end of the
course who no longer meets response) are computed from individual trajectories: by
quadrature over the two random effects for one patient's expectation (:func:`outcome_probabilities`)
or from drawn individuals in a virtual trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.antidepressant_params import (
    AntidepressantParams,
    default_antidepressant_params,
    potency_factor,
    stored_parameter_file,
)
from ketasim.pd.antidepressant_parts import (
    Background,
    drug_part,
    drug_time_factor,
    exposure_memory,
    exposure_memory_coefficients,
    madrs_scores,
    placebo_parts,
)
from ketasim.pd.antidepressant_population import (
    OutcomeProbabilities,
    outcome_probabilities,
    relapse_probability,
)
from ketasim.pd.antidepressant_relapse import (
    fluctuation_variance,
    rated_relapse_probability,
    relapse_is_rated,
    visit_times,
)
from ketasim.pk import Regimen, simulate

__all__ = [
    "PARENT_OUTPUTS",
    "AntidepressantCourse",
    "AntidepressantParams",
    "Background",
    "OutcomeProbabilities",
    "antidepressant_course",
    "default_antidepressant_params",
    "drug_part",
    "exposure_memory",
    "exposure_memory_coefficients",
    "madrs_scores",
    "outcome_probabilities",
    "parent_concentration",
    "placebo_parts",
    "potency_factor",
    "relapse_probability",
    "session_times_h",
    "simulate_antidepressant_course",
    "stored_parameter_file",
]

FloatArray = NDArray[np.float64]
PARENT_OUTPUTS = ("ketamine_plasma", "esketamine_plasma", "arketamine_plasma")
GRID_STEP_H = 1.0 / 30.0  # 2-min exposure grid


@dataclass(frozen=True)
class AntidepressantCourse:
    """Model output at ``times_h`` (hours after the first session).

    ``madrs_change``: expected change of the patient population (points, 0 at t = 0);
    ``placebo_change``: the same sessions without drug; ``drug_change``: their difference (the
    drug-attributable part); ``placebo_parts``: the named parts of the typical patient (log scale);
    probabilities per time; ``relapse_probability``: after the course's end (last session + 24 h),
    among responders then, 0 before (on ratings at weekly visits with ``relapse_on_ratings``).
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

    ``grid_h``: a uniform grid (h) from 0 on which ``concentration_ng_per_ml`` is sampled
    (racemic-equivalent: esketamine concentrations times ``esketamine_potency``, as
    :func:`parent_concentration` returns them);
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
    ce_grid = exposure_memory(conc, float(h), p.ke0_per_h, power=p.exposure_power)
    ce = np.zeros_like(out_t) if placebo else np.interp(out_t, grid, ce_grid)
    end_h = max(sessions_h) + 24.0
    tol = drug_time_factor(out_t, sessions_h, p)
    var = fluctuation_variance(out_t, p)
    total, pbo = (
        outcome_probabilities(
            bl, hp, c, p, remission_cutoff=remission_cutoff, drug_scale=tol, fluctuation_var=var
        )
        for c in (ce, np.zeros_like(ce))
    )
    relapse = _relapse_after(bl, grid, ce_grid, sessions_h, out_t, end_h, p, background, placebo)
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


def _relapse_after(
    bl: float,
    grid: FloatArray,
    ce_grid: FloatArray,
    sessions_h: Sequence[float],
    out_t: FloatArray,
    end_h: float,
    p: AntidepressantParams,
    background: Background,
    placebo: bool,
) -> FloatArray:
    """Relapse among the responders at ``end_h`` by each output time (0 up to ``end_h``): on
    the trajectory at that time, or (``relapse_on_ratings``) on ratings at weekly visits."""
    relapse = np.zeros_like(out_t)
    after = out_t > end_h
    if not np.any(after):
        return relapse

    def inputs(t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        parts = placebo_parts(t, sessions_h, p, background)
        hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
        ce = np.zeros_like(t) if placebo else np.interp(t, grid, ce_grid)
        return hp, ce, drug_time_factor(t, sessions_h, p)

    if relapse_is_rated(p):
        for i in np.flatnonzero(after):
            t_v = visit_times(end_h, float(out_t[i]))
            hp, ce, tol = inputs(t_v)
            relapse[i] = rated_relapse_probability(bl, hp, ce, t_v, p, drug_scale=tol).probability
        return relapse
    t_rel = np.concatenate(([end_h], out_t[after]))  # trajectories from the end of the course
    hp, ce, tol = inputs(t_rel)
    relapse[after] = relapse_probability(bl, hp, ce, p, 0, tol)[1:]
    return relapse


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
    params: AntidepressantParams | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(grid h, racemic-equivalent parent plasma ng/mL) on a uniform grid from the first dose to
    ``horizon_h``: the parent drug's plasma concentration times its antidepressant potency
    relative to racemic ketamine (:func:`potency_factor`; ``params`` default: the stored ones)."""
    p = params if params is not None else default_antidepressant_params()
    grid = np.arange(0.0, horizon_h + step_h, step_h)
    t0 = min(d.time_min for d in regimen)
    sim = simulate(
        model, patient, regimen, times_min=t0 + grid * 60.0, allow_extrapolation=allow_extrapolation
    )
    name = next((k for k in sim.concentrations_ng_per_ml if k in PARENT_OUTPUTS), None)
    if name is None:
        raise InputError("model", f"{model.id} has no ketamine or esketamine plasma output")
    parent = np.maximum(np.asarray(sim.concentrations_ng_per_ml[name], dtype=np.float64), 0.0)
    return grid, parent * potency_factor(name, p)


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
        model,
        patient,
        regimen,
        float(np.max(out_t)),
        allow_extrapolation=allow_extrapolation,
        params=params,
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
