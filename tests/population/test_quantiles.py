"""Quantiles from merged histograms against exact quantiles.

Model: one compartment, IV bolus D, CL log-normal (omega^2 = 0.09), V fixed, so
C(t) = D/V exp(-CL t / V) is a decreasing function of CL and its p-quantile is exactly
D/V exp(-CL_typ exp(omega z_(1-p)) t / V), with z the standard normal quantile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import norm

from ketasim.population import parse_trial_spec, run_trial
from ketasim.population.summaries import LogBins, quantiles_from_counts

from .conftest import CL_L_PER_MIN, OMEGA_SQ, V_L, base_spec

DOSE_MG = 100.0
PERCENTILES = [5.0, 25.0, 50.0, 75.0, 95.0]


def _closed_form(times_min: np.ndarray, p: float) -> np.ndarray:
    cl = CL_L_PER_MIN * np.exp(np.sqrt(OMEGA_SQ) * norm.ppf(1.0 - p))
    return DOSE_MG / V_L * np.exp(-cl * times_min / V_L) * 1000.0  # ng/mL


def test_histogram_quantiles_within_one_percent_of_exact_sample_and_closed_form(
    onecomp_path: Path,
) -> None:
    n = 20_000
    spec = parse_trial_spec(
        base_spec(
            str(onecomp_path),
            n=n,
            chunk_size=6_000,
            outputs={"until": "5h", "every": "30min", "percentiles": PERCENTILES},
        )
    )
    result = run_trial(spec, individuals=n, scheduler="local:2")
    assert result.individuals is not None
    prof = result.individuals
    times = np.sort(prof["time_min"].unique())
    conc = prof["ketamine_plasma_ng_per_ml"].to_numpy().reshape(n, times.size)
    summary = result.summary
    assert (summary["n"] == n).all()
    for p in PERCENTILES:
        got = summary[f"p{p:g}"].to_numpy()
        exact_sample = np.quantile(conc, p / 100.0, axis=0)
        # the target: merged-histogram quantiles within 1% of the exact ones
        np.testing.assert_allclose(got, exact_sample, rtol=0.01)
        # and the simulated population reproduces the closed form, within 4 standard errors
        # of a sample quantile of log C (sd of log C = omega k t) plus the 1% of the bins
        q = p / 100.0
        sd_log_c = np.sqrt(OMEGA_SQ) * CL_L_PER_MIN / V_L * times
        se = np.sqrt(q * (1 - q)) / (norm.pdf(norm.ppf(q)) * np.sqrt(n)) * sd_log_c
        err = np.abs(np.log(got / _closed_form(times, q)))
        assert np.all(err <= 4 * se + 0.01), (p, err, se)


def test_quantiles_from_counts_against_numpy_on_lognormal_sample() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(mean=2.0, sigma=1.5, size=200_000)
    bins = LogBins(1e-3, 1e6)
    counts = bins.count(values)
    probs = np.array([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    got = quantiles_from_counts(counts, probs, bins)
    np.testing.assert_allclose(got, np.quantile(values, probs), rtol=0.01)


def test_bins_bracket_their_values_and_merge_by_addition() -> None:
    rng = np.random.default_rng(4)
    bins = LogBins(1e-3, 1e6)
    values = np.exp(rng.uniform(np.log(1e-3), np.log(1e6), 10_000))
    cells = bins.cells(values)
    edges = bins.edges()
    assert np.all(edges[cells - 1] <= values)
    assert np.all(values < edges[cells])
    widths = edges[1:] / edges[:-1] - 1.0
    assert widths.max() <= 1 / 128 + 1e-12
    assert bins.cells(np.array([0.0, -1.0, 1e-9]))[0] == 0
    assert bins.cells(np.array([np.nan, 1e7])).tolist() == [bins.n_bins - 1] * 2
    a, b = values[:3000], values[3000:]
    np.testing.assert_array_equal(bins.count(a) + bins.count(b), bins.count(values))


def test_below_floor_reads_as_zero() -> None:
    bins = LogBins(1e-3, 1e6)
    counts = bins.count(np.array([0.0] * 60 + [1.0] * 40))
    q = quantiles_from_counts(counts, np.array([0.5, 0.9]), bins)
    assert q[0] == 0.0
    assert abs(q[1] - 1.0) < 0.008


def test_quantiles_of_many_rows_at_once_equal_each_row_alone() -> None:
    """Rows are searched together (one sorted sequence for the whole block): a row's quantiles
    must not depend on its neighbours, whatever they hold (nothing, only values below the floor,
    only overflow, a point mass), and stay in the bin of the exact sample quantile."""
    rng = np.random.default_rng(11)
    bins = LogBins(1e-3, 1e6)
    probs = np.array([0.0, 0.05, 0.5, 0.95, 1.0])
    samples: list[np.ndarray] = []
    for r in range(40):
        kind = r % 5
        if kind == 0:
            v = np.zeros(0)  # empty row
        elif kind == 1:
            v = np.zeros(int(rng.integers(1, 50)))  # below the floor only (before a dose)
        elif kind == 2:
            v = np.full(int(rng.integers(1, 50)), 1e7)  # overflow only
        elif kind == 3:
            v = np.full(int(rng.integers(1, 50)), rng.lognormal(2.0, 1.0))  # point mass
        else:
            v = rng.lognormal(rng.normal(0.0, 3.0), 0.5, int(rng.integers(100, 3000)))
        samples.append(v)
    counts = np.stack([bins.count(v) for v in samples]).astype(np.int32)
    together = quantiles_from_counts(counts, probs, bins)
    edges = bins.edges()
    for r, v in enumerate(samples):
        alone = quantiles_from_counts(counts[r : r + 1], probs, bins)[0]
        np.testing.assert_array_equal(together[r], alone)
        kind = r % 5
        if kind == 0:
            assert np.isnan(alone).all()
        elif kind == 1:
            np.testing.assert_array_equal(alone, 0.0)
        elif kind == 2:
            assert np.isnan(alone).all()
        else:
            for j, q in enumerate(probs):
                exact = np.quantile(v, q, method="inverted_cdf")
                cell = np.searchsorted(edges, exact, side="right")  # bin [edges[c-1], edges[c])
                # inside the closed bin (log-linear interpolation: rounding at its edges)
                lo, hi = edges[cell - 1] * (1 - 1e-12), edges[cell] * (1 + 1e-12)
                assert lo <= alone[j] <= hi, (r, q, alone[j], exact)
