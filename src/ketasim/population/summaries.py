"""Mergeable summaries of many patients: fixed log-spaced histograms and exact counts.

Bins come straight from the bits of an IEEE-754 double: the 11 exponent bits and the top
``MANTISSA_BITS`` (7) mantissa bits of a positive value form an integer *code* that increases with
the value. Each octave [2^e, 2^(e+1)) is split into 128 bins of equal width, so a bin's relative
width is between 0.39% and 0.78%. The bins are the same for every chunk, every process and every
machine (no data-dependent edges), which makes histograms mergeable by plain addition of counts.

A histogram has ``n_bins = code(ceiling) - code(floor) + 3`` cells: cell 0 holds values below
``floor`` (including exact zeros: before the first dose), cells 1..n-2 the coded bins, cell n-1
values at or above the top edge and non-finite values.

Quantiles are read from merged counts by log-linear interpolation inside the bin holding the
requested rank; a quantile falling in the underflow cell is reported as 0 (below ``floor``),
in the overflow cell as NaN. The reported quantile lies in the same bin as the exact sample
quantile, so it is within one bin's relative width (at most 0.78%, typically far less) of it,
even for a point mass (e.g. every patient at the same concentration right after a bolus): the
1% target of the issue holds by construction, and the tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.types import FloatArray

__all__ = [
    "DEFAULT_CEILING",
    "DEFAULT_FLOOR",
    "MANTISSA_BITS",
    "Accumulator",
    "ChunkSummary",
    "LogBins",
    "quantiles_from_counts",
    "sparse_counts",
]

MANTISSA_BITS = 7
_SHIFT = 52 - MANTISSA_BITS
DEFAULT_FLOOR = 1e-3
DEFAULT_CEILING = 1e9

IntArray = NDArray[np.int64]


def _code(value: float) -> int:
    return int(np.array([value], dtype=np.float64).view(np.int64)[0] >> _SHIFT)


def _value(code: IntArray) -> FloatArray:
    return (np.asarray(code, dtype=np.int64) << _SHIFT).view(np.float64)


@dataclass(frozen=True)
class LogBins:
    """A fixed binning of positive values from ``floor`` to ``ceiling`` (same unit as the data).

    ``offset`` is subtracted from a value's code so that the first coded bin is cell 1.
    """

    floor: float = DEFAULT_FLOOR
    ceiling: float = DEFAULT_CEILING

    def __post_init__(self) -> None:
        if not (0 < self.floor < self.ceiling < np.inf):
            raise ValueError(f"need 0 < floor < ceiling < inf; got {self.floor}, {self.ceiling}")

    @property
    def code_lo(self) -> int:
        """Code of the first coded bin (holds ``floor``)."""
        return _code(self.floor)

    @property
    def code_hi(self) -> int:
        """Code of the last coded bin (holds ``ceiling``)."""
        return _code(self.ceiling)

    @property
    def n_bins(self) -> int:
        """Cells including the underflow and overflow cells."""
        return self.code_hi - self.code_lo + 3

    @property
    def offset(self) -> int:
        """Subtract from a code to get its cell index."""
        return self.code_lo - 1

    def edges(self) -> FloatArray:
        """Lower edges of the coded bins and the upper edge of the last, shape (n_bins - 1,).

        Cell ``i`` (1 <= i <= n_bins - 2) covers ``[edges[i - 1], edges[i])``.
        """
        codes = np.arange(self.code_lo, self.code_hi + 2, dtype=np.int64)
        return _value(codes)

    def cells(self, values: FloatArray) -> IntArray:
        """Cell index of each value (vectorised; the same rule the compiled kernel uses)."""
        v = np.asarray(values, dtype=np.float64)
        codes = (
            v.view(np.int64) >> _SHIFT
            if v.flags.c_contiguous
            else (np.ascontiguousarray(v).view(np.int64) >> _SHIFT)
        )
        cells = codes - self.offset
        np.clip(cells, 0, self.n_bins - 1, out=cells)
        # negative numbers have the sign bit set (negative codes): underflow; NaN: overflow
        cells[np.isnan(v)] = self.n_bins - 1
        return cells

    def count(self, values: FloatArray) -> IntArray:
        """Histogram (counts per cell) of ``values``."""
        return np.bincount(self.cells(np.ravel(values)), minlength=self.n_bins).astype(np.int64)


def quantiles_from_counts(
    counts: NDArray[np.integer[Any]], probabilities: FloatArray, bins: LogBins
) -> FloatArray:
    """Quantiles of the distribution summarised by ``counts`` (last axis = cells).

    ``probabilities`` in [0, 1]. Returns shape ``counts.shape[:-1] + (len(probabilities),)``.
    The quantile of probability q is the value below which a fraction q of the patients lies,
    interpolated log-linearly inside its bin (0 below ``floor``; NaN above ``ceiling`` or when
    there are no counts).
    """
    counts = np.asarray(counts)
    probs = np.asarray(probabilities, dtype=np.float64)
    lead = counts.shape[:-1]
    flat_all = counts.reshape(-1, counts.shape[-1])
    out = np.full((flat_all.shape[0], probs.size), np.nan)
    edges = bins.edges()
    rows_per_block = 512  # bounded temporary memory whatever the number of rows
    for r0 in range(0, flat_all.shape[0], rows_per_block):
        block = flat_all[r0 : r0 + rows_per_block]
        out[r0 : r0 + block.shape[0]] = _quantile_rows(block, probs, edges)
    return out.reshape(*lead, probs.size)


def _quantile_rows(
    flat: NDArray[np.integer[Any]], probs: FloatArray, edges: FloatArray
) -> FloatArray:
    out = np.full((flat.shape[0], probs.size), np.nan)
    n_rows, n_cells = flat.shape
    rows = np.arange(n_rows)
    # cumulative counts in float64 (exact: integers far below 2^53), each row shifted by
    # row x (largest total + 1): one nondecreasing sequence, so the first cell of row r whose
    # cumulative count reaches a threshold is one binary search (not a scan of every cell)
    cum = np.cumsum(flat, axis=1, dtype=np.float64)
    total = cum[:, -1].copy()
    stride = float(total.max(initial=0.0) + 1.0)
    shift = rows * stride
    cum += shift[:, None]
    shifted = cum.reshape(-1)
    for j, q in enumerate(probs):
        rank = q * total
        # first cell whose cumulative count reaches the rank (strictly above 0 for rank 0)
        threshold = np.maximum(rank, 0.5)
        found = np.searchsorted(shifted, shift + threshold, side="left")
        cell = np.clip(found - rows * n_cells, 0, n_cells - 1)
        at = rows * n_cells + cell
        before = np.where(cell > 0, shifted[np.maximum(at - 1, 0)] - shift, 0.0)
        inside = flat[rows, cell]
        frac = np.clip((rank - before) / np.maximum(inside, 1), 0.0, 1.0)
        coded = (cell >= 1) & (cell <= n_cells - 2)
        lo = edges[np.clip(cell - 1, 0, edges.size - 1)]
        hi = edges[np.clip(cell, 0, edges.size - 1)]
        value = np.where(coded, lo * (hi / lo) ** frac, np.nan)
        value = np.where(cell == 0, 0.0, value)
        value = np.where(total > 0, value, np.nan)
        out[:, j] = value
    return out


@dataclass(frozen=True)
class ChunkSummary:
    """Everything one chunk of patients of one arm contributes; merged by :class:`Accumulator`.

    ``profile_index``/``profile_count``: the nonzero cells of the (T, n_out, n_cells) histogram
    of concentrations (ng/mL), as flat indices and counts (sparse, to keep transfers between
    processes small); or ``profile_dense``, the histogram itself (when the chunk stays in the
    process, e.g. the local thread backend).
    ``endpoint_counts``: (E, n_cells) histogram of each endpoint's per-patient values;
    ``endpoint_sum``/``endpoint_sumsq``/``endpoint_min``/``endpoint_max``: exact moments;
    ``exceed``: exact number of patients above each endpoint's threshold (0 for endpoints
    without one). ``individuals``: columns of the first patients' profiles, or ``None``.
    """

    arm_index: int
    chunk_index: int
    n_patients: int
    profile_shape: tuple[int, int, int]
    profile_index: IntArray
    profile_count: IntArray
    endpoint_counts: IntArray
    endpoint_sum: FloatArray
    endpoint_sumsq: FloatArray
    endpoint_min: FloatArray
    endpoint_max: FloatArray
    exceed: IntArray
    outside_validity: int
    individuals: dict[str, NDArray[np.generic]] | None = None
    parameters: dict[str, NDArray[np.generic]] | None = None
    profile_dense: NDArray[np.integer[Any]] | None = None
    antidepressant_minors: int = 0
    """Patients under 18 in an arm with antidepressant endpoints (an adult model)."""


class Accumulator:
    """Merged summary of one arm (mutable while merging; merge chunks in chunk order)."""

    def __init__(
        self, shape: tuple[int, int, int], n_endpoints: int, n_endpoint_cells: int
    ) -> None:
        self.n_patients = 0
        # int32 counts: a cell never holds more than the arm's patients (spec: n <= 10^9)
        self.profile = np.zeros(shape, dtype=np.int32)
        self.endpoint_counts = np.zeros((n_endpoints, n_endpoint_cells), dtype=np.int64)
        self.endpoint_sum = np.zeros(n_endpoints)
        self.endpoint_sumsq = np.zeros(n_endpoints)
        self.endpoint_min = np.full(n_endpoints, np.inf)
        self.endpoint_max = np.full(n_endpoints, -np.inf)
        self.exceed = np.zeros(n_endpoints, dtype=np.int64)
        self.outside_validity = 0
        self.antidepressant_minors = 0
        self.individuals: list[dict[str, NDArray[np.generic]]] = []
        self.parameters: list[dict[str, NDArray[np.generic]]] = []

    def add(self, chunk: ChunkSummary) -> None:
        """Merge one chunk's summary (integer counts add exactly; sums in call order)."""
        if chunk.profile_shape != self.profile.shape:
            raise ValueError("chunk summary shape differs from the accumulator's")
        if chunk.profile_dense is not None:
            self.profile += chunk.profile_dense
        else:
            flat = self.profile.reshape(-1)
            flat[chunk.profile_index] += chunk.profile_count
        self.n_patients += chunk.n_patients
        self.endpoint_counts += chunk.endpoint_counts
        self.endpoint_sum += chunk.endpoint_sum
        self.endpoint_sumsq += chunk.endpoint_sumsq
        np.minimum(self.endpoint_min, chunk.endpoint_min, out=self.endpoint_min)
        np.maximum(self.endpoint_max, chunk.endpoint_max, out=self.endpoint_max)
        self.exceed += chunk.exceed
        self.outside_validity += chunk.outside_validity
        self.antidepressant_minors += chunk.antidepressant_minors
        if chunk.individuals is not None:
            self.individuals.append(chunk.individuals)
        if chunk.parameters is not None:
            self.parameters.append(chunk.parameters)


def sparse_counts(dense: NDArray[np.integer[Any]]) -> tuple[IntArray, IntArray]:
    """Flat indices and values of the nonzero cells of ``dense``."""
    flat = dense.reshape(-1)
    index = np.flatnonzero(flat).astype(np.int64)
    return index, flat[index].astype(np.int64)
