"""The engine against closed-form solutions (independent of any ODE solver)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.catalogue.loader import load_model_text
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate

ONE_COMPARTMENT = """
schema_version = 1
id = "test-one-compartment"
short_names = ["onecomp"]
title = "One-compartment test model"
drug = "racemic ketamine"
population = "synthetic, for tests"
[citation]
text = "Synthetic model for closed-form tests (no publication)"
verified = "not applicable"
[parameters.V]
value = 50.0
unit = "L"
source = "test value"
[parameters.CL]
value = 60.0
unit = "L/h"
source = "test value"
[parameters.ka]
value = 0.05
unit = "1/min"
source = "test value"
[parameters.F]
value = 0.4
unit = ""
source = "test value"
[parameters.lag]
value = 5.0
unit = "min"
source = "test value"
[[analytes]]
name = "ketamine"
molecular_weight_g_per_mol = 237.73
[[compartments]]
name = "central"
analyte = "ketamine"
volume = "V"
observed = "plasma"
[[compartments]]
name = "depot"
analyte = "ketamine"
[[flows]]
from = "central"
clearance = "CL"
[[flows]]
from = "depot"
to = "central"
rate = "ka"
[[routes]]
name = "iv"
source = "test"
[[routes.inputs]]
compartment = "central"
[[routes]]
name = "oral"
source = "test"
[[routes.inputs]]
compartment = "depot"
fraction = "F"
lag = "lag"
"""

MODEL = load_model_text(ONE_COMPARTMENT, origin="test")
V, K = 50.0, 1.0 / 50.0  # L; CL 1 L/min over V 50 L -> k = 0.02 /min
PATIENT = Patient(weight_kg=70.0, age_years=40.0)
TIMES = np.linspace(0.0, 600.0, 1201)


def test_one_compartment_bolus_exact() -> None:
    res = simulate(MODEL, PATIENT, Regimen.of(Dose(100.0, "mg")), times_min=TIMES)
    expected = 100.0 / V * np.exp(-K * TIMES) * 1000.0  # ng/mL
    np.testing.assert_allclose(res.concentrations_ng_per_ml["ketamine_plasma"], expected, rtol=1e-9)


def test_one_compartment_infusion_exact() -> None:
    rate, dur = 2.0, 60.0  # mg/min, min
    res = simulate(
        MODEL, PATIENT, Regimen.of(Dose(rate * dur, "mg", duration_min=dur)), times_min=TIMES
    )
    t = TIMES
    during = rate / (K * V) * (1 - np.exp(-K * t))
    after = rate / (K * V) * (1 - np.exp(-K * dur)) * np.exp(-K * (t - dur))
    expected = np.where(t <= dur, during, after) * 1000.0
    np.testing.assert_allclose(res.concentrations_ng_per_ml["ketamine_plasma"], expected, rtol=1e-9)


def test_one_compartment_first_order_absorption_with_lag_and_f() -> None:
    dose, ka, f, lag = 100.0, 0.05, 0.4, 5.0
    res = simulate(MODEL, PATIENT, Regimen.of(Dose(dose, "mg", route="oral")), times_min=TIMES)
    t = np.clip(TIMES - lag, 0.0, None)
    expected = f * dose * ka / (V * (ka - K)) * (np.exp(-K * t) - np.exp(-ka * t)) * 1000.0
    np.testing.assert_allclose(
        res.concentrations_ng_per_ml["ketamine_plasma"], expected, rtol=1e-9, atol=1e-12
    )


def test_superposition_of_repeated_doses() -> None:
    one = simulate(MODEL, PATIENT, Regimen.of(Dose(10.0, "mg")), times_min=TIMES)
    three = simulate(
        MODEL,
        PATIENT,
        Regimen.of(Dose(10.0, "mg")).repeated(every_min=120.0, count=3),
        times_min=TIMES,
    )
    c1 = one.concentrations_ng_per_ml["ketamine_plasma"]
    # 120-min shifts land exactly on the 0.5-min grid, so interpolation is a pure shift
    expected = sum(np.interp(TIMES - k * 120.0, TIMES, c1, left=0.0) for k in range(3))
    np.testing.assert_allclose(
        three.concentrations_ng_per_ml["ketamine_plasma"], expected, rtol=1e-9, atol=1e-12
    )


def test_nonmem_convention_bioavailability_shortens_an_infusion() -> None:
    # oral 'infusion' into the depot: pump rate = 100 mg / 50 min = 2 mg/min; F = 0.4 means
    # 40 mg delivered at 2 mg/min, i.e. over 20 min (NONMEM), not 0.8 mg/min over 50 min.
    res = simulate(
        MODEL,
        PATIENT,
        Regimen.of(Dose(100.0, "mg", route="oral", duration_min=50.0)),
        times_min=np.array([0.0, 5.0, 15.0, 25.0, 30.0]),
        return_states=True,
    )
    assert res.states is not None
    depot = res.states[:, res.state_names.index("depot")]
    central = res.states[:, res.state_names.index("central")]
    # mass delivered by 25 min (input over 5-25 min) = 40 mg, split between depot, central, out
    ka = 0.05
    t_in = 20.0
    depot_at_25 = 2.0 / ka * (1 - np.exp(-ka * t_in))
    np.testing.assert_allclose(depot[3], depot_at_25, rtol=1e-9)
    np.testing.assert_allclose(depot[4], depot_at_25 * np.exp(-ka * 5.0), rtol=1e-9)
    assert central[0] == 0.0


def test_bolus_at_output_time_is_included() -> None:
    res = simulate(
        MODEL,
        PATIENT,
        Regimen.of(Dose(100.0, "mg", time_min=10.0)),
        times_min=np.array([0.0, 10.0]),
    )
    np.testing.assert_allclose(
        res.concentrations_ng_per_ml["ketamine_plasma"], [0.0, 100.0 / V * 1000.0], rtol=1e-12
    )


def _domino_infusion_closed_form(
    weight_kg: float, dose_mg_per_kg: float, dur_min: float, t_min: float
) -> float:
    """Plasma concentration (ng/mL) of a 3-compartment model during a constant infusion.

    Written from the classical sum-of-exponentials solution: the unit-bolus disposition function
    C(t) = sum_i A_i exp(-lambda_i t) / V1, with lambda_i the roots of the characteristic
    polynomial and A_i = (k21 - l)(k31 - l) / prod_{j != i}(lambda_j - lambda_i), integrated
    over the infusion.
    """
    k10, k12, k13, k21, k31 = 0.4381, 0.5921, 0.5900, 0.2470, 0.0146  # opentiva Domino
    v1 = 0.063 * weight_kg
    a2 = k10 + k12 + k13 + k21 + k31
    a1 = k10 * k21 + k10 * k31 + k12 * k31 + k13 * k21 + k21 * k31
    a0 = k10 * k21 * k31
    lambdas = np.sort(np.roots([1.0, a2, a1, a0]).real * -1.0)
    rate = dose_mg_per_kg * weight_kg / dur_min  # mg/min
    total = 0.0
    for i, li in enumerate(lambdas):
        others = [lj for j, lj in enumerate(lambdas) if j != i]
        coef = (k21 - li) * (k31 - li) / ((others[0] - li) * (others[1] - li))
        tt = min(t_min, dur_min)
        total += coef / li * (1 - np.exp(-li * tt)) * np.exp(-li * (t_min - tt))
    return float(rate * total / v1 * 1000.0)


def test_domino_40_min_against_independent_closed_form() -> None:
    model = resolve_model("domino")
    res = simulate(
        model,
        Patient(weight_kg=70.0, age_years=40.0),
        Regimen.of(Dose(0.5, "mg/kg", duration_min=40.0)),
        times_min=np.array([40.0, 120.0]),
    )
    got = res.concentrations_ng_per_ml["ketamine_plasma"]
    expected = [_domino_infusion_closed_form(70.0, 0.5, 40.0, t) for t in (40.0, 120.0)]
    assert got[0] == pytest.approx(expected[0], rel=1e-3)  # the issue asks for 0.1%
    assert got[1] == pytest.approx(expected[1], rel=1e-3)
    assert 200.0 < got[0] < 300.0  # the well-known ~185-250 ng/mL plateau of this regimen
