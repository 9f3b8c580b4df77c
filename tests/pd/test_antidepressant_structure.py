"""Fifth-session structures of the empirical antidepressant model, each against an independent
closed form: the fading expectancy part, relapse of placebo responders, the logit-normal Emax,
the normal non-specific factor, and the Khan 2008 calibration design."""

from __future__ import annotations

import math
from dataclasses import asdict, replace

import numpy as np
import pytest
from scipy.special import expit, ndtr

from ketasim.errors import InputError
from ketasim.pd.antidepressant import (
    AntidepressantParams,
    default_antidepressant_params,
    drug_part,
    madrs_scores,
    placebo_parts,
    relapse_probability,
)
from ketasim.pd.calibration.antidepressant_points import (
    calibration_points,
    predict_points,
    responders_from_h,
)

P = AntidepressantParams(
    ke0_per_h=0.01,
    ec50_ng_per_ml=2.0,
    emax=0.8,
    hill=2.0,
    omega_drug=1.0,
    session_effect=0.2,
    session_decay_per_h=0.05,
    session_onset_per_h=2.0,
    expectancy_effect=0.4,
    expectancy_rate_per_h=0.003,
    new_oral_ad_effect=0.3,
    omega_placebo=0.8,
    residual_sd_madrs=1.6,
    typical_baseline_madrs=35.0,
    baseline_sd_madrs=5.5,
)
WEEK_H = 168.0


def test_expectancy_fades_by_its_closed_form_and_the_other_parts_do_not() -> None:
    kf = math.log(2.0) / (30 * WEEK_H)
    t = np.array([0.0, 5.0, 300.0, 2000.0, 9000.0])
    faded = placebo_parts(t, [0.0, 72.0], replace(P, expectancy_fade_per_h=kf), "new_oral_ad")
    still = placebo_parts(t, [0.0, 72.0], P, "new_oral_ad")
    closed = 0.4 * (1 - np.exp(-0.003 * t)) * np.exp(-kf * t)
    np.testing.assert_allclose(faded["expectancy"], closed, rtol=1e-12, atol=0)
    np.testing.assert_allclose(still["expectancy"], 0.4 * (1 - np.exp(-0.003 * t)), rtol=1e-12)
    for part in ("session", "new_oral_ad"):
        np.testing.assert_array_equal(faded[part], still[part])
    assert faded["expectancy"][0] == 0.0
    assert faded["expectancy"][-1] < faded["expectancy"][-2]  # it fades after its peak


def _placebo_relapse_closed_form(p: AntidepressantParams, t1: float, t2: float) -> float:
    """No drug, no rating error: a responder at t iff e^eta Hp(t) >= ln 2 (log-normal eta); the
    responders at t2 are those at t1 with eta above a higher (or lower) bar, so the sets nest."""
    hp = {t: float(sum(v[0] for v in placebo_parts([t], [0.0], p).values())) for t in (t1, t2)}
    below = {t: ndtr(math.log(math.log(2.0) / hp[t]) / p.omega_placebo) for t in (t1, t2)}
    return float(max(below[t2] - below[t1], 0.0) / (1.0 - below[t1]))


def test_placebo_responders_relapse_only_if_the_expectancy_fades() -> None:
    t = np.array([7.0, 19.0, 40.0]) * WEEK_H
    out = []
    for kf in (0.0, math.log(2.0) / (52 * WEEK_H)):
        # about half respond at week 7, so the conditional fraction rests on many nodes
        p = replace(P, expectancy_fade_per_h=kf, expectancy_effect=0.8)
        parts = placebo_parts(t, [0.0], p)
        hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
        rel = relapse_probability(35.0, hp, np.zeros(3), p, 0)
        out.append(rel)
        for i in (1, 2):  # against the closed form (64 equal-probability nodes per axis)
            assert rel[i] == pytest.approx(_placebo_relapse_closed_form(p, t[0], t[i]), abs=0.03)
    assert out[0][1] == out[0][2] == 0.0  # never fading: placebo responders never relapse
    assert 0.0 < out[1][1] < out[1][2]


def test_logit_normal_emax_has_a_ceiling_and_one_potency() -> None:
    p = replace(P, emax_ceiling_ratio=2.5)
    ce = np.array([0.0, 1.0, 2.0, 10.0])
    eta = np.array([-3.0, 0.0, 3.0])
    r = (ce / 2.0) ** 2.0
    want = 2.5 * 0.8 * expit(eta[:, None] - math.log(1.5)) * r / (1 + r)
    np.testing.assert_allclose(drug_part(ce, p, eta), want, rtol=1e-12)
    np.testing.assert_allclose(drug_part(ce, p, 0.0), 0.8 * r / (1 + r), rtol=1e-12)
    assert np.all(drug_part(ce, p, np.array([40.0])) <= 2.5 * 0.8)
    with pytest.raises(InputError, match="emax_ceiling_ratio"):
        replace(P, emax_ceiling_ratio=0.5)
    with pytest.raises(InputError, match="emax_ceiling_ratio"):
        replace(P, emax_ceiling_ratio=2.0, emax_share_of_drug_eta=1.0)


def test_normal_non_specific_factor_and_its_cap() -> None:
    hp = np.array([0.0, 0.2, 0.5])
    eta = np.array([-4.0, 0.5])
    got = madrs_scores(np.array([30.0, 30.0]), hp, np.zeros(3), eta, normal_placebo=True)
    want = np.minimum(30.0 * np.exp(-(1.0 + eta[:, None]) * hp), 60.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[0, 2] == 60.0  # a large worsening stops at the top of the scale
    with pytest.raises(InputError, match="overlap_q"):
        madrs_scores(30.0, hp, np.zeros(3), 0.1, 2.0, normal_placebo=True)
    with pytest.raises(InputError, match="placebo_eta_normal"):
        replace(P, placebo_eta_normal=0.5)


def test_khan_2008_point_takes_its_responders_at_week_7() -> None:
    pts = [p for p in calibration_points() if p.study == "Khan 2008"]
    (pt,) = [p for p in pts if p.regimen == "oral_placebo_continuation"]  # + the drug arm
    assert responders_from_h()[pt.regimen] == 7 * WEEK_H
    assert pt.time_h == 19 * WEEK_H and pt.quantity == "relapse_rate"
    p = replace(default_antidepressant_params(), expectancy_fade_per_h=1e-4, relapse_on_ratings=0.0)
    t = np.array([7.0, 19.0]) * WEEK_H
    parts = placebo_parts(t, [0.0], p)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    direct = relapse_probability(p.typical_baseline_madrs, hp, np.zeros(2), p, 0)[1]
    assert predict_points(p, (pt,))[0] == pytest.approx(direct, rel=1e-12)
    assert direct > 0.0


def test_parameter_files_without_the_new_fields_still_load() -> None:
    old = {
        k: v
        for k, v in asdict(default_antidepressant_params()).items()
        if k not in ("emax_ceiling_ratio", "expectancy_fade_per_h", "placebo_eta_normal")
    }
    p = AntidepressantParams(**old)
    assert p.expectancy_fade_per_h == 0.0 and p.emax_ceiling_ratio == 0.0
    assert p.placebo_eta_normal == 0.0
