"""Whom the EMPIRICAL antidepressant model speaks for: adults.

Its calibration trials enrolled adults with (treatment-resistant) depression
(:mod:`ketasim.pd.calibration`, e.g. Daly 2018, Singh 2016, Fava 2018, Murrough 2013); no
paediatric response, remission or relapse data were used, and esketamine is not approved in
paediatric patients (SPRAVATO US PI, section 5.5, as the depression protocols' age rule in
``ketasim.regimens`` cites it). A prediction for a patient under 18 is an extrapolation: refused
at the command line unless ``--allow-extrapolation``, counted and warned about in a trial.
No upper age limit is set: none was taken from the calibration trials' inclusion criteria.
"""

from __future__ import annotations

from ketasim.errors import InputError
from ketasim.findings import Finding

__all__ = ["ANTIDEPRESSANT_MIN_AGE_YEARS", "check_antidepressant_age"]

ANTIDEPRESSANT_MIN_AGE_YEARS = 18.0
SOURCE = (
    "calibration trials in adults (ketasim.pd.calibration); SPRAVATO US PI section 5.5: "
    "not approved in pediatric patients"
)


def check_antidepressant_age(
    age_years: float | None, *, allow: bool, field: str = "age_years"
) -> list[Finding]:
    """Nothing for an adult (or an unknown age); for a patient under 18, an
    :class:`~ketasim.errors.InputError` naming ``field``, or with ``allow`` a warning."""
    if age_years is None or age_years >= ANTIDEPRESSANT_MIN_AGE_YEARS:
        return []
    text = (
        f"{age_years:g} years: the empirical antidepressant model is calibrated on adults "
        f"(>= {ANTIDEPRESSANT_MIN_AGE_YEARS:g} y); a prediction for a younger patient is an "
        "extrapolation"
    )
    if not allow:
        raise InputError(field, text + " (--allow-extrapolation to compute it anyway)")
    return [Finding("antidepressant.age", "warn", text, SOURCE)]
