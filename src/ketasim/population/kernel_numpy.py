"""The numpy fallback of the batched kernel (used when numba is not installed, or forced).

Same semantics as the compiled kernel of :mod:`ketasim.population.kernel`: propagate every patient
of a group over the program's breakpoints with ``x <- Phi x + drive`` (patients last), bin the
outputs (ng/mL) into the histogram rows of the recorded times, update the endpoint accumulators
and keep the first patients' profiles. Vectorised over patients, one breakpoint at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.population.programs import (
    ENDPOINT_AUC,
    ENDPOINT_MAX,
    EndpointPlan,
    Program,
)
from ketasim.population.summaries import LogBins
from ketasim.types import FloatArray

__all__ = ["kernel_numpy"]


def kernel_numpy(
    phi: FloatArray,
    drive: FloatArray,
    bolus: FloatArray,
    C: FloatArray,
    program: Program,
    grid: FloatArray,
    bins: LogBins,
    ep: EndpointPlan,
    hist: NDArray[np.integer[Any]],
    acc: FloatArray,
    prof: FloatArray,
    n_prof: int,
) -> None:
    n = phi.shape[1]
    P = phi.shape[3]
    n_out = C.shape[0]
    x = np.zeros((n, P))
    yprev = np.zeros((n_out, P))
    n_cells = bins.n_bins
    cell_offsets = (np.arange(n_out) * n_cells)[:, None]
    n_b = program.times.size
    for b in range(n_b):
        bi = int(program.bolus_index[b])
        if bi >= 0:
            x += bolus[bi]
        j = int(program.record[b])
        if j >= 0:
            y = np.einsum("okp,kp->op", C, x)
            cells = bins.cells(y) + cell_offsets
            hist[j] += np.bincount(cells.ravel(), minlength=n_out * n_cells).reshape(n_out, n_cells)
            if n_prof > 0:
                prof[:n_prof, j, :] = y[:, :n_prof].T
            for e in range(ep.size):
                if j < ep.start[e] or j > ep.stop[e]:
                    continue
                o = int(ep.output[e])
                kind = int(ep.kind[e])
                if kind == ENDPOINT_MAX:
                    np.maximum(acc[e], y[o], out=acc[e])
                elif j > ep.start[e]:
                    dt = float(grid[j] - grid[j - 1])
                    if kind == ENDPOINT_AUC:
                        acc[e] += 0.5 * (y[o] + yprev[o]) * dt
                    else:
                        a = yprev[o] - ep.threshold[e]
                        c = y[o] - ep.threshold[e]
                        both = (a > 0) & (c > 0)
                        one = ((a > 0) | (c > 0)) & ~both
                        part = np.where(
                            one, dt * np.maximum(a, c) / np.where(one, np.abs(c - a), 1.0), 0.0
                        )
                        acc[e] += np.where(both, dt, part)
            yprev = y
        if b < n_b - 1:
            h = int(program.step_h[b])
            d = int(program.step_rate[b])
            xn = np.einsum("ikp,kp->ip", phi[h], x)
            if d >= 0:
                xn += drive[d]
            x = xn
