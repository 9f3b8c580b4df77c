"""Loss of benefit on continued treatment (sixth session): candidate structures, judged on the
calibration data only.

Candidates, each refitted on the calibration data (``use = fit``, with Khan 2008's drug arm and
Geddes 2003's continued arm since the sixth session):

- ``stored``: the parameter file (the fifth session's structure, kept in the sixth: the
  expectancy part fades, half-time 39 weeks; relapse on the trajectory);
- ``rated``: relapse judged on rated MADRS at visits (``relapse_on_ratings``), no fluctuation;
- ``ou SD TAU``: plus a within-patient Ornstein-Uhlenbeck fluctuation on log MADRS of
  stationary SD ``SD`` and correlation time ``TAU`` weeks (relapse then judged on rated MADRS at
  visits, :mod:`ketasim.pd.antidepressant_relapse`); a grid, since with a few relapse values the
  two may not be identifiable;
- ``tol WEEKS``: plus a slow loss of the drug parts' effect on continued treatment (half-time
  ``WEEKS``).

Printed per candidate: weighted chi2 on the fit values, the relapse values (with the Monte
Carlo error when a fluctuation is on), the Geddes withdrawn arm (``use = check``, not fitted),
the must-shows (Daly spread, ketamine 0.1 vs 0.5 mg/kg, a course vs one session) and, for
information only, never to choose, the TRANSFORM-2 difference and SUSTAIN-1 relapse.

``fade`` in a candidate also fits the fading rate (smooth only with relapse on ratings).
Run ``.venv/bin/python benchmarks/antidepressant_continued.py stored "ou 0.2 4 fade" "tol 52"``;
add ``--loso`` for leave-one-study-out (slow), ``--no-refit`` to evaluate without fitting. A
measurement, not a test: its figures are in docs/antidepressant-model.md (sixth session).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace

import numpy as np

from ketasim.pd.antidepressant import (
    GRID_STEP_H,
    AntidepressantParams,
    default_antidepressant_params,
    exposure_memory,
    placebo_parts,
    potency_factor,
)
from ketasim.pd.antidepressant_parts import drug_time_factor
from ketasim.pd.antidepressant_relapse import rated_relapse_probability, relapse_is_rated
from ketasim.pd.calibration.antidepressant_fit import (
    FITTED,
    FitResult,
    calibration_points,
    fit_antidepressant,
    leave_one_study_out,
    summarise,
)
from ketasim.pd.calibration.antidepressant_points import (
    exposures,
    oral_ad_stop_h,
    parent_outputs,
    relapse_visits,
    responders_from_h,
)
from ketasim.pd.calibration.antidepressant_sustain import simulate_sustain

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from antidepressant_alternatives import (
    course_gain,
    daly_spread,
    ketamine_spread,
    loso_rms,
    param_line,
)

WEEK_H = 168.0


def candidate(spec: str, base: AntidepressantParams) -> AntidepressantParams:
    """``stored``, ``ou SD TAU_WEEKS`` or ``tol HALF_TIME_WEEKS`` on top of ``base``."""
    words = spec.split()
    if words[0] == "stored":
        return base
    if words[0] == "rated":  # relapse on rated MADRS at visits, no fluctuation
        return replace(base, relapse_on_ratings=1.0, fluctuation_sd_log=0.0)
    if words[0] == "ou":
        return replace(
            base,
            fluctuation_sd_log=float(words[1]),
            fluctuation_tau_h=float(words[2]) * WEEK_H,
        )
    if words[0] == "tol":
        return replace(base, drug_tolerance_per_h=math.log(2.0) / (float(words[1]) * WEEK_H))
    raise SystemExit(f"unknown candidate {spec!r}")


def relapse_lines(p: AntidepressantParams) -> list[str]:
    """Every relapse value (fit and check) with the model's prediction and MC error."""
    out = []
    for use in ("fit", "check"):
        for pt in calibration_points(use):
            if pt.quantity != "relapse_rate":
                continue
            pred = summarise(p, (pt,)).predicted[0]
            mc = ""
            if relapse_is_rated(p):
                conc, sessions = exposures()[pt.regimen]
                t = relapse_visits(pt.regimen, responders_from_h()[pt.regimen], pt.time_h)
                stop = oral_ad_stop_h()[pt.regimen]
                parts = placebo_parts(t, sessions, p, pt.background, oral_ad_stop_h=stop)
                hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
                parent = parent_outputs()[pt.regimen]
                k = potency_factor(parent, p) if parent else 0.0
                ce_grid = exposure_memory(
                    conc * k, GRID_STEP_H, p.ke0_per_h, power=p.exposure_power
                )
                ce = np.interp(t, GRID_STEP_H * np.arange(conc.size), ce_grid)
                tol = drug_time_factor(t, sessions, p)
                r = rated_relapse_probability(
                    p.typical_baseline_madrs, hp, ce, t, p, drug_scale=tol
                )
                mc = f" (MC SE {100 * r.mc_se:.1f})"
            out.append(
                f"    {pt.study}, {pt.arm} [{use}]: {100 * pred:.1f}%{mc} vs {100 * pt.value:.0f}%"
            )
    return out


def report(name: str, fit: FitResult, loso: bool, bounds: dict[str, tuple[float, float]]) -> None:
    p = fit.params
    print(f"{name}: chi2 {fit.chi2:.1f} on {len(fit.points)} values")
    shown = ("ke0_per_h", "ec50_ng_per_ml", "emax", "session_effect", "expectancy_effect")
    print(
        param_line(
            p,
            (
                *shown,
                "new_oral_ad_effect",
                "omega_placebo",
                "fluctuation_sd_log",
                "fluctuation_tau_h",
                "drug_tolerance_per_h",
                "expectancy_fade_per_h",
            ),
        )
    )
    for line in relapse_lines(p):
        print(line)
    if loso:
        errs = leave_one_study_out(fit, bounds=bounds)
        lm, lr = loso_rms(errs)
        print(
            f"  LOSO RMS {lm:.2f} MADRS / {lr:.1f} rate points; "
            + "; ".join(
                f"{e.study} {e.rmse_left_out:.1f}" for e in errs if e.quantity != "MADRS points"
            )
        )
    ket = ketamine_spread(p)
    print(
        f"  must-shows: Daly spread {daly_spread(p):.2f}; ketamine 0.1-0.5 {ket:.2f}; "
        f"course gain {course_gain(p):.2f}"
    )
    test = summarise(p, calibration_points("test"))
    diff = [
        v
        for pt, v in zip(test.points, test.predicted, strict=True)
        if pt.study == "TRANSFORM-2" and pt.quantity == "madrs_difference"
    ]
    s = simulate_sustain(
        p,
        n=2000,
        fluctuation_sd_log=p.fluctuation_sd_log,
        fluctuation_tau_weeks=max(p.fluctuation_tau_h, 1.0) / WEEK_H,
    )
    print(
        f"  information only: TRANSFORM-2 difference {diff[0]:.1f} (pub -4.0); SUSTAIN-1 "
        f"remitters {100 * s.remitters.relapse_esketamine[-1]:.0f}/"
        f"{100 * s.remitters.relapse_placebo[-1]:.0f}% (pub 26.7/45.3), responders "
        f"{100 * s.responders.relapse_esketamine[-1]:.0f}/"
        f"{100 * s.responders.relapse_placebo[-1]:.0f}% (pub 25.8/57.6)"
    )


def main(argv: list[str]) -> None:
    loso = "--loso" in argv
    refit = "--no-refit" not in argv
    specs = [a for a in argv if not a.startswith("--")] or ["stored"]
    base = default_antidepressant_params()
    for spec in specs:
        t0 = time.time()
        start = candidate(spec, base)
        bounds = {k: v for k, v in FITTED.items() if k != "expectancy_fade_per_h"}
        if "fade" in spec:  # relapse on ratings is smooth in the parameters: fit the fading
            bounds["expectancy_fade_per_h"] = (1e-6, 1e-2)
        fit = (
            fit_antidepressant(start=start, starts=1, max_nfev=60, bounds=bounds)
            if refit
            else summarise(start)
        )
        report(spec, fit, loso, bounds)
        print(f"  ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
