"""The compiled kernel bins a concentration exactly as the bin edges say (cell ``i`` holds
``[edges[i-1], edges[i])``, 0 below the floor and for negatives, the last cell at or above the
top edge and for NaN/inf): checked count for count on 10^6 random values and, value for value,
on every edge, the double just below it and the double just above it."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_support import kernel_counts

from ketasim.population.summaries import LogBins

BINS = LogBins(1e-3, 1e6)


def _kernel_counts(values: np.ndarray) -> np.ndarray:
    return kernel_counts(values, BINS)


def _reference_cells(values: np.ndarray) -> np.ndarray:
    """From the edges alone (no bit tricks): how many edges are <= the value."""
    edges = BINS.edges()
    v = 0.0 + values  # what the kernel's state holds (0 + bolus: -0.0 becomes +0.0)
    cells = np.searchsorted(edges, v, side="right")
    cells = np.where(v < edges[0], 0, np.minimum(cells, BINS.n_bins - 1))
    return np.where(np.isnan(v), BINS.n_bins - 1, cells)


def _reference_counts(values: np.ndarray) -> np.ndarray:
    return np.bincount(_reference_cells(values), minlength=BINS.n_bins)


def test_random_values_across_and_beyond_the_range() -> None:
    rng = np.random.default_rng(20261205)
    values = np.exp(rng.uniform(np.log(1e-9), np.log(1e9), 1_000_000))
    special = np.array(
        [0.0, -0.0, -1.0, -1e-300, np.nan, np.inf, -np.inf, 5e-324, 2.2e-308, 1e-3, 1e6,
         np.nextafter(1e-3, 0), np.nextafter(1e6, 2e6), np.finfo(float).max]
    )  # fmt: skip
    values[: special.size] = special
    assert np.array_equal(_kernel_counts(values), _reference_counts(values))


@pytest.mark.parametrize("where", ["at", "below", "above"])
def test_every_edge_and_its_neighbours_value_for_value(where: str) -> None:
    edges = BINS.edges()
    values = {
        "at": edges,
        "below": np.nextafter(edges, 0.0),
        "above": np.nextafter(edges, np.inf),
    }[where]
    ref = _reference_counts(values)
    # the values fall into distinct cells (at most one per coded cell), so equal counts mean
    # every single value got its own cell right
    assert ref[1:-1].max() == 1
    assert np.array_equal(_kernel_counts(values), ref)


def test_reference_agrees_with_the_documented_cells() -> None:
    values = np.array([0.0, 5e-4, 1e-3, 1.0, 999_999.0, 1e6, 2e6, np.nan, -2.0])
    assert np.array_equal(_reference_cells(values), BINS.cells(values))
