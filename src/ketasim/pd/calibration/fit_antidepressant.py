"""Fit the empirical antidepressant model and print the calibration report.

Run ``python -m ketasim.pd.calibration.fit_antidepressant`` (prints the report);
add ``--write`` to store the fitted parameters and the report in
``antidepressant_params.toml`` beside this file (what ``ketasim calibration antidepressant``
shows and what :func:`ketasim.pd.antidepressant.default_antidepressant_params` loads).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from ketasim.pd.calibration.antidepressant_fit import (
    KOUT_SOURCE,
    TYPICAL_BASELINE_SOURCE,
    FitResult,
    fit_antidepressant,
    fit_report,
)

PARAMS_FILE = Path(__file__).with_name("antidepressant_params.toml")


def params_toml(result: FitResult) -> str:
    """The parameter file text: parameters, how they were obtained, and the fit summary."""
    lines = [
        "# EMPIRICAL antidepressant model parameters (ketasim's own model, not a published one).",
        "# Written by: python -m ketasim.pd.calibration.fit_antidepressant --write",
        "# Data: antidepressant_data.csv and antidepressant_design.toml beside this file.",
        "schema_version = 1",
        'model = "ketasim empirical antidepressant response (exposure-driven plasticity state)"',
        "",
        "[parameters]",
    ]
    for k, v in asdict(result.params).items():
        lines.append(f"{k} = {v!r}")
    lines += [
        "",
        "[sources]",
        'fitted = "weighted least squares, two stages (control arms; then drug arms) on '
        'antidepressant_data.csv"',
        f'kout_per_h = "{KOUT_SOURCE}"',
        f'typical_baseline_madrs = "{TYPICAL_BASELINE_SOURCE}"',
        "",
        "[fit]",
        f"rmse_madrs_points = {result.rmse_madrs_points:.4f}",
        f"rmse_response_pct_points = {result.rmse_response_pct_points:.4f}",
        f"weighted_chi2 = {result.chi2:.4f}",
        f"n_points = {len(result.points)}",
        f"converged = {'true' if result.converged else 'false'}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true",
                        help=f"store the fitted parameters in {PARAMS_FILE.name}")
    args = parser.parse_args(argv)
    result = fit_antidepressant()
    print(fit_report(result))
    if args.write:
        PARAMS_FILE.write_text(params_toml(result), encoding="utf-8")
        print(f"\nwrote {PARAMS_FILE}")


if __name__ == "__main__":
    main()
