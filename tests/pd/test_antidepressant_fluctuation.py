"""Within-patient fluctuation (Ornstein-Uhlenbeck) against its closed form, and SUSTAIN-1's
published definitions (relapse, stable remission) on hand-built trajectories."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketasim.errors import InputError
from ketasim.pd.antidepressant import default_antidepressant_params
from ketasim.pd.antidepressant_fluctuation import ou_covariance, ou_paths
from ketasim.pd.calibration.antidepressant_sustain import (
    simulate_sustain,
    stable_remission,
    sustain_relapse,
)

WEEK_H = 168.0


def test_ou_paths_match_the_closed_form_covariance() -> None:
    t = np.array([0.0, 24.0, 168.0, 500.0, 2000.0, 2168.0])
    sd, tau = 0.3, 400.0
    x = ou_paths(40_000, t, sd, tau, np.random.default_rng(1))
    assert np.all(x[:, 0] == 0.0)  # started at 0 at the first session
    cov = np.cov(x, rowvar=False)
    exact = ou_covariance(t, sd, tau)
    # sampling SE of a covariance ~ sd^2 sqrt(2 / n) = 0.0006; 5 SE tolerance
    np.testing.assert_allclose(cov, exact, atol=5 * sd**2 * math.sqrt(2 / 40_000))
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=5 * sd / math.sqrt(40_000))
    # far from the start: stationary variance, correlation exp(-dt/tau) one week apart
    assert exact[4, 4] == pytest.approx(sd**2 * (1 - math.exp(-2 * 2000 / tau)))
    r = np.corrcoef(x[:, 4], x[:, 5])[0, 1]
    assert r == pytest.approx(math.exp(-168.0 / tau), abs=0.01)


def test_ou_paths_are_exact_for_uneven_spacing() -> None:
    # the same process sampled on a coarse and on a fine grid has the same law at shared times
    coarse = np.array([0.0, 336.0, 1000.0])
    fine = np.linspace(0.0, 1000.0, 61)
    fine = np.union1d(fine, coarse)
    xc = ou_paths(30_000, coarse, 0.2, 168.0, np.random.default_rng(2))
    xf = ou_paths(30_000, fine, 0.2, 168.0, np.random.default_rng(3))
    shared = np.searchsorted(fine, coarse)
    np.testing.assert_allclose(
        np.cov(xc, rowvar=False), np.cov(xf[:, shared], rowvar=False), atol=0.002
    )


def test_ou_input_errors_name_the_field() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="fluctuation_sd_log"):
        ou_paths(2, np.array([0.0, 1.0]), -0.1, 10.0, rng)
    with pytest.raises(InputError, match="fluctuation_tau_h"):
        ou_paths(2, np.array([0.0, 1.0]), 0.1, 0.0, rng)
    with pytest.raises(InputError, match="times_h"):
        ou_paths(2, np.array([5.0, 1.0]), 0.1, 10.0, rng)
    assert np.all(ou_paths(3, np.array([0.0, 9.0]), 0.0, 10.0, rng) == 0.0)


def test_sustain_relapse_is_two_consecutive_ratings_of_22_or_more_5_to_15_days_apart() -> None:
    weekly = np.arange(6) * WEEK_H
    ratings = np.array(
        [
            [20, 23, 24, 10, 10, 10],  # relapse at the second high visit (index 2)
            [23, 10, 23, 10, 23, 10],  # never two in a row
            [21.9, 22, 22, 30, 30, 30],  # 22 counts (>= 22): index 2
            [10, 10, 10, 10, 10, 10],
        ]
    )
    np.testing.assert_array_equal(sustain_relapse(ratings, weekly), [2, -1, 2, -1])
    # the gap between the two assessments must be 5-15 days
    two = np.array([[25.0, 25.0]])
    for days, expect in ((4.0, -1), (5.0, 1), (14.0, 1), (15.0, 1), (16.0, -1), (21.0, -1)):
        assert sustain_relapse(two, np.array([0.0, 24.0 * days]))[0] == expect, days


def test_stable_remission_allows_one_excursion_only_at_week_13_or_14() -> None:
    last4 = np.array(
        [
            [13, 12, 12, 12],
            [12, 13, 12, 12],
            [13, 13, 12, 12],
            [12, 12, 13, 12],
            [12, 12, 12, 13],
            [5, 5, 5, 5],
        ]
    )
    np.testing.assert_array_equal(stable_remission(last4), [1, 1, 0, 0, 0, 1])


def test_sustain_placebo_relapse_grows_with_the_fluctuation() -> None:
    p = default_antidepressant_params()
    relapse = [
        simulate_sustain(p, n=800, follow_weeks=24, fluctuation_sd_log=sd).responders
        for sd in (0.0, 0.3)
    ]
    assert relapse[1].relapse_placebo[-1] > relapse[0].relapse_placebo[-1]
    # esketamine continued protects in both
    for arm in relapse:
        assert arm.relapse_esketamine[-1] < arm.relapse_placebo[-1]
