"""Fit the empirical antidepressant model and print the calibration report.

Run ``python -m ketasim.pd.calibration.fit_antidepressant`` (prints the report, with
leave-one-study-out errors and profile intervals; several minutes); add ``--write`` to store the
parameters and those results in ``antidepressant_params.toml`` beside this file (what
``ketasim calibration antidepressant`` shows and what
:func:`ketasim.pd.antidepressant.default_antidepressant_params` loads).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ketasim.pd.calibration.antidepressant_fit import (
    calibration_points,
    fit_antidepressant,
    leave_one_study_out,
    profile_intervals,
    summarise,
)
from ketasim.pd.calibration.antidepressant_report import fit_report, params_toml

PARAMS_FILE = Path(__file__).with_name("antidepressant_params.toml")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--write", action="store_true", help=f"store the fitted parameters in {PARAMS_FILE.name}"
    )
    args = parser.parse_args(argv)
    result = fit_antidepressant()
    loso = leave_one_study_out(result)
    profile = profile_intervals(result)
    test = summarise(result.params, calibration_points("test"))
    print(fit_report(result, loso=loso, profile=profile, test=test))
    if args.write:
        PARAMS_FILE.write_text(params_toml(result, loso, profile), encoding="utf-8")
        print(f"\nwrote {PARAMS_FILE}")


if __name__ == "__main__":
    main()
