"""Loss of benefit on continued vs stopped treatment (sixth session): relapse on rated MADRS
with the within-patient fluctuation against a direct Monte Carlo and a closed form, the
stopped oral antidepressant, the drug-tolerance factor, Geddes 2003's ordering and old
parameter files."""

from __future__ import annotations

import math
import tomllib
from dataclasses import fields, replace
from importlib import resources

import numpy as np
import pytest
from scipy.special import ndtr

from ketasim.errors import InputError
from ketasim.pd.antidepressant import (
    AntidepressantParams,
    default_antidepressant_params,
    outcome_probabilities,
    placebo_parts,
    relapse_probability,
)
from ketasim.pd.antidepressant_fluctuation import ou_paths
from ketasim.pd.antidepressant_parts import drug_tolerance, individual_scores
from ketasim.pd.antidepressant_relapse import fluctuation_variance, rated_relapse_probability
from ketasim.pd.calibration.antidepressant_points import (
    calibration_points,
    oral_ad_stop_h,
    predict_points,
    relapse_visits,
)

WEEK_H = 168.0
P = default_antidepressant_params()


def _direct_relapse(p: AntidepressantParams, hp: np.ndarray, t: np.ndarray, n: int) -> float:
    """Draw patients (eta_P normal), their fluctuation paths and rating errors; count."""
    rng = np.random.default_rng(7)
    eta_p = rng.normal(0.0, p.omega_placebo, n)
    eta_d = rng.normal(0.0, p.omega_drug, n)
    true = individual_scores(36.7, hp, np.zeros(t.size), p, eta_p, eta_d)
    x = ou_paths(n, t, p.fluctuation_sd_log, p.fluctuation_tau_h, rng)
    rated = true * np.exp(x) + rng.normal(0.0, p.residual_sd_madrs, (n, t.size))
    resp = rated <= 0.5 * 36.7
    relapsed = resp[:, 0] & np.any(~resp[:, 1:], axis=1)
    return float(relapsed.sum() / resp[:, 0].sum())


def test_rated_relapse_with_fluctuation_matches_a_direct_monte_carlo() -> None:
    p = replace(P, fluctuation_sd_log=0.25, fluctuation_tau_h=4 * WEEK_H)
    t = np.array([7.0, 11.0, 15.0, 19.0]) * WEEK_H
    parts = placebo_parts(t, [0.0], p)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    got = rated_relapse_probability(36.7, hp, np.zeros(t.size), t, p, paths=32, nodes=(64, 64))
    n = 400_000
    direct = _direct_relapse(p, hp, t, n)
    # direct MC SE: sqrt(q(1-q)/responders) with ~25% responders; plus the estimator's own
    se = math.sqrt(direct * (1 - direct) / (0.25 * n)) + got.mc_se
    assert got.probability == pytest.approx(direct, abs=4 * se + 0.005)
    assert 0.0 < got.mc_se < 0.01
    assert got.probability > 0.05  # the fluctuation makes placebo responders relapse


def test_rated_relapse_without_noise_equals_the_deterministic_relapse() -> None:
    # no fluctuation and no rating error: with a falling non-specific part the first visit that
    # loses response is the last one, so "at any visit" equals "at the last time" (closed form
    # over the same quadrature nodes)
    p = replace(P, residual_sd_madrs=0.0)
    t = np.array([7.0, 11.0, 15.0, 19.0]) * WEEK_H
    parts = placebo_parts(t, [0.0], p)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    assert np.all(np.diff(hp) < 0)
    got = rated_relapse_probability(36.7, hp, np.zeros(4), t, p, nodes=(64, 64))
    want = relapse_probability(36.7, hp[[0, 3]], np.zeros(2), p, 0)[1]
    assert got.probability == pytest.approx(want, abs=1e-12)
    assert got.mc_se == 0.0


def test_rated_relapse_is_smooth_in_the_fluctuation_size() -> None:
    # common random numbers: the same seed gives the same paths, so the prediction moves
    # continuously and monotonically with the size of the fluctuation (a fit can use it)
    t = np.array([7.0, 11.0, 15.0, 19.0]) * WEEK_H
    parts = placebo_parts(t, [0.0], P)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    vals = [
        rated_relapse_probability(
            36.7, hp, np.zeros(4), t, replace(P, fluctuation_sd_log=s, fluctuation_tau_h=672.0)
        ).probability
        for s in (0.10, 0.101, 0.15, 0.2)
    ]
    assert abs(vals[1] - vals[0]) < 0.002
    assert vals[0] < vals[2] < vals[3]
    with pytest.raises(InputError, match="times_h"):
        rated_relapse_probability(36.7, hp[:1], np.zeros(1), t[:1], P)


def test_outcome_probabilities_with_the_fluctuation_marginal_match_monte_carlo() -> None:
    p = replace(P, fluctuation_sd_log=0.3, fluctuation_tau_h=2 * WEEK_H)
    t = np.array([4.0 * WEEK_H])
    var = fluctuation_variance(t, p)
    assert var is not None and var[0] == pytest.approx(0.09 * (1 - math.exp(-4.0)))
    hp = np.array([0.25])
    o = outcome_probabilities(36.7, hp, np.zeros(1), p, fluctuation_var=var)
    rng = np.random.default_rng(3)
    n = 400_000
    eta_p = rng.normal(0.0, p.omega_placebo, n)
    true = individual_scores(36.7, hp, np.zeros(1), p, eta_p, 0.0)[:, 0]
    rated = true * np.exp(rng.normal(0.0, math.sqrt(var[0]), n))
    assert o.mean_change[0] == pytest.approx(np.mean(rated) - 36.7, abs=0.08)
    noisy = rated + rng.normal(0.0, p.residual_sd_madrs, n)
    assert o.response[0] == pytest.approx(np.mean(noisy <= 18.35), abs=0.01)
    assert fluctuation_variance(t, P) is None  # stored model: no fluctuation


def test_a_stopped_oral_antidepressant_decays_at_the_rate_it_rose() -> None:
    t = np.array([4.0, 8.0, 9.0, 12.0, 30.0]) * WEEK_H
    on = placebo_parts(t, [0.0], P, "new_oral_ad")["new_oral_ad"]
    off = placebo_parts(t, [0.0], P, "new_oral_ad", oral_ad_stop_h=8 * WEEK_H)["new_oral_ad"]
    np.testing.assert_allclose(off[:2], on[:2], rtol=1e-12)  # identical up to the switch
    k = P.expectancy_rate_per_h
    np.testing.assert_allclose(off[2:], on[1] * np.exp(-k * (t[2:] - t[1])), rtol=1e-12)
    cont = placebo_parts(t, [0.0], P, "continuing", oral_ad_stop_h=8 * WEEK_H)
    assert np.all(cont["new_oral_ad"] == 0.0)
    with pytest.raises(InputError, match="oral_ad_stop_h"):
        placebo_parts(t, [24.0], P, "new_oral_ad", oral_ad_stop_h=0.0)


def test_drug_tolerance_scales_the_drug_parts_only_when_set() -> None:
    t = np.array([0.0, 26.0, 52.0]) * WEEK_H
    np.testing.assert_array_equal(drug_tolerance(t, [0.0], P), 1.0)
    p = replace(P, drug_tolerance_per_h=math.log(2.0) / (26 * WEEK_H))
    np.testing.assert_allclose(drug_tolerance(t, [0.0], p), [1.0, 0.5, 0.25])
    a = placebo_parts(t, [0.0], P, "new_oral_ad")
    b = placebo_parts(t, [0.0], p, "new_oral_ad")
    np.testing.assert_allclose(b["new_oral_ad"], a["new_oral_ad"] * [1.0, 0.5, 0.25])
    np.testing.assert_array_equal(b["expectancy"], a["expectancy"])
    ce = np.full(3, 5.0)
    s_a = individual_scores(36.7, a["expectancy"], ce, P, 0.0, 0.0)
    s_b = individual_scores(36.7, a["expectancy"], ce, P, 0.0, 0.0, drug_tolerance(t, [0.0], p))
    assert s_b[2] > s_a[2] and s_b[0] == pytest.approx(s_a[0])


def test_relapse_is_lower_on_continued_than_on_withdrawn_antidepressant_as_geddes() -> None:
    # Geddes 2003 (Lancet 361:653): 18% relapsed on continued antidepressant vs 41% on placebo
    pts = [
        p for use in ("fit", "check") for p in calibration_points(use) if p.study == "Geddes 2003"
    ]
    assert [p.value for p in pts] == [0.18, 0.41]
    cont, stop = predict_points(P, tuple(pts))
    assert 0.0 < cont < stop < 1.0
    assert oral_ad_stop_h()[pts[1].regimen] == 8 * WEEK_H
    assert oral_ad_stop_h()[pts[0].regimen] is None
    # Khan 2008: drug responders on drug relapse less than placebo responders on placebo
    khan_pts = tuple(p for p in calibration_points() if p.study == "Khan 2008")
    arms = [p.arm.split()[0] for p in khan_pts]
    khan = dict(zip(arms, predict_points(P, khan_pts), strict=True))
    assert 0.0 < khan["antidepressant"] < khan["placebo"]


def test_relapse_visits_reach_the_asked_time() -> None:
    v = relapse_visits("oral_ad_continued_12m", 8 * WEEK_H, 60 * WEEK_H)
    assert v[0] == 8 * WEEK_H and v[-1] == 60 * WEEK_H and v.size == 14
    np.testing.assert_allclose(np.diff(v), 4 * WEEK_H)
    w = relapse_visits("iv_course_6", 288.0, 696.0)  # weekly by default, last visit at the time
    assert w[0] == 288.0 and w[-1] == 696.0 and np.all(np.diff(w) > 0)


def test_parameter_files_of_schema_5_still_load() -> None:
    stored = tomllib.loads(
        (resources.files("ketasim.pd.calibration") / "antidepressant_params.toml").read_text(
            encoding="utf-8"
        )
    )
    new = {"fluctuation_sd_log", "fluctuation_tau_h", "drug_tolerance_per_h"}
    old = {k: float(v) for k, v in stored["parameters"].items() if k not in new}
    p = AntidepressantParams(**old)
    assert all(getattr(p, k) == 0.0 for k in new)
    assert {f.name for f in fields(p)} >= new
    with pytest.raises(InputError, match="fluctuation_tau_h"):
        replace(p, fluctuation_sd_log=0.2)
    assert ndtr(0.0) == 0.5


def test_course_relapse_on_ratings_matches_the_calibration_definition() -> None:
    # with relapse_on_ratings the CLI's course relapse (weekly visits from the end of the
    # course) is the calibration's prediction of the same design (Murrough 2013's course)
    from ketasim.pd.antidepressant import antidepressant_course
    from ketasim.pd.calibration.antidepressant_points import exposures

    p = replace(P, relapse_on_ratings=1.0)
    (pt,) = [
        q
        for q in calibration_points()
        if q.study == "Murrough 2013 Biol Psychiatry" and q.quantity == "relapse_rate"
    ]
    conc, sessions = exposures()[pt.regimen]
    grid = np.arange(conc.size) / 30.0
    c = antidepressant_course(grid, conc, sessions, [200.0, pt.time_h], params=p)
    assert c.relapse_probability[0] == 0.0  # before the end of the course
    rated = c.relapse_probability[1]
    assert rated == pytest.approx(predict_points(p, (pt,))[0], abs=1e-9)
    trajectory = antidepressant_course(grid, conc, sessions, [pt.time_h], params=P)
    assert 0.0 < trajectory.relapse_probability[0] < 1.0 and 0.0 < rated < 1.0
