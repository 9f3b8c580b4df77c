"""Effect-site linkage against scipy's ODE solver and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd import (
    add_effect_site,
    effect_site_from_samples,
    effects_from_concentrations,
    ke0_from_half_time,
    resolve_pd_model,
    simulate_effects,
)
from ketasim.pk import build_system
from ketasim.regimens import parse_regimen


def test_ke0_from_half_time_closed_form() -> None:
    assert ke0_from_half_time(8.3) == pytest.approx(math.log(2) / 8.3)
    with pytest.raises(InputError):
        ke0_from_half_time(0.0)


def test_effect_site_from_samples_exact_for_linear_ramp() -> None:
    # Cp = a t: Ce(t) = a (t - (1 - exp(-k t)) / k), closed form.
    k, a = 0.2, 3.0
    t = np.linspace(0, 30, 7)
    ce = effect_site_from_samples(t, a * t, k)
    expected = a * (t - (1 - np.exp(-k * t)) / k)
    np.testing.assert_allclose(ce, expected, rtol=1e-12, atol=1e-12)


def test_effect_site_from_samples_step_then_washout() -> None:
    # Constant Cp = 100 from t=0 (Ce0 = 0): Ce = 100 (1 - exp(-k t)).
    k = ke0_from_half_time(8.3)
    t = np.array([0.0, 8.3, 16.6])
    ce = effect_site_from_samples(t, np.full(3, 100.0), k)
    np.testing.assert_allclose(ce, [0.0, 50.0, 75.0], rtol=1e-12)


def test_add_effect_site_matches_scipy_ode() -> None:
    model = resolve_model("domino-1982")
    system = build_system(model, Patient(weight_kg=70))
    ke0 = 0.0835
    aug = add_effect_site(system, "ketamine", ke0)
    assert aug.K.shape == (system.n_states + 1,) * 2
    np.testing.assert_array_equal(aug.K[:-1, :-1], system.K)
    x0 = np.zeros(aug.n_states)
    x0[0] = 140.0  # 140 mg bolus into central
    v1 = 1.0 / system.outputs[0].row[0]

    def rhs(_t: float, x: np.ndarray) -> np.ndarray:
        dx = system.K @ x[:-1]
        dce = ke0 * (x[0] / v1 - x[-1])
        return np.append(dx, dce)

    sol = solve_ivp(
        rhs, (0, 120), x0, method="LSODA", rtol=1e-10, atol=1e-12, t_eval=[5.0, 30.0, 120.0]
    )
    from ketasim.pk import ExactSolver, SystemInputs
    from ketasim.pk.events import Bolus

    solver = ExactSolver(aug.K)
    states = solver.solve(
        SystemInputs(boluses=(Bolus(0.0, 0, 140.0),)), np.array([5.0, 30.0, 120.0])
    )
    np.testing.assert_allclose(states[:, -1], sol.y[-1], rtol=1e-6)


def test_simulated_and_sampled_effect_site_agree() -> None:
    # Exact augmented system vs piecewise-linear filtering of a fine plasma curve.
    pd_model = resolve_pd_model("olofsen-2022")
    model = resolve_model("otto-2021")
    patient = Patient(weight_kg=70, age_years=30, height_cm=175, sex="male")
    t = np.arange(0.0, 180.0, 0.05)
    sim, res = simulate_effects(
        pd_model,
        model,
        patient,
        parse_regimen("0.5 mg/kg", over="40min"),
        times_min=t,
        allow_extrapolation=True,
    )
    sampled = effects_from_concentrations(
        pd_model, t, {"ketamine": sim.concentrations_ng_per_ml["ketamine_plasma"]}
    )
    np.testing.assert_allclose(
        sampled.driver_ng_per_ml["ketamine_effect_site"],
        res.driver_ng_per_ml["ketamine_effect_site"],
        rtol=1e-4,
        atol=1e-6,
    )
    # Effect-site peak comes after the end of the 40-min infusion (hysteresis).
    ce = res.driver_ng_per_ml["ketamine_effect_site"]
    assert t[int(np.argmax(ce))] > 40.0


def test_unknown_analyte_is_an_error() -> None:
    system = build_system(resolve_model("domino-1982"), Patient(weight_kg=70))
    with pytest.raises(InputError, match="analyte"):
        add_effect_site(system, "norketamine", 0.1)


def test_olofsen_after_racemic_uses_the_s_half() -> None:
    # Olofsen 2022: C50 is an S-ketamine concentration (0.51 nmol/mL = 121.2 ng/mL); after a
    # racemic model the S part is taken as half the racemic concentration.
    pd_model = resolve_pd_model("olofsen-2022")
    c50 = 0.51 * 237.73
    t = [0.0, 1e5]
    racemic = effects_from_concentrations(
        pd_model, t, {"ketamine": [2 * c50] * 2}, drug="racemic ketamine"
    )
    ratio = racemic.endpoints["antinociception"].ce_over_c50
    assert ratio is not None and ratio[-1] == pytest.approx(1.0)
    assert any(f.rule_id.endswith("racemic_half") for f in racemic.findings)
    s_form = effects_from_concentrations(pd_model, t, {"ketamine": [c50] * 2}, drug="S-ketamine")
    ratio_s = s_form.endpoints["antinociception"].ce_over_c50
    assert ratio_s is not None and ratio_s[-1] == pytest.approx(1.0)
