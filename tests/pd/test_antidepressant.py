"""The empirical antidepressant model: solver against scipy, structure, dose and course response,
and its calibration (published values come from antidepressant_data.csv, each row cited)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    AntidepressantParams,
    antidepressant_course,
    default_antidepressant_params,
    drug_part,
    exposure_memory,
    outcome_probabilities,
    simulate_antidepressant_course,
)
from ketasim.pd.calibration.antidepressant_fit import calibration_points, summarise
from ketasim.regimens import parse_regimen

P = AntidepressantParams(
    ke0_per_h=0.01,
    ec50_ng_per_ml=2.0,
    emax=0.8,
    hill=1.0,
    omega_drug=1.0,
    session_effect=0.2,
    session_decay_per_h=0.05,
    session_onset_per_h=2.0,
    expectancy_effect=0.1,
    expectancy_rate_per_h=0.02,
    new_oral_ad_effect=0.3,
    omega_placebo=0.5,
    residual_sd_madrs=1.6,
    typical_baseline_madrs=35.0,
    baseline_sd_madrs=5.5,
)


def test_exposure_memory_matches_scipy() -> None:
    h = 1 / 30
    grid = np.arange(0.0, 100.0 + h / 2, h)
    conc = np.where(grid < 40 / 60, 300.0 * grid / (40 / 60), 0.0) + np.where(
        (grid >= 48) & (grid < 50), 80.0, 0.0
    )

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        return np.array([0.05 * (np.interp(t, grid, conc) - y[0])])

    sol = solve_ivp(rhs, (0, 100), [0.0], t_eval=grid, rtol=1e-10, atol=1e-12, max_step=h / 4)
    ce = exposure_memory(conc, h, 0.05)
    np.testing.assert_allclose(ce, sol.y[0], atol=1e-6 * ce.max())
    # patients on a leading axis: the same filter per row
    both = exposure_memory(np.vstack([conc, 2 * conc]), h, 0.05)
    np.testing.assert_allclose(both[1], 2 * ce, rtol=1e-12)
    assert ce[0] == 0.0


def test_control_arm_is_the_closed_form_placebo_and_zero_at_t0() -> None:
    grid = np.arange(0.0, 200.0, 0.5)
    t = np.array([0.0, 2.0, 24.0, 150.0])
    course = antidepressant_course(grid, np.zeros_like(grid), [0.0, 72.0], t, params=P)
    sess = sum(
        0.2 * (np.exp(-0.05 * np.maximum(t - s, 0)) - np.exp(-2.0 * np.maximum(t - s, 0)))
        for s in (0.0, 72.0)
    )
    expect = 0.1 * (1 - np.exp(-0.02 * t))
    np.testing.assert_allclose(course.placebo_parts["session"], sess, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(course.placebo_parts["expectancy"], expect, rtol=1e-12)
    np.testing.assert_allclose(course.placebo_parts["new_oral_ad"], 0.0)
    np.testing.assert_allclose(course.drug_change, 0.0, atol=1e-12)
    assert course.madrs_change[0] == 0.0 and course.placebo_change[0] == 0.0
    # mean change = BL (E[exp(-e^eta_P Hp)] - 1): check against direct numerical integration
    hp = sess + expect
    z = np.linspace(-8, 8, 4001)
    dens = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    mean = [35.0 * (np.trapezoid(np.exp(-np.exp(0.5 * z) * v) * dens, z) - 1) for v in hp]
    np.testing.assert_allclose(course.madrs_change, mean, atol=1e-6)


def test_probabilities_match_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    hp, ce = np.array([0.3]), np.array([3.0])
    out = outcome_probabilities(35.0, hp, ce, P, remission_cutoff=12.0)
    n = 400_000
    ep, ed = rng.normal(0, 0.5, n), rng.normal(0, 1.0, n)
    x = ce[0] * np.exp(ed)
    score = 35.0 * np.exp(-(np.exp(ep) * hp[0] + 0.8 * x / (2.0 + x)))
    rated = score + rng.normal(0, 1.6, n)
    assert out.mean_change[0] == pytest.approx(np.mean(score) - 35.0, abs=0.05)
    assert out.response[0] == pytest.approx(np.mean(rated <= 17.5), abs=0.005)
    assert out.remission[0] == pytest.approx(np.mean(rated <= 12.0), abs=0.005)


def test_new_oral_ad_is_a_separate_part_and_inputs_are_checked() -> None:
    grid = np.arange(0.0, 700.0, 0.5)
    t = np.array([0.0, 648.0])
    cont = antidepressant_course(grid, np.zeros_like(grid), [0.0], t, params=P)
    new = antidepressant_course(
        grid, np.zeros_like(grid), [0.0], t, params=P, background="new_oral_ad"
    )
    assert new.placebo_parts["new_oral_ad"][1] == pytest.approx(0.3 * (1 - math.exp(-0.02 * 648)))
    assert new.madrs_change[1] < cont.madrs_change[1] and new.madrs_change[0] == 0.0
    with pytest.raises(InputError, match="background"):
        antidepressant_course(grid, np.zeros_like(grid), [0.0], t, params=P, background="x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="remission_cutoff"):
        antidepressant_course(grid, np.zeros_like(grid), [0.0], t, params=P, remission_cutoff=70)
    with pytest.raises(InputError, match="omega_drug"):
        replace(P, omega_drug=-1.0)


def _drug_part(
    model: str,
    dose: str,
    at_h: float,
    *,
    over: str | None = None,
    route: str = "iv",
    repeat: str | None = None,
) -> float:
    m, pat = resolve_model(model), Patient(weight_kg=70.0, age_years=45.0)
    reg = parse_regimen(dose, route=route, over=over, repeat=repeat)
    drug = simulate_antidepressant_course(m, pat, reg, [0.0, at_h])
    pbo = simulate_antidepressant_course(m, pat, reg, [0.0, at_h], placebo=True)
    assert drug.madrs_change[0] == 0.0 and pbo.madrs_change[0] == 0.0
    np.testing.assert_allclose(pbo.madrs_change, drug.placebo_change, atol=1e-12)
    return float(drug.madrs_change[1] - pbo.madrs_change[1])


def test_ketamine_dose_response_at_24h_is_not_saturated() -> None:
    # Fava 2018 (Mol Psychiatry, PMC6447473): 0.5 and 1.0 mg/kg effective, 0.1 and 0.2 weaker.
    d = {x: _drug_part("domino", f"{x} mg/kg", 24.0, over="40min") for x in (0.1, 0.2, 0.5, 1.0)}
    assert d[0.1] > d[0.2] > d[0.5] > d[1.0]  # more negative = larger drug benefit
    assert d[0.1] - d[0.5] >= 2.0


def _daly_week_1() -> dict[int, float]:
    return {
        mg: _drug_part("perez-ruixo", f"{mg} mg", 168.0, route="intranasal", repeat="every 72h x 2")
        for mg in (28, 56, 84)
    }


def test_esketamine_dose_response_at_day_7_vs_placebo() -> None:
    # Daly 2018 (JAMA Psychiatry, PMC5838571, Table 1): twice weekly (days 1 and 4), end of
    # week 1 vs placebo -5.0 / -7.6 / -10.5 at 28 / 56 / 84 mg. In-sample: Daly 2018 is
    # calibration.
    d = _daly_week_1()
    assert d[28] > d[56] > d[84] < 0


def test_esketamine_spread_is_of_the_size_daly_2018_reports() -> None:
    # 5.5 points between 28 and 84 mg (SE of that difference sqrt(2.72^2 + 2.56^2) = 3.7)
    d = _daly_week_1()
    assert 5.5 - 3.7 <= d[28] - d[84] <= 5.5 + 3.7


def test_a_course_builds_on_itself() -> None:
    # 84 h after the last session of 4 weeks twice weekly vs 84 h after one session
    single = _drug_part("domino", "0.5 mg/kg", 84.0, over="40min")
    course = _drug_part(
        "domino", "0.5 mg/kg", 7 * 84.0 + 84.0, over="40min", repeat="every 84h x 8"
    )
    assert course < single < 0


def test_a_course_builds_on_itself_on_the_log_scale_and_in_response() -> None:
    # the typical patient's drug part (log scale) and the drug-attributable response
    # probability, 84 h after the last of 8 sessions vs 84 h after one session
    m, pat = resolve_model("domino"), Patient(weight_kg=70.0, age_years=45.0)
    one = simulate_antidepressant_course(
        m, pat, parse_regimen("0.5 mg/kg", over="40min"), [0.0, 84.0]
    )
    eight = simulate_antidepressant_course(
        m, pat, parse_regimen("0.5 mg/kg", over="40min", repeat="every 84h x 8"), [0.0, 672.0]
    )
    assert eight.drug_part[1] > one.drug_part[1] > 0
    gain = [c.response_probability[1] - c.placebo_response_probability[1] for c in (one, eight)]
    assert gain[1] > gain[0] > 0


def test_relapse_after_a_course_rises_and_is_zero_before_its_end() -> None:
    m = resolve_model("domino")
    reg = parse_regimen("0.5 mg/kg", over="40min", repeat="every 48h x 6")
    t = np.array([0.0, 100.0, 264.0, 400.0, 600.0, 900.0])
    c = simulate_antidepressant_course(m, Patient(70.0), reg, t)
    assert np.all(c.relapse_probability[:3] == 0.0)
    assert 0 < c.relapse_probability[3] <= c.relapse_probability[4] <= c.relapse_probability[5]
    assert c.end_of_course_h == pytest.approx(240.0 + 24.0)


def test_calibration_data_have_sources_and_weights() -> None:
    fit, test = calibration_points(), calibration_points("test")
    assert len(fit) >= 40 and len(test) >= 5
    assert all(p.source and p.se > 0 for p in fit + test)
    assert not {p.study for p in fit} & {p.study for p in test}
    # phase 3 (TRANSFORM; ASPIRE I/II since the seventh session): the test, never the fit
    assert all("TRANSFORM" in p.study or p.study.startswith("ASPIRE") for p in test)


def test_stored_fit_is_current_and_reports_loso() -> None:
    result = summarise(default_antidepressant_params())
    stored = tomllib.loads(
        (resources.files("ketasim.pd.calibration") / "antidepressant_params.toml").read_text(
            encoding="utf-8"
        )
    )
    assert result.chi2 == pytest.approx(stored["fit"]["weighted_chi2"], rel=1e-3)
    studies = {e["study"] for e in stored["loso"]}
    assert studies == {p.study for p in calibration_points()}
    assert {e["name"] for e in stored["profile"]} >= {"ec50_ng_per_ml", "emax", "ke0_per_h"}
    by_key = {
        (p.study, p.arm, p.time_h, p.quantity): v
        for p, v in zip(result.points, result.predicted, strict=True)
    }
    # Murrough 2013 AJP: ketamine -16.5 vs midazolam -8.8 at 24 h
    assert (
        by_key[("Murrough 2013 AJP", "ketamine", 24.0, "madrs_change")]
        < by_key[("Murrough 2013 AJP", "midazolam", 24.0, "madrs_change")]
    )
    assert result.rmse_madrs_points < 4.0


def test_drug_random_effect_on_potency_or_on_emax() -> None:
    # emax_share_of_drug_eta 0: x = Ce e^eta in the Hill term; 1: Emax e^eta, Ce unchanged
    ce = np.array([0.0, 0.5, 2.0, 9.0])
    eta = np.array([0.7, -0.4])
    x = ce[None, :] * np.exp(eta)[:, None]
    on_potency = P.emax * x / (P.ec50_ng_per_ml + x)  # Hill 1 in P
    on_emax = P.emax * np.exp(eta)[:, None] * ce / (P.ec50_ng_per_ml + ce)
    np.testing.assert_allclose(drug_part(ce, P, eta), on_potency, rtol=1e-12)
    share = replace(P, emax_share_of_drug_eta=1.0)
    np.testing.assert_allclose(drug_part(ce, share, eta), on_emax, rtol=1e-12)
    with pytest.raises(InputError, match="emax_share_of_drug_eta"):
        replace(P, emax_share_of_drug_eta=1.5)
