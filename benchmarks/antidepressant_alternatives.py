"""Structural alternatives of the EMPIRICAL antidepressant model, judged on the calibration data.

Each alternative is refitted on the calibration data (``use = fit``) and judged by its weighted
chi2, the number of fitted parameters and its leave-one-study-out error; the Daly 2018 spread
(esketamine 28 vs 84 mg at day 7, vs placebo) and the phase-3 test values are printed beside
them for information and never used to choose.

Run ``.venv/bin/python benchmarks/antidepressant_alternatives.py`` (about 8 minutes on a loaded
2-core machine). A measurement, not a test: its figures are recorded in
``docs/antidepressant-model.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pd.antidepressant import AntidepressantParams, simulate_antidepressant_course
from ketasim.pd.calibration.antidepressant_fit import (
    FITTED,
    OMEGA_DRUG_FREE,
    START,
    FitResult,
    calibration_points,
    fit_antidepressant,
    leave_one_study_out,
    summarise,
)
from ketasim.pd.calibration.antidepressant_points import RATES
from ketasim.regimens import parse_regimen

__all__ = ["ALTERNATIVES", "Alternative", "AlternativeResult", "daly_spread", "run_alternative"]


@dataclass(frozen=True)
class Alternative:
    """A structural variant: values changed from ``START``, extra fitted parameters (with
    their search bounds) and parameters of ``FITTED`` held fixed instead."""

    name: str
    fixed: Mapping[str, float]
    extra_fitted: Mapping[str, tuple[float, float]]
    not_fitted: tuple[str, ...] = ()


ALTERNATIVES: tuple[Alternative, ...] = (
    Alternative("stored: Hill 6, omega_drug fixed at 1.5", {"omega_drug": 1.5}, {}),
    Alternative("omega_drug estimated (not adopted: flat dose-response)", {}, OMEGA_DRUG_FREE),
    Alternative("omega_drug fixed at 1.0", {"omega_drug": 1.0}, {}),
    Alternative("omega_drug and Hill estimated", {}, {**OMEGA_DRUG_FREE, "hill": (0.3, 20.0)}),
    Alternative(
        "eta_D on Emax, Hill 6, omega_drug estimated",
        {"emax_share_of_drug_eta": 1.0, "omega_drug": 0.5},
        {"omega_drug": (0.05, 3.0)},
    ),
    Alternative(
        "eta_D on Emax, Hill and omega_drug estimated",
        {"emax_share_of_drug_eta": 1.0, "omega_drug": 0.5},
        {"omega_drug": (0.05, 3.0), "hill": (0.3, 20.0)},
    ),
    Alternative(
        "overlap_q estimated (less than additive)",
        {"omega_drug": 1.5},
        {"overlap_q": (1.0, 20.0)},
    ),
)


@dataclass(frozen=True)
class AlternativeResult:
    """Fit, leave-one-study-out summary and the information-only checks of one alternative."""

    alternative: Alternative
    fit: FitResult
    n_fitted: int
    loso_madrs: float  # RMS over the MADRS-point studies of the left-out RMSE
    loso_rate: float  # the same for rate studies (percentage points)
    daly_spread: float  # 28 minus 84 mg drug-attributable change at day 7 (positive)
    ketamine_spread: float  # 0.1 minus 0.5 mg/kg at 24 h
    test: FitResult


def _drug_change(model: str, dose: str, at_h: float, p: AntidepressantParams, **kw: str) -> float:
    reg = parse_regimen(dose, **kw)
    pat = Patient(weight_kg=70.0, age_years=45.0)
    m = resolve_model(model)
    c = simulate_antidepressant_course(m, pat, reg, [0.0, at_h], params=p)
    return float(c.drug_change[1])


def daly_spread(p: AntidepressantParams) -> float:
    """Drug-attributable change at day 7 (sessions days 1 and 4): 28 mg minus 84 mg."""
    kw = {"route": "intranasal", "repeat": "every 72h x 2"}
    return _drug_change("perez-ruixo", "28 mg", 168.0, p, **kw) - _drug_change(
        "perez-ruixo", "84 mg", 168.0, p, **kw
    )


def run_alternative(alt: Alternative, *, loso: bool = True) -> AlternativeResult:
    """Refit ``alt`` on the calibration data; leave-one-study-out with the same fitted set."""
    bounds = {k: v for k, v in {**FITTED, **alt.extra_fitted}.items() if k not in alt.not_fitted}
    start = replace(START, **alt.fixed)
    fit = fit_antidepressant(start=start, bounds=bounds)
    lm = lr = math.nan
    if loso:
        errs = leave_one_study_out(fit, bounds=bounds)
        m = [e.rmse_left_out for e in errs if e.quantity == "MADRS points"]
        r = [e.rmse_left_out for e in errs if e.quantity != "MADRS points"]
        lm = float(np.sqrt(np.mean(np.square(m))))
        lr = float(np.sqrt(np.mean(np.square(r))))
    p = fit.params
    ket = _drug_change("domino", "0.1 mg/kg", 24.0, p, over="40min") - _drug_change(
        "domino", "0.5 mg/kg", 24.0, p, over="40min"
    )
    test = summarise(p, calibration_points("test"))
    return AlternativeResult(alt, fit, len(bounds), lm, lr, daly_spread(p), ket, test)


def _test_value(test: FitResult, study: str, quantity: str, time_h: float, arm: str) -> str:
    for pt, v in zip(test.points, test.predicted, strict=True):
        if pt.study == study and pt.quantity == quantity and pt.time_h == time_h and arm in pt.arm:
            k = 100.0 if quantity in RATES else 1.0
            return f"{k * v:.1f} (pub {k * pt.value:.1f})"
    return "-"


def main() -> None:
    """Print one line per alternative (calibration figures first, test figures last)."""
    for alt in ALTERNATIVES:
        r = run_alternative(alt)
        est = ", ".join(f"{n} {getattr(r.fit.params, n):.3g}" for n in alt.extra_fitted)
        print(f"{alt.name}: {est}")
        print(
            f"  chi2 {r.fit.chi2:.1f} on {len(r.fit.points)} values, {r.n_fitted} fitted, "
            f"AIC-like chi2+2k {r.fit.chi2 + 2 * r.n_fitted:.1f}; LOSO RMS {r.loso_madrs:.2f} "
            f"MADRS / {r.loso_rate:.1f} rate points; Daly 28-84 mg spread {r.daly_spread:.2f} "
            f"(pub 5.5); ketamine 0.1-0.5 mg/kg at 24 h {r.ketamine_spread:.2f}"
        )
        print(
            "  test (information only): TRANSFORM-2 difference "
            + _test_value(r.test, "TRANSFORM-2", "madrs_difference", 648.0, "")
            + "; day-2 response "
            + _test_value(r.test, "TRANSFORM-1+2 pooled", "response_rate", 24.0, "esketamine")
        )


if __name__ == "__main__":
    main()
