"""Seventh session: the early course of the esketamine drug part.

- the exposure metric (``exposure_power``): the memory of ``C^p`` against its closed form for an
  exponentially falling concentration;
- the drug part's build-up over days (``drug_onset_per_h``, a candidate kept off): its factor by
  hand;
- the new data: Canuso 2018 (phase 2, calibration) and ASPIRE I/II (phase 3, the test), and the
  calibration path's prediction of a Canuso difference against the single-patient course
  (simulate + antidepressant_course, a separate code path).
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    AntidepressantParams,
    default_antidepressant_params,
    simulate_antidepressant_course,
)
from ketasim.pd.antidepressant_parts import (
    drug_onset,
    drug_time_factor,
    drug_tolerance,
    exposure_memory,
)
from ketasim.pd.calibration.antidepressant_fit import calibration_points, predict_points
from ketasim.regimens import parse_regimen

P = default_antidepressant_params()


@pytest.mark.parametrize("power", [1.0, 1.75, 0.6])
def test_memory_of_a_powered_concentration_matches_its_closed_form(power: float) -> None:
    # C(t) = C0 exp(-a t): the input C^p = C0^p exp(-p a t), and dCe/dt = ke0 (C^p - Ce),
    # Ce(0) = 0, gives Ce = ke0 C0^p (exp(-p a t) - exp(-ke0 t)) / (ke0 - p a).
    c0, a, ke0, h = 120.0, 0.4, 0.05, 1.0 / 30.0
    t = np.arange(0.0, 72.0 + h / 2, h)
    ce = exposure_memory(c0 * np.exp(-a * t), h, ke0, power=power)
    r = power * a
    want = ke0 * c0**power * (np.exp(-r * t) - np.exp(-ke0 * t)) / (ke0 - r)
    np.testing.assert_allclose(ce[30:], want[30:], rtol=2e-4)
    assert ce[0] == 0.0


def test_exposure_power_is_validated_and_named() -> None:
    with pytest.raises(InputError, match="exposure_power"):
        replace(P, exposure_power=0.0)
    with pytest.raises(InputError, match="exposure_power"):
        exposure_memory(np.ones(4), 0.1, 0.01, power=-1.0)


def test_parameter_files_of_schema_6_still_load() -> None:
    """A schema-6 file has neither seventh-session field: they take the old behaviour."""
    stored = {f.name: getattr(P, f.name) for f in fields(AntidepressantParams)}
    old = {k: v for k, v in stored.items() if k not in ("drug_onset_per_h", "exposure_power")}
    p = AntidepressantParams(**old)
    assert p.drug_onset_per_h == 0.0 and p.exposure_power == 1.0


def test_drug_onset_builds_from_the_first_session_only_when_set() -> None:
    t = np.array([0.0, 10.0, 12.0, 24.0, 60.0])
    sessions = [10.0, 34.0]
    np.testing.assert_array_equal(drug_onset(t, sessions, P), 1.0)
    k = math.log(2.0) / 6.0  # build-up half-time 6 h
    p = replace(P, drug_onset_per_h=k, drug_tolerance_per_h=math.log(2.0) / 50.0)
    want = [0.0, 0.0, 1.0 - 2.0 ** (-2.0 / 6.0), 1.0 - 2.0 ** (-14.0 / 6.0), 1.0 - 2.0**-8.33333]
    np.testing.assert_allclose(drug_onset(t, sessions, p), want, rtol=1e-4)
    np.testing.assert_allclose(
        drug_time_factor(t, sessions, p),
        drug_onset(t, sessions, p) * drug_tolerance(t, sessions, p),
    )


def test_drug_onset_lowers_the_early_drug_part_of_a_course() -> None:
    reg = parse_regimen("84 mg", route="intranasal")
    model = resolve_model("perez-ruixo")
    pat = Patient(weight_kg=70.0, age_years=45.0)
    off = simulate_antidepressant_course(model, pat, reg, [4.0, 200.0], params=P)
    on = simulate_antidepressant_course(
        model, pat, reg, [4.0, 200.0], params=replace(P, drug_onset_per_h=math.log(2.0) / 24.0)
    )
    assert abs(on.drug_change[0]) < 0.5 * abs(off.drug_change[0])  # 4 h: 11% of the build-up
    assert on.drug_change[1] == pytest.approx(off.drug_change[1] * (1 - 2 ** (-200 / 24)), rel=0.05)


def test_canuso_is_calibration_and_aspire_the_test() -> None:
    fit = [pt for pt in calibration_points() if pt.study == "Canuso 2018"]
    assert [(pt.time_h, pt.value, pt.se) for pt in fit] == [
        (4.0, -5.3, 2.10),
        (24.0, -7.2, 2.85),
        (580.0, -4.5, 3.14),
    ]
    assert {pt.quantity for pt in fit} == {"madrs_difference"}
    assert {pt.background for pt in fit} == {"new_oral_ad"}
    test = [pt for pt in calibration_points("test") if pt.study.startswith("ASPIRE")]
    assert sorted((pt.study, pt.time_h, pt.value) for pt in test) == [
        ("ASPIRE I", 24.0, -3.8),
        ("ASPIRE II", 4.0, -4.2),
        ("ASPIRE II", 24.0, -3.9),
    ]
    assert not any(pt.study.startswith("ASPIRE") for pt in calibration_points())


def test_a_canuso_difference_equals_the_single_patient_course() -> None:
    """The calibration path (design file, cached exposures, predict_points) against the CLI's
    path (regimen parser, simulate, antidepressant_course) for the 24-h difference: the
    drug-attributable change of one 84-mg session with a newly started oral antidepressant."""
    (pt,) = [p for p in calibration_points() if p.study == "Canuso 2018" and p.time_h == 24.0]
    got = predict_points(P, (pt,))[0]
    course = simulate_antidepressant_course(
        resolve_model("perez-ruixo-2021"),
        Patient(weight_kg=70.0, age_years=45.0),
        parse_regimen("84 mg", route="intranasal", repeat="every 72h x 2"),
        [0.0, 24.0],
        params=P,
        background="new_oral_ad",
        baseline_madrs=pt.baseline_madrs,
    )
    assert got == pytest.approx(course.drug_change[1], abs=1e-3)
    assert course.drug_change[0] == 0.0
