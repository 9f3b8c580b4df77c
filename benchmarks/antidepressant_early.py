"""How the esketamine drug part rises (seventh session): candidate structures, judged on the
calibration data only.

Candidates, each refitted on the calibration data (``use = fit``; Canuso 2018 is calibration
since the seventh session):

- ``stored``: the parameter file's structure (drug part = Emax of a slow exposure memory);
- ``onset``: plus a drug part that builds over days from the first session,
  ``1 - exp(-k (t - first session))``, ``k`` (``drug_onset_per_h``) fitted;
- ``onset H``: the same with ``k`` fixed at a build-up half-time of ``H`` hours (a profile);
- ``power``: the exposure memory integrates ``C^p`` (peak weighed more than area for p > 1),
  ``p`` (``exposure_power``) fitted;
- ``power P``: the same with ``p`` fixed at ``P`` (a profile);
- ``omega W``: the between-patient potency SD ``omega_drug`` fixed at ``W`` (stored 1.5, no
  source), to see whether the exposure power changes the earlier sessions' trade-off.

Printed per candidate: weighted chi2 on the fit values, leave-one-study-out (``--loso``), the
must-shows of issue 11 (Daly 2018 spread 28 vs 84 mg at day 7, ketamine 0.1 vs 0.5 mg/kg at
24 h, a course vs one session), the early calibration values (Daly 2018's 24-h response
rates, Canuso 2018's differences) and, for information only, never to choose: the phase-3
test (TRANSFORM-2 day-28 difference, TRANSFORM day-2 response, ASPIRE I/II differences).

Run ``.venv/bin/python benchmarks/antidepressant_early.py stored onset power --loso`` (about
5 s per candidate on an idle machine, about 50 s with ``--loso``; ``--full`` fits with the
stored fit's settings, several starts and 150 evaluations, instead of one start and 60). A
measurement, not a test: its figures are in docs/antidepressant-model.md ("Seventh session").
The base is the parameter file: ``stored`` is the stored structure, ``power 1`` the one before
the seventh session (exposure power 1).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace

from ketasim.pd.antidepressant import AntidepressantParams, default_antidepressant_params
from ketasim.pd.calibration.antidepressant_fit import (
    FITTED,
    FitResult,
    calibration_points,
    fit_antidepressant,
    leave_one_study_out,
    summarise,
)
from ketasim.pd.calibration.antidepressant_points import RATES

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from antidepressant_alternatives import (
    course_gain,
    daly_spread,
    ketamine_spread,
    loso_rms,
    param_line,
)

SHOWN = (  # the fitted parameters, printed per candidate
    "ke0_per_h",
    "ec50_ng_per_ml",
    "emax",
    "session_effect",
    "session_decay_per_h",
    "expectancy_effect",
    "new_oral_ad_effect",
    "omega_placebo",
)
ONSET_BOUNDS = (1e-3, 20.0)  # per h: build-up half-times from 2 min to 29 days
POWER_BOUNDS = (0.25, 4.0)


def candidate(
    spec: str, base: AntidepressantParams
) -> tuple[AntidepressantParams, dict[str, tuple[float, float]]]:
    """Start values and fitted set of ``spec`` on top of ``base``."""
    words = spec.split()
    bounds = dict(FITTED)
    if words[0] == "stored":
        return base, bounds
    if words[0] == "onset":
        if len(words) > 1:
            return replace(base, drug_onset_per_h=math.log(2.0) / float(words[1])), bounds
        return replace(base, drug_onset_per_h=0.3), {**bounds, "drug_onset_per_h": ONSET_BOUNDS}
    if words[0] == "power":  # EC50 is then in (ng/mL)^p: its search range widened to match
        bounds["ec50_ng_per_ml"] = (0.01, 1e6)
        if len(words) > 1:
            return replace(base, exposure_power=float(words[1])), bounds
        return replace(base, exposure_power=1.2), {**bounds, "exposure_power": POWER_BOUNDS}
    if words[0] == "omega":  # the between-patient potency SD, fixed (a profile)
        return replace(base, omega_drug=float(words[1])), bounds
    raise SystemExit(f"unknown candidate {spec!r}")


def _values(fit: FitResult, study: str, quantity: str) -> str:
    k = 100.0 if quantity in RATES else 1.0
    return ", ".join(
        f"{pt.arm.split(' +')[0][:16]} {pt.time_h:g} h {k * v:.1f} (pub {k * pt.value:.1f})"
        for pt, v in zip(fit.points, fit.predicted, strict=True)
        if pt.study == study and pt.quantity == quantity and pt.time_h <= 600
    )


def report(name: str, fit: FitResult, loso: bool, bounds: dict[str, tuple[float, float]]) -> None:
    p = fit.params
    print(f"{name}: chi2 {fit.chi2:.1f} on {len(fit.points)} values, {len(bounds)} fitted")
    print(param_line(p, (*SHOWN, "omega_drug", "drug_onset_per_h", "exposure_power")))
    if loso:
        errs = leave_one_study_out(fit, bounds=bounds)
        lm, lr = loso_rms(errs)
        inside = sum(e.inside_90 or 0 for e in errs)
        n_single = sum(e.n_points for e in errs if e.inside_90 is not None)
        print(
            f"  LOSO RMS {lm:.2f} MADRS / {lr:.1f} rate points; {inside} of {n_single} "
            "left-out values of single trials inside their 90% interval; "
            + "; ".join(f"{e.study} {e.rmse_in_sample:.2f}/{e.rmse_left_out:.2f}" for e in errs)
        )
    ket = ketamine_spread(p)
    print(
        f"  must-shows: Daly spread {daly_spread(p):.2f} (pub 5.5); ketamine 0.1-0.5 {ket:.2f} "
        f"(>= 2); course gain {course_gain(p):.2f} (> 0)"
    )
    print("  Daly 2018 response: " + _values(fit, "Daly 2018", "response_rate"))
    print("  Daly 2018 change: " + _values(fit, "Daly 2018", "madrs_change"))
    print("  Canuso 2018 difference: " + _values(fit, "Canuso 2018", "madrs_difference"))
    test = summarise(p, calibration_points("test"))
    print(
        "  information only (test): "
        + _values(test, "TRANSFORM-2", "madrs_difference").replace("esketamine 56/84 ", "")
        + " [TRANSFORM-2 difference, day 28 = 648 h not shown: "
        + ", ".join(
            f"{v:.1f} (pub {pt.value:.1f})"
            for pt, v in zip(test.points, test.predicted, strict=True)
            if pt.study == "TRANSFORM-2" and pt.quantity == "madrs_difference"
        )
        + "]; day-2 response "
        + ", ".join(
            f"{100 * v:.0f}% (pub {100 * pt.value:.0f}%)"
            for pt, v in zip(test.points, test.predicted, strict=True)
            if pt.quantity == "response_rate" and pt.time_h == 24.0 and "esketamine" in pt.arm
        )
        + "; ASPIRE I "
        + _values(test, "ASPIRE I", "madrs_difference")
        + "; ASPIRE II "
        + _values(test, "ASPIRE II", "madrs_difference")
    )


def main(argv: list[str]) -> None:
    loso = "--loso" in argv
    full = "--full" in argv  # multi-start, 150 evaluations (as the stored fit) instead of 1 x 60
    specs = [a for a in argv if not a.startswith("--")] or ["stored"]
    base = default_antidepressant_params()
    for spec in specs:
        t0 = time.time()
        start, bounds = candidate(spec, base)
        fit = (
            fit_antidepressant(start=start, bounds=bounds)  # the stored fit's settings
            if full
            else fit_antidepressant(start=start, starts=1, max_nfev=60, bounds=bounds)
        )
        report(spec, fit, loso, bounds)
        print(f"  ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
