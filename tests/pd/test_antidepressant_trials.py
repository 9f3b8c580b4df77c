"""Trial-level structure of the empirical antidepressant model: the esketamine potency factor,
the between-trial effect on the non-specific parts and its estimate, the prediction interval
of a new trial, and the durability (relapse) calibration points."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import ndtri

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    antidepressant_course,
    default_antidepressant_params,
    outcome_probabilities,
    placebo_parts,
    potency_factor,
    simulate_antidepressant_course,
)
from ketasim.pd.calibration.antidepressant_interval import CHANGE_SD_MADRS, new_trial_intervals
from ketasim.pd.calibration.antidepressant_points import (
    calibration_points,
    exposures,
    predict_points,
)
from ketasim.pd.calibration.antidepressant_trial_effects import (
    TrialEffect,
    control_points,
    estimate_trial_sd,
    trial_effects,
)
from ketasim.pk import Dose, Regimen, simulate


def test_esketamine_exposure_is_scaled_by_its_potency() -> None:
    p2 = replace(default_antidepressant_params(), esketamine_potency=2.0)
    assert potency_factor("esketamine_plasma", p2) == 2.0
    assert potency_factor("ketamine_plasma", p2) == 1.0
    model, pat = resolve_model("perez-ruixo-2021"), Patient(weight_kg=70.0, age_years=45.0)
    reg = Regimen((Dose(0.25, "mg/kg", 0.0, "iv", 40.0),))
    t = np.array([0.0, 24.0, 72.0])
    course = simulate_antidepressant_course(model, pat, reg, t, params=p2)
    grid = np.arange(0.0, 72.0 + 1 / 60, 1 / 30)
    conc = simulate(model, pat, reg, times_min=grid * 60.0).concentrations_ng_per_ml
    ref = antidepressant_course(
        grid, 2.0 * np.maximum(conc["esketamine_plasma"], 0.0), [0.0], t, params=p2
    )
    np.testing.assert_allclose(course.madrs_change, ref.madrs_change, rtol=1e-9, atol=1e-12)
    one = simulate_antidepressant_course(
        model, pat, reg, t, params=replace(p2, esketamine_potency=1.0)
    )
    assert course.drug_change[1] < one.drug_change[1] < 0  # more potent: larger benefit


def test_trial_effect_multiplies_the_non_specific_parts() -> None:
    p = default_antidepressant_params()
    pts = control_points("Japanese phase 2b")
    assert len(pts) == 1 and pts[0].arm.startswith("placebo")
    pt = pts[0]
    _, sessions = exposures()[pt.regimen]
    parts = placebo_parts(np.array([pt.time_h]), sessions, p, pt.background)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    assert pt.baseline_madrs is not None
    for eta in (-0.7, 0.0, 0.4):
        ref = outcome_probabilities(pt.baseline_madrs, math.exp(eta) * hp, np.zeros(1), p)
        got = predict_points(p, pts, {pt.study: eta})[0]
        assert got == pytest.approx(float(ref.mean_change[0]), rel=1e-9)
    # a larger trial effect: more improvement on placebo
    lo, hi = (predict_points(p, pts, {pt.study: e})[0] for e in (-0.5, 0.5))
    assert hi < lo < 0


def test_trial_sd_recovers_a_simulated_between_trial_spread() -> None:
    rng = np.random.default_rng(11)
    omega, n = 0.5, 400
    se = rng.uniform(0.1, 0.4, n)
    eta = rng.normal(0.0, np.sqrt(omega**2 + se**2))
    est = estimate_trial_sd(
        [TrialEffect(f"t{i}", e, s, 1) for i, (e, s) in enumerate(zip(eta, se, strict=True))]
    )
    assert est.omega == pytest.approx(omega, abs=0.06)
    assert est.low is not None and est.high is not None and est.low < omega < est.high
    # no spread beyond sampling error: the lower end is not bounded away from 0
    eta0 = rng.normal(0.0, se[:30])
    none = estimate_trial_sd(
        [TrialEffect(f"t{i}", e, s, 1) for i, (e, s) in enumerate(zip(eta0, se[:30], strict=True))]
    )
    assert none.low is None and none.omega < 0.25
    with pytest.raises(ValueError):
        estimate_trial_sd([TrialEffect("a", 0.1, 0.1, 1)])


def test_stored_trial_sd_is_the_estimate_from_the_calibration_control_arms() -> None:
    p = default_antidepressant_params()
    effects = trial_effects(p)
    studies = {e.study for e in effects}
    assert {"Daly 2018", "Japanese phase 2b", "Singh 2016", "STAR*D level 2"} <= studies
    assert not studies & {"Han 2016", "Cochrane 2021"}  # pooled estimates: no trial effect
    assert all(math.isfinite(e.se) and e.se > 0 for e in effects)
    assert p.omega_trial_placebo == pytest.approx(estimate_trial_sd(effects).omega, rel=1e-3)
    assert p.omega_trial_placebo > 0


def test_new_trial_interval_matches_monte_carlo() -> None:
    p = replace(default_antidepressant_params(), omega_trial_placebo=0.4)
    test = calibration_points("test")
    pick = tuple(
        pt
        for pt in test
        if pt.study == "TRANSFORM-1+2 pooled" and pt.time_h == 648 and pt.arm.startswith("placebo")
    )
    assert {pt.quantity for pt in pick} == {"madrs_change", "response_rate"}
    rows = new_trial_intervals(p, pick)
    rng = np.random.default_rng(3)
    grid = 0.4 * ndtri((np.arange(300) + 0.5) / 300)  # N(0, 0.4^2) by equal-probability nodes
    study = pick[0].study
    preds = np.array([predict_points(p, pick, {study: float(e)}) for e in grid])
    for j, r in enumerate(rows):
        pt = r.point
        assert pt.n is not None
        mean = preds[rng.integers(0, grid.size, 40000), j]
        if pt.quantity == "madrs_change":
            sd = CHANGE_SD_MADRS / math.sqrt(pt.n)
        else:
            sd = np.sqrt(np.clip(mean, 1e-6, 1) * (1 - np.clip(mean, 0, 1 - 1e-6)) / pt.n)
        draws = mean + sd * rng.standard_normal(mean.size)
        lo, hi = np.quantile(draws, [0.05, 0.95])
        width = hi - lo
        assert r.low == pytest.approx(lo, abs=0.05 * width)
        assert r.high == pytest.approx(hi, abs=0.05 * width)
        assert r.low < r.median < r.high
    # no trial variability and no sampling error: the interval is the point prediction
    flat = new_trial_intervals(replace(p, omega_trial_placebo=0.0), pick)
    for r, w, v in zip(flat, rows, predict_points(p, pick), strict=True):
        assert r.low <= v <= r.high
        assert r.high - r.low < w.high - w.low  # sampling error only: narrower


def test_relapse_points_use_the_course_relapse_definition() -> None:
    p = default_antidepressant_params()
    rel = tuple(pt for pt in calibration_points() if pt.quantity == "relapse_rate")
    # after a course; Khan 2008 (placebo responders at week 7): test_antidepressant_structure
    # (and Geddes 2003, oral antidepressant continued or stopped: test_antidepressant_continued)
    pts = tuple(pt for pt in rel if pt.study not in ("Khan 2008", "Geddes 2003"))
    assert {pt.study for pt in pts} == {"Murrough 2013 Biol Psychiatry", "Shiroma 2014"}
    got = predict_points(p, pts)
    for pt, v in zip(pts, got, strict=True):
        conc, sessions = exposures()[pt.regimen]
        grid = np.arange(conc.size) / 30.0
        ref = antidepressant_course(grid, conc, sessions, [pt.time_h], params=p)
        assert ref.end_of_course_h == pytest.approx(264.0 + 24.0)
        assert v == pytest.approx(float(ref.relapse_probability[0]), abs=1e-9)
        assert 0 < v < 1


def test_calibration_command_reports_trial_effects_and_new_trial_intervals() -> None:
    from typer.testing import CliRunner

    from ketasim.cli import app

    result = CliRunner().invoke(app, ["calibration", "antidepressant"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Trial effects on the non-specific parts" in out
    assert "omega_trial_placebo = " in out
    assert "TEST as a new trial: 90% prediction interval" in out
    n_test = len(calibration_points("test"))
    assert "published values inside their 90% interval" in out
    lines = [ln for ln in out.splitlines() if ln.rstrip().endswith(("inside", "OUTSIDE"))]
    assert len(lines) == n_test
    assert "Correia-Melo 2020" in out and "relapse_rate" in out


def test_stored_leave_one_study_out_reports_new_trial_interval_coverage() -> None:
    from ketasim.pd.calibration.antidepressant_report import stored_calibration

    loso, _ = stored_calibration()
    for e in loso:
        if e.study in ("Han 2016", "Cochrane 2021", "Khan 2008", "Geddes 2003"):
            assert e.inside_90 is None  # pooled estimates are not a new trial
        else:
            assert e.inside_90 is not None and 0 <= e.inside_90 <= e.n_points
    assert any(e.inside_90 for e in loso)


def test_calibration_json_carries_the_new_trial_intervals() -> None:
    import json

    from typer.testing import CliRunner

    from ketasim.cli import app

    result = CliRunner().invoke(app, ["calibration", "antidepressant", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = data["test_new_trial_intervals"]
    assert len(rows) == len(data["test"]) == len(calibration_points("test"))
    for r in rows:
        assert r["low"] <= r["median"] <= r["high"] and r["level"] == 0.9
        assert r["inside"] == (r["low"] <= r["published"] <= r["high"])
    assert data["parameters"]["omega_trial_placebo"] > 0
