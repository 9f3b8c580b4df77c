"""The histogram the compiled trial kernel makes of given values (for the kernel's bin tests)."""

from __future__ import annotations

import numpy as np

from ketasim.population.kernel import EndpointPlan, run_compiled
from ketasim.population.summaries import LogBins

__all__ = ["kernel_counts"]


def kernel_counts(values: np.ndarray, bins: LogBins, *, single: bool = False) -> np.ndarray:
    """Histogram the compiled kernel (float32 with ``single``) makes of ``values``: one state
    per patient, set by a bolus of ``values`` at the only breakpoint, read with C = 1 and
    recorded there."""
    P = values.size
    hist = np.zeros((1, 1, bins.n_bins), dtype=np.int32)
    run_compiled(
        np.ones((1, 1, 1, P)),  # phi (unused: one breakpoint, no step)
        np.zeros((0, 1, P)),  # no drive
        values.reshape(1, 1, P).astype(np.float64),  # bolus 0
        np.ones((1, 1, P)),  # C
        np.array([0], dtype=np.int64),  # bolus at breakpoint 0
        np.array([0], dtype=np.int64),  # record grid index 0 there
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.array([0.0]),
        bins,
        EndpointPlan.empty(),
        hist,
        np.zeros((0, P)),
        np.zeros((0, 1, 1)),
        single=single,
    )
    return hist[0, 0].astype(np.int64)
