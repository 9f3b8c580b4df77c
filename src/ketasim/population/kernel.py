"""Batched exact propagation of many patients over a time grid, summarised on the fly.

For P patients with rate matrices K_p and piecewise-constant inputs, the state obeys exactly
``x(t + h) = Phi_p(h) x(t) + Gamma_p(h) u_p`` with ``Phi = exp(K h)`` and
``Gamma = int_0^h exp(K s) ds``. Per distinct step length h both are computed for all patients
at once by scaling and squaring a Taylor series (``G = sum_j (K h)^j / (j + 1)!``,
``Phi = I + K h G``, ``Gamma = h G``; doubling: ``Gamma(2h) = (I + Phi) Gamma``,
``Phi(2h) = Phi^2``), which needs no inverse of K.

Patients of a chunk share a *program*: the sorted breakpoints (output times and dose event times),
for each breakpoint the bolus to add and the output index to record, and for each step its
length and its constant input. Patients whose event times differ (e.g. an individual lag time)
are split into groups that each get their own program.

The propagation runs time-major over blocks of patients (so a block's states stay in cache and
each histogram row is touched by a whole block at once). At each output time the concentrations
(ng/mL) are binned into a fixed log histogram (:mod:`ketasim.population.summaries`) and the
per-patient endpoint accumulators are updated; the N x T matrix is never formed.

Two implementations with the same semantics: a compiled one (numba, used when numba is
importable; it releases the GIL so threads use every core) and a numpy one (fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.population.batch import BatchInputs, BatchSystem
from ketasim.population.summaries import _SHIFT, LogBins
from ketasim.types import FloatArray

__all__ = [
    "ENDPOINT_AUC",
    "ENDPOINT_MAX",
    "ENDPOINT_TIME_ABOVE",
    "HAVE_NUMBA",
    "EndpointPlan",
    "Program",
    "build_programs",
    "propagators",
    "run_group",
]

IntArray = NDArray[np.int64]

ENDPOINT_MAX = 0
ENDPOINT_AUC = 1
ENDPOINT_TIME_ABOVE = 2
_TAYLOR_ORDER = 14
_BLOCK = 256  # patients per block (its propagators stay in L1/L2)
_TILE = 128  # breakpoints per time tile (the tile's histogram rows stay in L2)

try:  # pragma: no cover - depends on the environment
    import numba as _numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    _numba = None  # type: ignore[assignment]
    HAVE_NUMBA = False


@dataclass(frozen=True)
class EndpointPlan:
    """Per-patient endpoint accumulators, compiled to arrays for the kernel.

    For endpoint e: ``output[e]`` (output index), ``kind[e]`` (ENDPOINT_*), grid indices
    ``start[e]..stop[e]`` inclusive, ``threshold[e]`` (ng/mL; time above only).
    Results: max (ng/mL), trapezoidal AUC (ng/mL x min), time above threshold (min, with linear
    interpolation of crossings between output times).
    """

    output: IntArray
    kind: IntArray
    start: IntArray
    stop: IntArray
    threshold: FloatArray

    @property
    def size(self) -> int:
        """Number of endpoints."""
        return int(self.output.size)

    @classmethod
    def empty(cls) -> EndpointPlan:
        """No endpoints."""
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, np.zeros(0))


@dataclass(frozen=True)
class Program:
    """The step program shared by a group of patients (see module docstring).

    ``times``: breakpoints (min); ``bolus``: (NB, P, n) amounts; ``bolus_index`` (B,): row of
    ``bolus`` added at each breakpoint or -1; ``record`` (B,): output-grid index or -1;
    ``step_h`` (B - 1,): index into ``h_values``; ``step_rate`` (B - 1,): index into ``rates``
    ((NR, P, n), mg/min) or -1 for no input.
    """

    patients: IntArray
    times: FloatArray
    bolus: FloatArray
    bolus_index: IntArray
    record: IntArray
    h_values: FloatArray
    step_h: IntArray
    rates: FloatArray
    step_rate: IntArray


def build_programs(inputs: BatchInputs, grid_min: FloatArray, n_states: int) -> list[Program]:
    """Group patients by their event times and build one program per group."""
    grid = np.asarray(grid_min, dtype=np.float64)
    sig = inputs.time_signatures()
    n_pat = inputs.events[0].start_min.size if inputs.events else 0
    if sig.size == 0:
        groups = [np.arange(n_pat)]
    else:
        _, inverse = np.unique(sig, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.flatnonzero(np.diff(inverse[order])) + 1
        groups = np.split(order, bounds)
    return [_program(inputs, grid, g, n_states) for g in groups]


def _program(inputs: BatchInputs, grid: FloatArray, patients: IntArray, n_states: int
             ) -> Program:
    first = int(patients[0])
    starts = [float(e.start_min[first]) for e in inputs.events]
    ends = [float(e.end_min[first]) for e in inputs.events]
    t_end = float(grid[-1])
    t0 = min([float(grid[0]), *starts])
    event_times = {t for t in (*starts, *ends) if t <= t_end}
    times = np.array(sorted({t0, *grid.tolist(), *event_times}), dtype=np.float64)
    n_b = times.size
    record = np.full(n_b, -1, dtype=np.int64)
    record[np.searchsorted(times, grid)] = np.arange(grid.size)
    n_g = patients.size
    bolus_rows: list[FloatArray] = []
    bolus_index = np.full(n_b, -1, dtype=np.int64)
    for b, t in enumerate(times):
        row = np.zeros((n_g, n_states))
        hit = False
        for e, (s, f) in enumerate(zip(starts, ends, strict=True)):
            if s == f == t:
                row[:, inputs.events[e].state] += inputs.events[e].amount_mg[patients]
                hit = True
        if hit:
            bolus_index[b] = len(bolus_rows)
            bolus_rows.append(row)
    rate_keys: dict[tuple[int, ...], int] = {}
    rate_rows: list[FloatArray] = []
    h_keys: dict[float, int] = {}
    h_values: list[float] = []
    step_h = np.zeros(max(n_b - 1, 0), dtype=np.int64)
    step_rate = np.full(max(n_b - 1, 0), -1, dtype=np.int64)
    for b in range(n_b - 1):
        a = float(times[b])
        h = float(times[b + 1]) - a
        key = round(h, 9)
        if key not in h_keys:
            h_keys[key] = len(h_values)
            h_values.append(h)
        step_h[b] = h_keys[key]
        active = tuple(e for e, (s, f) in enumerate(zip(starts, ends, strict=True))
                       if s <= a < f)
        if active:
            if active not in rate_keys:
                row = np.zeros((n_g, n_states))
                for e in active:
                    ev = inputs.events[e]
                    row[:, ev.state] += ev.amount_mg[patients] / (ends[e] - starts[e])
                rate_keys[active] = len(rate_rows)
                rate_rows.append(row)
            step_rate[b] = rate_keys[active]
    bolus = np.stack(bolus_rows) if bolus_rows else np.zeros((0, n_g, n_states))
    rates = np.stack(rate_rows) if rate_rows else np.zeros((0, n_g, n_states))
    return Program(patients, times, bolus, bolus_index, record,
                   np.array(h_values, dtype=np.float64), step_h, rates, step_rate)


def _scalings(K: FloatArray, h: float) -> int:
    norm = float(np.max(np.sum(np.abs(K), axis=-2))) * h if K.size else 0.0
    return max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0


def propagators(K: FloatArray, h: float) -> tuple[FloatArray, FloatArray]:
    """``(Phi, Gamma)`` of shape (P, n, n) for a step of ``h`` minutes (numpy, batched)."""
    n = K.shape[-1]
    s = _scalings(K, h)
    hs = h / 2.0**s
    A = K * hs
    eye = np.eye(n)
    G = np.broadcast_to(eye, K.shape).copy()
    for j in range(_TAYLOR_ORDER, 0, -1):
        G = eye + (A @ G) / (j + 1)
    phi = eye + A @ G
    gamma = G * hs
    for _ in range(s):
        gamma = gamma + phi @ gamma
        phi = phi @ phi
    return phi, gamma


def _propagators_loops(K: Any, h: float, phi: Any, gamma: Any, order: int
                       ) -> None:  # pragma: no cover - compiled
    """Taylor + scaling and squaring, patients innermost (layouts (n, n, P)); one scaling for
    all patients of a block (the largest needed)."""
    n = K.shape[0]
    P = K.shape[2]
    block = 256
    A = np.empty((n, n, block))
    G = np.empty((n, n, block))
    T = np.empty((n, n, block))
    F = np.empty((n, n, block))
    for s0 in range(0, P, block):
        m = min(block, P - s0)
        norm = 0.0
        for p in range(m):
            for k in range(n):
                col = 0.0
                for i in range(n):
                    col += abs(K[i, k, s0 + p])
                norm = max(norm, col)
        norm *= h
        s = 0
        while norm > 0.5:
            norm *= 0.5
            s += 1
        hs = h / 2.0**s
        for i in range(n):
            for k in range(n):
                for p in range(m):
                    A[i, k, p] = K[i, k, s0 + p] * hs
                    G[i, k, p] = 1.0 if i == k else 0.0
        for j in range(order, 0, -1):
            for i in range(n):
                for k in range(n):
                    for p in range(m):
                        T[i, k, p] = 0.0
                    for q in range(n):
                        for p in range(m):
                            T[i, k, p] += A[i, q, p] * G[q, k, p]
            for i in range(n):
                for k in range(n):
                    diag = 1.0 if i == k else 0.0
                    for p in range(m):
                        G[i, k, p] = T[i, k, p] / (j + 1) + diag
        for i in range(n):
            for k in range(n):
                diag = 1.0 if i == k else 0.0
                for p in range(m):
                    F[i, k, p] = diag
                for q in range(n):
                    for p in range(m):
                        F[i, k, p] += A[i, q, p] * G[q, k, p]
        for i in range(n):
            for k in range(n):
                for p in range(m):
                    G[i, k, p] *= hs
        for _ in range(s):
            # Gamma <- Gamma + Phi Gamma; Phi <- Phi Phi
            for i in range(n):
                for k in range(n):
                    for p in range(m):
                        T[i, k, p] = G[i, k, p]
                    for q in range(n):
                        for p in range(m):
                            T[i, k, p] += F[i, q, p] * G[q, k, p]
            for i in range(n):
                for k in range(n):
                    for p in range(m):
                        G[i, k, p] = T[i, k, p]
            for i in range(n):
                for k in range(n):
                    for p in range(m):
                        T[i, k, p] = 0.0
                    for q in range(n):
                        for p in range(m):
                            T[i, k, p] += F[i, q, p] * F[q, k, p]
            for i in range(n):
                for k in range(n):
                    for p in range(m):
                        F[i, k, p] = T[i, k, p]
        for i in range(n):
            for k in range(n):
                for p in range(m):
                    phi[i, k, s0 + p] = F[i, k, p]
                    gamma[i, k, s0 + p] = G[i, k, p]


def _kernel_loops(phi: Any, drive: Any, bolus: Any, C: Any, bolus_index: Any, record: Any,
                  step_h: Any, step_drive: Any, grid: Any, shift: int, offset: int,
                  n_cells: int, ep_out: Any, ep_kind: Any, ep_start: Any, ep_stop: Any, ep_thr: Any,
                  hist: Any, acc: Any, prof: Any, n_prof: int, block: int, c_nz: Any,
                  c_count: Any, tile: int) -> None:  # pragma: no cover - compiled
    """Time-major propagation (layouts: phi (H, n, n, P), drive/bolus (., n, P), C (n_out, n, P)).

    Time is cut into tiles of ``tile`` breakpoints; within a tile every block of patients is
    propagated in turn, so the histogram rows of a tile stay in cache while all the chunk's
    patients are counted into them (the states are kept between tiles). Each block of patients
    is copied to contiguous arrays so that every inner loop runs over patients with unit stride
    (and vectorises). ``c_nz[o, :c_count[o]]`` are the states an
    output reads (output rows are sparse: a plasma concentration reads one compartment).
    """
    n = phi.shape[1]
    P = phi.shape[3]
    n_out = C.shape[0]
    n_b = bolus_index.shape[0]
    n_e = ep_out.shape[0]
    x = np.zeros((n, block))
    xn = np.zeros((n, block))
    y = np.zeros((n_out, block))
    yprev = np.zeros((n_out, block))
    yi = y.view(np.int64)
    xs = np.zeros((n, P))  # states and last outputs of every patient between time tiles
    ys = np.zeros((n_out, P))
    for b0 in range(0, n_b, tile):
        b1 = min(n_b, b0 + tile)
        for s0 in range(0, P, block):
            m = min(block, P - s0)
            ph = np.ascontiguousarray(phi[:, :, :, s0:s0 + m])
            dr = np.ascontiguousarray(drive[:, :, s0:s0 + m])
            bo = np.ascontiguousarray(bolus[:, :, s0:s0 + m])
            cb = np.ascontiguousarray(C[:, :, s0:s0 + m])
            ac = np.ascontiguousarray(acc[:, s0:s0 + m])
            for i in range(n):
                for p in range(m):
                    x[i, p] = xs[i, s0 + p]
            for o in range(n_out):
                for p in range(m):
                    yprev[o, p] = ys[o, s0 + p]
            for b in range(b0, b1):
                bi = bolus_index[b]
                if bi >= 0:
                    for i in range(n):
                        for p in range(m):
                            x[i, p] += bo[bi, i, p]
                j = record[b]
                if j >= 0:
                    for o in range(n_out):
                        for p in range(m):
                            y[o, p] = 0.0
                        for q in range(c_count[o]):
                            k = c_nz[o, q]
                            for p in range(m):
                                y[o, p] += cb[o, k, p] * x[k, p]
                        hj = hist[j, o]
                        for p in range(m):
                            cell = (yi[o, p] >> shift) - offset
                            if cell < 0:
                                cell = 0
                            elif cell > n_cells - 1:
                                cell = n_cells - 1
                            hj[cell] += 1
                        if s0 < n_prof:
                            for p in range(m):
                                if s0 + p < n_prof:
                                    prof[s0 + p, j, o] = y[o, p]
                    for e in range(n_e):
                        if j < ep_start[e] or j > ep_stop[e]:
                            continue
                        o = ep_out[e]
                        kind = ep_kind[e]
                        if kind == 0:
                            for p in range(m):
                                ac[e, p] = max(ac[e, p], y[o, p])
                        elif j > ep_start[e]:
                            dt = grid[j] - grid[j - 1]
                            if kind == 1:
                                for p in range(m):
                                    ac[e, p] += 0.5 * (y[o, p] + yprev[o, p]) * dt
                            else:
                                thr = ep_thr[e]
                                for p in range(m):
                                    # fraction of the interval above thr, crossings interpolated
                                    # linearly: hi / (hi - lo) clipped to [0, 1] (branch-free)
                                    lo = min(yprev[o, p], y[o, p]) - thr
                                    hi = max(yprev[o, p], y[o, p]) - thr
                                    frac = hi / max(hi - lo, 1e-300)
                                    ac[e, p] += dt * min(max(frac, 0.0), 1.0)
                    if n_e > 0:
                        for o in range(n_out):
                            for p in range(m):
                                yprev[o, p] = y[o, p]
                if b < n_b - 1:
                    h = step_h[b]
                    d = step_drive[b]
                    for i in range(n):
                        if d >= 0:
                            for p in range(m):
                                xn[i, p] = dr[d, i, p]
                        else:
                            for p in range(m):
                                xn[i, p] = 0.0
                        for k in range(n):
                            for p in range(m):
                                xn[i, p] += ph[h, i, k, p] * x[k, p]
                    x, xn = xn, x
            for i in range(n):
                for p in range(m):
                    xs[i, s0 + p] = x[i, p]
            for o in range(n_out):
                for p in range(m):
                    ys[o, s0 + p] = yprev[o, p]
            for e in range(n_e):
                for p in range(m):
                    acc[e, s0 + p] = ac[e, p]


if HAVE_NUMBA:  # pragma: no cover - depends on the environment
    _propagators_compiled = _numba.njit(cache=True, nogil=True)(_propagators_loops)
    # fastmath without the no-NaN/no-inf assumptions (NaN concentrations must still be binned)
    _kernel_compiled = _numba.njit(cache=True, nogil=True,
                                   fastmath={"nsz", "arcp", "contract", "reassoc"}
                                   )(_kernel_loops)


def _kernel_numpy(phi: FloatArray, drive: FloatArray, bolus: FloatArray, C: FloatArray,
                  program: Program, grid: FloatArray, bins: LogBins, ep: EndpointPlan,
                  hist: NDArray[np.integer[Any]], acc: FloatArray, prof: FloatArray,
                  n_prof: int) -> None:
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
            hist[j] += np.bincount(cells.ravel(), minlength=n_out * n_cells).reshape(
                n_out, n_cells)
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
                        part = np.where(one, dt * np.maximum(a, c) / np.where(one, np.abs(c - a),
                                                                               1.0), 0.0)
                        acc[e] += np.where(both, dt, part)
            yprev = y
        if b < n_b - 1:
            h = int(program.step_h[b])
            d = int(program.step_rate[b])
            xn = np.einsum("ikp,kp->ip", phi[h], x)
            if d >= 0:
                xn += drive[d]
            x = xn


def run_group(system: BatchSystem, program: Program, grid: FloatArray, bins: LogBins,
              endpoints: EndpointPlan, hist: NDArray[np.integer[Any]], acc: FloatArray,
              prof: FloatArray, *, compiled: bool | None = None) -> None:
    """Propagate one group of patients and add its results in place.

    ``hist``: (T, n_out, n_cells) counts (int32 or int64) to add to; ``acc``: (E, P_group)
    endpoint accumulators (start at 0); ``prof``: (K, T, n_out) profiles (ng/mL) of the group's
    first K patients.
    ``compiled``: force (True) or forbid (False) the numba kernel; default: numba if available.
    """
    use_numba = HAVE_NUMBA if compiled is None else compiled
    if use_numba and not HAVE_NUMBA:
        raise RuntimeError("numba is not installed")
    K = system.K[program.patients]
    n_pat, n, _ = K.shape
    H = program.h_values.size
    phi = np.empty((H, n, n, n_pat))
    gammas: list[FloatArray] = []
    Kt = np.ascontiguousarray(np.transpose(K, (1, 2, 0))) if use_numba else K
    for hi, h in enumerate(program.h_values):
        if use_numba:
            ph = np.empty((n, n, n_pat))
            ga = np.empty((n, n, n_pat))
            _propagators_compiled(Kt, float(h), ph, ga, _TAYLOR_ORDER)
            phi[hi] = ph
            gammas.append(np.transpose(ga, (2, 0, 1)))
        else:
            ph, ga = propagators(K, float(h))
            phi[hi] = np.transpose(ph, (1, 2, 0))
            gammas.append(ga)
    # drive table: one entry per (step length, input) pair used by the program
    pairs: dict[tuple[int, int], int] = {}
    step_drive = np.full(program.step_h.size, -1, dtype=np.int64)
    for b in range(program.step_h.size):
        r = int(program.step_rate[b])
        if r < 0:
            continue
        key = (int(program.step_h[b]), r)
        if key not in pairs:
            pairs[key] = len(pairs)
        step_drive[b] = pairs[key]
    drive = np.empty((len(pairs), n, n_pat))
    for (hi, r), di in pairs.items():
        drive[di] = np.einsum("pik,pk->ip", gammas[hi], program.rates[r])
    bolus = np.ascontiguousarray(np.transpose(program.bolus, (0, 2, 1)))
    C = np.ascontiguousarray(np.transpose(system.C[program.patients], (1, 2, 0)))
    n_prof = min(prof.shape[0], n_pat)
    nonzero = np.any(C != 0.0, axis=2)  # (n_out, n): the states each output reads
    c_count = nonzero.sum(axis=1).astype(np.int64)
    c_nz = np.zeros((C.shape[0], max(1, int(c_count.max(initial=0)))), dtype=np.int64)
    for o in range(C.shape[0]):
        idx = np.flatnonzero(nonzero[o])
        c_nz[o, :idx.size] = idx
    if use_numba:
        _kernel_compiled(phi, drive, bolus, C, program.bolus_index, program.record,
                         program.step_h, step_drive, np.asarray(grid, dtype=np.float64),
                         _SHIFT, bins.offset, bins.n_bins, endpoints.output, endpoints.kind,
                         endpoints.start, endpoints.stop, endpoints.threshold, hist, acc, prof,
                         n_prof, _BLOCK, c_nz, c_count, _TILE)
        return
    prog = Program(program.patients, program.times, program.bolus, program.bolus_index,
                   program.record, program.h_values, program.step_h, program.rates, step_drive)
    _kernel_numpy(phi, drive, bolus, C, prog, grid, bins, endpoints, hist, acc, prof, n_prof)

