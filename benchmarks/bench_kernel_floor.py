"""Benchmark: the floor of the trial kernel's design, in parts (issue 9, the 3 s / 4 s targets).

A stripped-down kernel of the same design as :mod:`ketasim.population.kernel` (blocks of 128
patients, states stored block by block, time tiles so the histogram rows of a tile stay in
cache, a dense 4 x 4 exact step, two outputs binned by the top bits of their IEEE value) run
on ONE thread over N patients x 1440 steps, adding one part at a time:

- ``step``: the state step alone;
- ``codes``: + the two outputs and their bin codes (what is left once nothing is counted);
- ``hist``: + the two histogram increments per patient-step (the design of the kernel);
- ``window``: the increments replaced by an exact *windowed* count: a value whose code falls
  within a window of bins counts into the window's histogram, the others only into "below" or
  "above" counters (the quantile inside the window is then the same as from the full
  histogram); the share of values inside the window is printed.

Figures are ns per patient-step (one thread) and what they come to for 10^6 patients x 1440
steps on two perfectly scaling cores. The propagators are random near-identity matrices, not a
model's: this measures the cost of the design's parts, not a model.

Run::

    python benchmarks/bench_kernel_floor.py [--n 500000] [--precision float32,float64]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numba as nb
import numpy as np

BLOCK = 128
TILE = 64
STEPS = 1440


@nb.njit(nogil=True, cache=False)
def _run(
    X: Any,
    ph: Any,
    mode: int,
    hist: Any,
    lo: Any,
    width: int,
    shift: int,
    base: int,
    n_cells: int,
    Y: Any,
    Yi: Any,
    cells: Any,
    below: Any,
) -> None:  # pragma: no cover
    nblk = X.shape[0]
    for t0 in range(0, STEPS, TILE):
        for b in range(nblk):
            x = X[b]
            p = ph[b]
            for t in range(t0, min(STEPS, t0 + TILE)):
                for i in range(BLOCK):
                    x0 = x[0, i]
                    x1 = x[1, i]
                    x2 = x[2, i]
                    x3 = x[3, i]
                    x[0, i] = p[0, i] * x0 + p[1, i] * x1 + p[2, i] * x2 + p[3, i] * x3
                    x[1, i] = p[4, i] * x0 + p[5, i] * x1 + p[6, i] * x2 + p[7, i] * x3
                    x[2, i] = p[8, i] * x0 + p[9, i] * x1 + p[10, i] * x2 + p[11, i] * x3
                    x[3, i] = p[12, i] * x0 + p[13, i] * x1 + p[14, i] * x2 + p[15, i] * x3
                if mode == 0:
                    continue
                for o in range(2):
                    for i in range(BLOCK):
                        Y[o, i] = x[3 * o, i] * 0.7
                    for i in range(BLOCK):
                        c = (Yi[o, i] >> shift) - base
                        c = max(c, 0)
                        cells[o, i] = min(c, n_cells - 1)
                    if mode == 2:
                        h = hist[t, o]
                        for i in range(BLOCK):
                            h[cells[o, i]] += 1
                    elif mode == 3:
                        w0 = lo[t, o]
                        h = hist[t, o]
                        n_below = 0
                        for i in range(BLOCK):
                            n_below += cells[o, i] < w0
                        below[t, o] += n_below
                        for i in range(BLOCK):
                            k = cells[o, i] - w0
                            if 0 <= k < width:
                                h[k] += 1


def _case(n: int, dtype: Any, width: int) -> None:
    rng = np.random.default_rng(0)
    nblk = max(1, n // BLOCK)
    X = (rng.random((nblk, 4, BLOCK)) + 0.5).astype(dtype)
    ph = np.zeros((nblk, 16, BLOCK), dtype)
    for k, v in (
        (0, 0.99),
        (5, 0.995),
        (10, 0.999),
        (15, 0.98),
        (1, 0.001),
        (4, 0.002),
        (12, 0.01),
    ):
        ph[:, k, :] = v * (1 + 0.01 * rng.standard_normal((nblk, BLOCK)))
    bits = 64 if dtype == np.float64 else 32
    mant = 52 if bits == 64 else 23
    itype = np.int64 if bits == 64 else np.int32
    shift = mant - 7  # 128 bins per octave, as the kernel
    base = int(np.array([1e-3], dtype).view(itype)[0] >> shift)
    n_cells = int(np.array([1e6], dtype).view(itype)[0] >> shift) - base + 3
    Y = np.zeros((2, BLOCK), dtype)
    Yi = Y.view(itype)
    cells = np.zeros((2, BLOCK), np.int64)
    below = np.zeros((STEPS, 2), np.int64)
    # the window: +-width/2 bins around each row's median code in a pilot of one block
    pilot = np.zeros((STEPS, 2, n_cells), np.int32)
    lo0 = np.zeros((STEPS, 2), np.int64)
    _run(X[:1].copy(), ph[:1], 2, pilot, lo0, 1, shift, base, n_cells, Y, Yi, cells, below)
    cdf = np.cumsum(pilot, axis=2)
    med = np.argmax(cdf >= cdf[:, :, -1:] / 2, axis=2)
    lo = np.maximum(med - width // 2, 0).astype(np.int64)
    _run(X[:1].copy(), ph[:1], 1, pilot, lo, width, shift, base, n_cells, Y, Yi, cells, below)
    results = {}
    for mode, name in ((0, "step"), (1, "codes"), (2, "hist"), (3, "window")):
        hist = np.zeros((STEPS, 2, n_cells if mode != 3 else width), np.int32)
        below[:] = 0
        Xm = X.copy()
        t = time.perf_counter()
        _run(Xm, ph, mode, hist, lo, width, shift, base, n_cells, Y, Yi, cells, below)
        dt = time.perf_counter() - t
        ns = dt / (nblk * BLOCK * STEPS) * 1e9
        results[name] = ns
        extra = ""
        if mode == 3:
            inside = hist.sum() / (nblk * BLOCK * STEPS * 2)
            extra = f", {inside:.0%} of values inside the {width}-bin window"
        print(
            f"{np.dtype(dtype).name:8s} {name:7s} {ns:5.2f} ns/patient-step; 10^6 x 1440 on two "
            f"cores: {ns * 0.72:5.2f} s{extra} (load {os.getloadavg()[0]:.1f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=500_000)
    ap.add_argument("--precision", default="float32,float64")
    ap.add_argument("--window", type=int, default=64, help="bins in the window (mode window)")
    args = ap.parse_args()
    for p in args.precision.split(","):
        _case(args.n, np.float32 if p == "float32" else np.float64, args.window)


if __name__ == "__main__":
    main()
