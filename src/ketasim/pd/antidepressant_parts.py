"""The equations of the EMPIRICAL antidepressant model for one patient (pure numerics).

Exposure memory (``dCe/dt = ke0 (C - Ce)``), the drug part (Emax of Ce), the named placebo parts
(session, expectancy, new oral antidepressant) and the MADRS score they give. Population
expectations are in :mod:`ketasim.pd.antidepressant_population`; the model's description is in
:mod:`ketasim.pd.antidepressant`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from ketasim.errors import InputError
from ketasim.pd.antidepressant_params import AntidepressantParams

__all__ = [
    "Background",
    "drug_onset",
    "drug_part",
    "drug_time_factor",
    "drug_tolerance",
    "exposure_memory",
    "exposure_memory_coefficients",
    "individual_scores",
    "madrs_scores",
    "placebo_parts",
]

Background = Literal["continuing", "new_oral_ad"]
FloatArray = NDArray[np.float64]


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
    *,
    power: float = 1.0,
) -> FloatArray:
    """``dCe/dt = ke0 (C - Ce)``, Ce(0) = 0, exact for C linear between grid points.

    ``concentration_ng_per_ml``: samples on a uniform grid from t = 0 (last axis = time; any
    leading axes are patients). Returns Ce at the grid points, same shape. ``power``
    (``exposure_power``, seventh session): the memory integrates ``(C / 1 ng/mL)^power`` ng/mL
    instead of C (above 1 it weighs the peak more than the area; 1, the default, is C itself,
    linear between the grid points of the powered samples).
    """
    if not (math.isfinite(power) and power > 0):
        raise InputError("exposure_power", f"{power!r} must be > 0")
    c = np.asarray(concentration_ng_per_ml, dtype=np.float64)
    if power != 1.0:
        c = np.power(np.maximum(c, 0.0), power)
    a, b0, b1 = exposure_memory_coefficients(step_h, ke0_per_h)
    # y[n] = a y[n-1] + b0 c[n] + b1 c[n-1]; y[0] = 0 because c[0] enters with weight b0:
    # start the filter from the state that makes y[0] = 0.
    zi_shape = (*c.shape[:-1], 1)
    zi = (-b0 * c[..., :1]).reshape(zi_shape)
    from scipy.signal import lfilter  # imported here: scipy.signal costs ~0.3 s to import

    out, _ = lfilter([b0, b1], [1.0, -a], c, axis=-1, zi=zi)
    return np.asarray(out, dtype=np.float64)


def drug_part(
    ce_ng_per_ml: FloatArray, params: AntidepressantParams, eta_drug: FloatArray | float = 0.0
) -> FloatArray:
    """Drug part on the log scale of the remaining MADRS, ``Emax_i x^g / ((EC50^p)^g + x^g)``
    (g: Hill; eta_D: the patient's drug random effect; p: ``exposure_power``, the memory ``Ce``
    being in (ng/mL)^p; ``EC50`` in ng/mL, the constant concentration at which the typical
    patient's drug part is half its maximum).

    - ``emax_ceiling_ratio`` 0 (default): ``x = Ce exp((1 - s) eta_D)`` and
      ``Emax_i = Emax exp(s eta_D)`` (s = ``emax_share_of_drug_eta``: 0 puts eta_D all on
      potency, 1 all on Emax);
    - ``emax_ceiling_ratio`` r > 1: a logit-normal Emax with one potency for everyone,
      ``x = Ce`` and ``Emax_i = r Emax expit(eta_D - log(r - 1))`` (``Emax`` is the typical
      patient's, eta_D = 0; ``r Emax`` the ceiling no patient exceeds). Averaging over patients
      then leaves the shape of the individual exposure-response unchanged.

    ``ce_ng_per_ml``: (T,) or (n, T); ``eta_drug``: scalar or (n,) (patients on the first axis).
    """
    ce = np.maximum(np.asarray(ce_ng_per_ml, dtype=np.float64), 0.0)
    # the memory integrates C^p: its half-maximal level is EC50^p, EC50 in ng/mL (the constant
    # concentration at which the typical patient's drug part is half its maximum)
    ec50 = params.ec50_ng_per_ml**params.exposure_power
    eta = np.asarray(eta_drug, dtype=np.float64)
    eta_x = eta[..., None] if eta.ndim else eta
    ratio = params.emax_ceiling_ratio
    if ratio:
        r = (ce / ec50) ** params.hill
        emax = ratio * params.emax * expit(eta_x - math.log(ratio - 1.0))
        return np.asarray(emax * r / (1.0 + r), dtype=np.float64)
    s = params.emax_share_of_drug_eta
    x = ce * np.exp((1.0 - s) * eta_x)
    r = (x / ec50) ** params.hill
    emax = params.emax * np.exp(s * eta_x)
    return np.asarray(emax * r / (1.0 + r), dtype=np.float64)


def drug_tolerance(
    times_h: FloatArray | Sequence[float],
    sessions_h: Sequence[float],
    params: AntidepressantParams,
) -> FloatArray:
    """Factor on the drug parts (the ketamine drug part and a newly started oral
    antidepressant) for a slow loss of their effect on continued treatment:
    ``exp(-drug_tolerance_per_h (t - first session))``, 1 before the first session and
    everywhere when the rate is 0 (the default)."""
    t = np.asarray(times_h, dtype=np.float64)
    since = np.maximum(t - min(sessions_h), 0.0)
    return np.asarray(np.exp(-params.drug_tolerance_per_h * since), dtype=np.float64)


def drug_onset(
    times_h: FloatArray | Sequence[float],
    sessions_h: Sequence[float],
    params: AntidepressantParams,
) -> FloatArray:
    """Factor on the ketamine drug part for a drug effect that builds over days from the first
    session (seventh session): ``1 - exp(-drug_onset_per_h (t - first session))``; 1 everywhere
    when the rate is 0 (the default: the drug part follows the exposure memory alone)."""
    t = np.asarray(times_h, dtype=np.float64)
    if not params.drug_onset_per_h:
        return np.ones_like(t)
    since = np.maximum(t - min(sessions_h), 0.0)
    return np.asarray(-np.expm1(-params.drug_onset_per_h * since), dtype=np.float64)


def drug_time_factor(
    times_h: FloatArray | Sequence[float],
    sessions_h: Sequence[float],
    params: AntidepressantParams,
) -> FloatArray:
    """The time factor on the ketamine drug part: :func:`drug_tolerance` (slow loss on continued
    treatment) times :func:`drug_onset` (build-up from the first session); 1 with both off."""
    return drug_tolerance(times_h, sessions_h, params) * drug_onset(times_h, sessions_h, params)


def placebo_parts(
    times_h: FloatArray | Sequence[float],
    sessions_h: Sequence[float],
    params: AntidepressantParams,
    background: Background = "continuing",
    *,
    oral_ad_stop_h: float | None = None,
) -> dict[str, FloatArray]:
    """The named placebo parts (log scale of the remaining MADRS) at ``times_h``.

    ``session`` (expectancy of each session), ``expectancy`` (slow non-specific improvement from
    the first session, ``A_e (1 - exp(-k_e t)) exp(-k_f t)``: it fades at ``k_f =
    expectancy_fade_per_h``, 0 by default, sessions or not) and ``new_oral_ad`` (an oral
    antidepressant started with the course, times :func:`drug_tolerance`).
    ``oral_ad_stop_h``: the oral antidepressant is stopped (switched to placebo) at that time
    (h after the first session); its part then decays at the rate it rose,
    ``part(t_stop) exp(-k_e (t - t_stop))`` (an assumption: no source for the offset was found).
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
    if p.drug_tolerance_per_h:
        new_ad = new_ad * drug_tolerance(t, sessions_h, p)
    if oral_ad_stop_h is not None and background == "new_oral_ad":
        stop = float(oral_ad_stop_h)
        if not (math.isfinite(stop) and stop >= min(sessions_h)):
            raise InputError("oral_ad_stop_h", f"{stop!r} must be >= the first session (h)")
        at_stop = p.new_oral_ad_effect * -math.expm1(-p.expectancy_rate_per_h * stop)
        at_stop *= math.exp(-p.drug_tolerance_per_h * (stop - min(sessions_h)))
        after = t > stop
        new_ad = np.where(
            after, at_stop * np.exp(-p.expectancy_rate_per_h * np.maximum(t - stop, 0.0)), new_ad
        )
    fade = np.exp(-p.expectancy_fade_per_h * since)
    return {
        "session": np.maximum(session, 0.0),
        "expectancy": p.expectancy_effect * rise * fade,
        "new_oral_ad": new_ad,
    }


def madrs_scores(
    baseline_madrs: FloatArray | float,
    placebo_h: FloatArray,
    drug_h: FloatArray,
    eta_placebo: FloatArray | float,
    overlap_q: float = 1.0,
    *,
    normal_placebo: bool = False,
) -> FloatArray:
    """Individual MADRS scores (no rating error): ``BL exp(-H)`` with the combined part
    ``H = ((e^etaP Hp)^q + Hd^q)^(1/q)``.

    ``q = overlap_q >= 1``: 1 adds the non-specific and the drug parts on the log scale
    (independent actions); a larger q makes them overlap (the drug adds less for a patient who
    improves anyway; q -> infinity: the larger of the two). ``placebo_h``: the typical placebo
    part (T,); ``drug_h``: the individual drug part (n, T) or (T,); ``eta_placebo`` and
    ``baseline_madrs``: scalars or (n,). The patient's factor on the non-specific part is
    ``exp(eta_P)`` (log-normal), or ``1 + eta_P`` with ``normal_placebo`` (normal: thinner right
    tail; a negative factor is a worsening along the non-specific time course, capped at the
    scale's maximum 60).
    """
    if not overlap_q >= 1.0:
        raise InputError("overlap_q", f"{overlap_q!r} must be >= 1")
    bl = np.asarray(baseline_madrs, dtype=np.float64)
    eta_p = np.asarray(eta_placebo, dtype=np.float64)
    ep = 1.0 + eta_p if normal_placebo else np.exp(eta_p)
    if ep.ndim:
        ep = ep[..., None]
    if bl.ndim:
        bl = bl[..., None]
    hp = ep * placebo_h
    if overlap_q != 1.0 and normal_placebo:
        raise InputError("overlap_q", "must be 1 with a normal non-specific factor")
    if overlap_q == 1.0:
        h = hp + drug_h
    else:
        h = (hp**overlap_q + np.asarray(drug_h) ** overlap_q) ** (1.0 / overlap_q)
    scores = bl * np.exp(-h)
    if normal_placebo:  # a worsening stops at the top of the scale
        scores = np.minimum(scores, 60.0)
    return np.asarray(scores, dtype=np.float64)


def individual_scores(
    baseline_madrs: FloatArray | float,
    placebo_h: FloatArray,
    ce_ng_per_ml: FloatArray,
    params: AntidepressantParams,
    eta_placebo: FloatArray | float,
    eta_drug: FloatArray | float,
    drug_scale: FloatArray | float = 1.0,
) -> FloatArray:
    """Individual MADRS scores (no rating error) of patients with random effects (eta_P, eta_D):
    :func:`madrs_scores` of the drug part :func:`drug_part` with ``params``' structure;
    ``drug_scale`` (T,) multiplies the drug part (:func:`drug_tolerance`)."""
    return madrs_scores(
        baseline_madrs,
        placebo_h,
        drug_part(ce_ng_per_ml, params, eta_drug) * np.asarray(drug_scale, dtype=np.float64),
        eta_placebo,
        params.overlap_q,
        normal_placebo=params.placebo_eta_normal > 0,
    )
