"""The calibration report of the empirical antidepressant model (text), and its stored form.

``ketasim calibration antidepressant`` prints :func:`fit_report` of the stored parameters with
the leave-one-study-out errors and profile intervals stored beside them (computed by
``python -m ketasim.pd.calibration.fit_antidepressant --write``; ``--refit`` recomputes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from ketasim.pd.antidepressant import AntidepressantParams, antidepressant_course
from ketasim.pd.calibration.antidepressant_fit import (
    FITTED,
    FIXED_SOURCES,
    FitResult,
    ProfileInterval,
    StudyError,
    calibration_points,
    summarise,
)
from ketasim.pd.calibration.antidepressant_interval import new_trial_intervals
from ketasim.pd.calibration.antidepressant_points import RATES, RESPONSE_SE_FLOOR, exposures
from ketasim.pd.calibration.antidepressant_sources import SEARCHED
from ketasim.pd.calibration.antidepressant_sustain import sustain_lines
from ketasim.pd.calibration.antidepressant_trial_effects import estimate_trial_sd, trial_effects

__all__ = [
    "SEARCHED",
    "fit_report",
    "interval_rows",
    "params_toml",
    "point_rows",
    "stored_calibration",
]


def _point_lines(result: FitResult) -> list[str]:
    header = (
        f"{'study':<26}{'arm':<30}{'time':>7}  {'quantity':<13}{'published':>10}"
        f"{'predicted':>10}{'error':>8}{'z':>6}"
    )
    lines = [header, "-" * len(header)]
    for pt, pred in zip(result.points, result.predicted, strict=True):
        if pt.quantity in RATES:
            pub, pr = f"{100 * pt.value:.0f}%", f"{100 * pred:.0f}%"
            err = f"{100 * (pred - pt.value):+.0f}"
        else:
            pub, pr, err = f"{pt.value:.1f}", f"{pred:.1f}", f"{pred - pt.value:+.1f}"
        t = f"{pt.time_h:g}h" if pt.time_h < 48 else f"d{pt.time_h / 24:g}"
        z = (pred - pt.value) / pt.se
        lines.append(
            f"{pt.study[:25]:<26}{pt.arm[:29]:<30}{t:>7}  {pt.quantity[:12]:<13}"
            f"{pub:>10}{pr:>10}{err:>8}{z:>6.1f}"
        )
    return lines


def _checks(params: AntidepressantParams) -> list[str]:
    """Findings not used in the fit: Kishimoto/Coyle durability, Fava dose ordering."""
    conc, sessions = exposures()["iv_single"]
    grid = np.arange(conc.size) / 30.0
    t = np.array([24.0, 168.0, 288.0])
    k = antidepressant_course(grid, conc, sessions, t, params=params)
    diff = 100 * (k.response_probability - k.placebo_response_probability)
    return [
        f"  single 0.5 mg/kg IV, response drug minus same sessions without drug: day 1 "
        f"{diff[0]:+.0f}, day 7 {diff[1]:+.0f}, day 12 {diff[2]:+.0f} percentage points "
        "(Kishimoto 2016: peak at day 1, superiority lost by days 10-12; Coyle & Laws 2015: "
        "significant to day 7, not at 12-14 days)"
    ]


def _transform_summary(test: FitResult) -> list[str]:
    """Mean absolute error of the phase-3 test per quantity (points / percentage points)."""
    out = []
    for q, scale, unit in (
        ("madrs_change", 1.0, "MADRS points"),
        ("madrs_difference", 1.0, "MADRS points"),
        ("response_rate", 100.0, "percentage points"),
        ("remission_rate", 100.0, "percentage points"),
    ):
        idx = [i for i, pt in enumerate(test.points) if pt.quantity == q]
        if idx:
            err = [scale * (test.predicted[i] - test.points[i].value) for i in idx]
            out.append(
                f"  {q}: {len(idx)} values, mean error {np.mean(err):+.1f}, mean absolute "
                f"error {np.mean(np.abs(err)):.1f} {unit}"
            )
    return out


def _trial_effect_lines(params: AntidepressantParams) -> list[str]:
    effects = trial_effects(params)
    sd = estimate_trial_sd(effects)
    lo = "0 (not excluded)" if sd.low is None else f"{sd.low:.2f}"
    hi = "not reached" if sd.high is None else f"{sd.high:.2f}"
    lines = [
        "",
        "Trial effects on the non-specific parts (second stage, fitted parameters fixed; each "
        "from the trial's control arms only; multiplier exp(eta_T)):",
    ]
    for e in sorted(effects, key=lambda e: e.eta):
        lines.append(
            f"  {e.study[:40]:<42}{math.exp(e.eta):>6.2f}  eta {e.eta:+.2f} (SE {e.se:.2f}, "
            f"{e.n_points} values)"
        )
    lines.append(
        f"  between-trial SD omega_trial_placebo = {sd.omega:.3f} (ML around 0, 95% profile "
        f"interval {lo} to {hi}; {sd.n_trials} trials; stored {params.omega_trial_placebo:.3f})"
    )
    return lines


def _interval_lines(params: AntidepressantParams, test: FitResult) -> list[str]:
    """TRANSFORM as a new trial: 90% prediction intervals (trial effect and sampling)."""
    rows = new_trial_intervals(params, test.points)
    lines = [
        "",
        "TEST as a new trial: 90% prediction interval (between-trial effect on the non-specific "
        "parts, N(0, omega_trial_placebo^2), and sampling error), published value inside?",
    ]
    for r in rows:
        pt = r.point
        k = 100.0 if pt.quantity in RATES else 1.0
        t = f"{pt.time_h:g}h" if pt.time_h < 48 else f"d{pt.time_h / 24:g}"
        lines.append(
            f"  {pt.study[:22]:<23}{pt.arm[:28]:<29}{t:>6} {pt.quantity[:12]:<13}"
            f"{k * pt.value:>7.1f}  [{k * r.low:6.1f}, {k * r.high:6.1f}]"
            f"  {'inside' if r.inside else 'OUTSIDE'}"
        )
    inside = sum(r.inside for r in rows)
    lines.append(f"  {inside} of {len(rows)} published values inside their 90% interval")
    return lines


def fit_report(
    result: FitResult,
    *,
    loso: Sequence[StudyError] = (),
    profile: Sequence[ProfileInterval] = (),
    test: FitResult | None = None,
) -> str:
    """Predicted vs published at every calibration point, leave-one-study-out errors, profile
    intervals and identifiability, and the phase-3 test (never fitted)."""
    lines = [
        "Empirical antidepressant model (ketasim; NOT a published PK/PD model)",
        "calibrated to published trial summaries; exposure from domino-1982 (IV) and "
        "perez-ruixo-2021 (intranasal), typical 70-kg adult",
        "",
        SEARCHED,
        "",
    ]
    lines += _point_lines(result)
    lines += [
        "",
        f"In-sample: RMSE MADRS change {result.rmse_madrs_points:.2f} points; RMSE response "
        f"rate {result.rmse_response_pct_points:.1f} percentage points; weighted chi2 "
        f"{result.chi2:.1f} on {len(result.points)} points, {len(FITTED)} fitted "
        f"parameters; optimiser converged: {result.converged}",
        f"Response-rate weights: binomial SE, floored at {RESPONSE_SE_FLOOR:.2f} (0.05 "
        "where n is unknown): a fitting choice.",
    ]
    lines += _trial_effect_lines(result.params)
    if loso:
        lines += [
            "",
            "Leave-one-study-out (each study predicted by a fit without it):",
            f"  {'study':<28}{'points':>7}  {'unit':<18}{'in-sample':>10}{'left out':>10}"
            f"{'in 90% PI':>11}",
        ]
        for e in loso:
            cov = "-" if e.inside_90 is None else f"{e.inside_90}/{e.n_points}"
            lines.append(
                f"  {e.study[:27]:<28}{e.n_points:>7}  {e.quantity:<18}"
                f"{e.rmse_in_sample:>10.2f}{e.rmse_left_out:>10.2f}{cov:>11}"
            )
        with_pi = [e for e in loso if e.inside_90 is not None]
        if with_pi:
            k = sum(e.inside_90 or 0 for e in with_pi)
            n = sum(e.n_points for e in with_pi)
            lines.append(
                f"  left-out values of single trials inside the 90% interval of a new trial "
                f"(omega re-estimated without the study): {k} of {n}"
            )
    if profile:
        lines += ["", "Parameters (profile-likelihood 95% intervals, chi2 + 3.84, coarse grid):"]
        for pi in profile:
            lo = "not reached (flat to the bound)" if pi.low is None else f"{pi.low:.4g}"
            hi = "not reached (flat to the bound)" if pi.high is None else f"{pi.high:.4g}"
            flag = "  AT ITS SEARCH BOUND" if pi.at_bound else ""
            ident = (
                ""
                if pi.low is not None and pi.high is not None
                else "  NOT IDENTIFIABLE on this side from these data"
            )
            lines.append(f"  {pi.name} = {pi.estimate:.4g}  [{lo}, {hi}]{flag}{ident}")
    else:
        lines += ["", "Parameters:"]
        for name in FITTED:
            v = getattr(result.params, name)
            flag = (
                "  AT ITS SEARCH BOUND"
                if any(math.isclose(v, b, rel_tol=1e-3) for b in FITTED[name])
                else ""
            )
            lines.append(f"  {name} = {v:.4g}{flag}")
    lines += ["Not fitted:"]
    lines += [
        f"  {name} = {getattr(result.params, name):.4g}: {src}"
        for name, src in FIXED_SOURCES.items()
    ]
    lines += [
        "",
        "Checks against findings not used in the fit:",
    ]
    lines += _checks(result.params)
    check = calibration_points("check")
    if check:  # published calibration values kept out of the fit (their sources say why)
        lines += ["", "Calibration values not fitted (use = check):"]
        lines += _point_lines(summarise(result.params, check))
    if test is not None:
        lines += ["", "TEST: esketamine phase 3 (TRANSFORM, ASPIRE I/II; never used in the fit):"]
        lines += _point_lines(test)
        lines += _transform_summary(test)
        lines += _interval_lines(result.params, test)
        lines += ["", "TEST: SUSTAIN-1 randomised withdrawal (never used in the fit):"]
        lines += sustain_lines(result.params)
    lines += [
        "",
        "Known limits: the Japanese phase 2b null result (every dose = placebo at day 28) "
        "cannot be matched together with Daly 2018 by one exposure-driven effect; the trial "
        "effects absorb differences of the non-specific parts between trials, not of the drug "
        "part; end-of-course assessments are taken as 24 h after the last infusion; "
        "esketamine and racemic ketamine share one EC50 on the racemic-equivalent "
        "concentration (esketamine_potency x esketamine ng/mL); a patient's trajectory is "
        "deterministic unless the within-patient fluctuation is switched on for a "
        "sensitivity analysis (no published week-to-week MADRS variability was found to set "
        "its size or time scale).",
    ]
    return "\n".join(lines)


def params_toml(
    result: FitResult, loso: Sequence[StudyError], profile: Sequence[ProfileInterval]
) -> str:
    """The parameter file text: parameters, sources, fit summary, LOSO errors, intervals."""
    lines = [
        "# EMPIRICAL antidepressant model parameters (ketasim's own model, not a published one).",
        "# Written by: python -m ketasim.pd.calibration.fit_antidepressant --write",
        "# Data: antidepressant_data.csv and antidepressant_design.toml beside this file.",
        "schema_version = 7",
        'model = "ketasim empirical antidepressant response (slow exposure memory, Emax)"',
        "",
        "[parameters]",
    ]
    lines += [f"{k} = {v!r}" for k, v in asdict(result.params).items()]
    lines += [
        "",
        "[sources]",
        'fitted = "weighted least squares on antidepressant_data.csv (use = fit): '
        + ", ".join(FITTED)
        + '"',
        *[f'{name} = "{src}"' for name, src in FIXED_SOURCES.items()],
        f'searched = "{SEARCHED}"',
        "",
        "[fit]",
        f"rmse_madrs_points = {result.rmse_madrs_points:.4f}",
        f"rmse_response_pct_points = {result.rmse_response_pct_points:.4f}",
        f"weighted_chi2 = {result.chi2:.4f}",
        f"n_points = {len(result.points)}",
        f"converged = {'true' if result.converged else 'false'}",
        "",
    ]
    for study, eta in result.trial_eta.items():
        lines += ["[[trial_effect]]", f'study = "{study}"', f"eta = {eta!r}", ""]
    for e in loso:
        lines += [
            "[[loso]]",
            f'study = "{e.study}"',
            f"n_points = {e.n_points}",
            f'quantity = "{e.quantity}"',
            f"rmse_in_sample = {e.rmse_in_sample:.4f}",
            f"rmse_left_out = {e.rmse_left_out:.4f}",
            *([] if e.inside_90 is None else [f"inside_90 = {e.inside_90}"]),
            "",
        ]
    for pi in profile:
        lines += ["[[profile]]", f'name = "{pi.name}"', f"estimate = {pi.estimate!r}"]
        if pi.low is not None:
            lines.append(f"low = {pi.low!r}")
        if pi.high is not None:
            lines.append(f"high = {pi.high!r}")
        lines += [f"at_bound = {'true' if pi.at_bound else 'false'}", ""]
    return "\n".join(lines)


def stored_calibration() -> tuple[list[StudyError], list[ProfileInterval]]:
    """The leave-one-study-out errors and profile intervals stored with the parameters."""
    from ketasim.pd.antidepressant import stored_parameter_file

    data = stored_parameter_file()
    loso_rows = data.get("loso", [])
    prof_rows = data.get("profile", [])
    assert isinstance(loso_rows, list) and isinstance(prof_rows, list)
    loso = [
        StudyError(
            str(e["study"]),
            int(e["n_points"]),
            float(e["rmse_in_sample"]),
            float(e["rmse_left_out"]),
            str(e["quantity"]),
            int(e["inside_90"]) if "inside_90" in e else None,
        )
        for e in loso_rows
    ]
    prof = [
        ProfileInterval(
            str(p["name"]),
            float(p["estimate"]),
            float(p["low"]) if "low" in p else None,
            float(p["high"]) if "high" in p else None,
            bool(p["at_bound"]),
        )
        for p in prof_rows
    ]
    return loso, prof


def point_rows(result: FitResult) -> list[dict[str, object]]:
    """Each point of ``result`` as a dict (published, predicted, error, SE, source)."""
    return [
        {
            "study": p.study,
            "arm": p.arm,
            "time_h": p.time_h,
            "quantity": p.quantity,
            "published": p.value,
            "predicted": float(v),
            "error": float(v - p.value),
            "se": p.se,
            "source": p.source,
        }
        for p, v in zip(result.points, result.predicted, strict=True)
    ]


def interval_rows(params: AntidepressantParams, test: FitResult) -> list[dict[str, object]]:
    """Each test point as a new trial: published value, median and 90% interval, inside."""
    return [
        {
            "study": r.point.study,
            "arm": r.point.arm,
            "time_h": r.point.time_h,
            "quantity": r.point.quantity,
            "published": r.point.value,
            "median": r.median,
            "low": r.low,
            "high": r.high,
            "level": r.level,
            "inside": r.inside,
        }
        for r in new_trial_intervals(params, test.points)
    ]
