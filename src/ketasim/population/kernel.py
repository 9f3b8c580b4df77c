"""Batched exact propagation of many patients over a time grid, summarised on the fly.

For P patients with rate matrices K_p and piecewise-constant inputs, the state obeys exactly
``x(t + h) = Phi_p(h) x(t) + Gamma_p(h) u_p`` (propagators: :mod:`ketasim.population.propagators`;
step programs: :mod:`ketasim.population.programs`).

The propagation runs time-major over blocks of patients (so a block's states stay in cache and
each histogram row is touched by a whole block at once). At each output time the concentrations
(ng/mL) are binned into a fixed log histogram (:mod:`ketasim.population.summaries`) and the
per-patient endpoint accumulators are updated; the N x T matrix is never formed.

Two implementations with the same semantics: a compiled one (numba, used when numba is
importable; it releases the GIL so threads use every core: this module, with its launch and
the block-by-block store of patients) and a numpy one (the fallback,
:mod:`ketasim.population.kernel_numpy`). The compiled one steps up to
:data:`ketasim.population.steps.MAX_STATES` states with the written-out updates of
:mod:`ketasim.population.kernel_steps` (states held in registers), more with a generic loop.
``run_compiled(..., single=True)`` runs it in float32 (:mod:`ketasim.population.precision`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ketasim.population.batch import BatchSystem
from ketasim.population.kernel_numpy import kernel_numpy
from ketasim.population.kernel_steps import BLOCK, BLOCK_SINGLE, jit, step_block
from ketasim.population.precision import bin_code
from ketasim.population.programs import (
    ENDPOINT_AUC,
    ENDPOINT_MAX,
    ENDPOINT_TIME_ABOVE,
    EndpointPlan,
    Program,
    build_programs,
)
from ketasim.population.propagators import (
    HAVE_NUMBA,
    compiled_propagators,
    propagators,
)
from ketasim.population.summaries import LogBins
from ketasim.types import FloatArray

__all__ = [
    "ENDPOINT_AUC",
    "ENDPOINT_MAX",
    "ENDPOINT_TIME_ABOVE",
    "HAVE_NUMBA",
    "EndpointPlan",
    "Program",
    "build_programs",
    "kernel_numpy",
    "propagators",
    "run_group",
]

_BLOCK = BLOCK  # patients per block (kernel_steps)
_BLOCK_SINGLE = BLOCK_SINGLE
_TILE = 128  # breakpoints per time tile (the tile's histogram rows stay in L2)


def _kernel_loops(
    phi: Any,
    drive: Any,
    bolus: Any,
    C: Any,
    bolus_index: Any,
    record: Any,
    step_h: Any,
    step_drive: Any,
    grid: Any,
    shift: int,
    offset: int,
    n_cells: int,
    ep_out: Any,
    ep_kind: Any,
    ep_start: Any,
    ep_stop: Any,
    ep_thr: Any,
    hist: Any,
    acc: Any,
    prof: Any,
    n_prof: int,
    n_pat: int,
    c_nz: Any,
    c_count: Any,
    tile: int,
    Y: Any,
    Yi: Any,
    cells: Any,
) -> None:  # pragma: no cover - compiled
    """Time-major propagation over blocks of patients stored block by block.

    Layouts (``B`` patients per block, ``NB`` blocks, the last one possibly partial): phi
    (NB, H, n, n, B), drive (NB, D, n, B), bolus (NB, n_bolus, n, B), C (NB, n_out, n, B), acc
    (NB, n_e, B); ``n_pat`` patients in all. Time is cut into tiles of ``tile`` breakpoints;
    within a tile every block of patients is propagated in turn, so the histogram rows of a
    tile stay in cache while all the group's patients are counted into them (the states are
    kept between tiles). A block's data is contiguous (a view, no copy), and every inner loop
    runs over the block's patients with unit stride (and vectorises). ``c_nz[o, :c_count[o]]``
    are the states an output reads (output rows are sparse: a plasma concentration reads one
    compartment). ``Y`` (n_out, B): the outputs, of the propagation's precision; ``Yi`` the
    same memory as integers of its width (their top bits are the bin code); ``cells`` (n_out, B)
    int64 work space.
    """
    NB = phi.shape[0]
    n = phi.shape[2]
    block = phi.shape[4]
    n_out = C.shape[1]
    n_b = bolus_index.shape[0]
    n_e = ep_out.shape[0]
    Xn = np.zeros((n, block), dtype=phi.dtype)
    # states and last outputs of every block between time tiles
    xs = np.zeros((NB, n, block), dtype=phi.dtype)
    ys = np.zeros((NB, n_out, block), dtype=phi.dtype)
    for b0 in range(0, n_b, tile):
        b1 = min(n_b, b0 + tile)
        for blk in range(NB):
            s0 = blk * block
            m = min(block, n_pat - s0)
            ph = phi[blk]
            dr = drive[blk]
            bo = bolus[blk]
            cb = C[blk]
            ac = acc[blk]
            X = xs[blk]
            Yp = ys[blk]
            for b in range(b0, b1):
                bi = bolus_index[b]
                if bi >= 0:
                    for i in range(n):
                        for p in range(m):
                            X[i, p] += bo[bi, i, p]
                j = record[b]
                if j >= 0:
                    for o in range(n_out):
                        for p in range(m):
                            Y[o, p] = 0.0
                        for q in range(c_count[o]):
                            k = c_nz[o, q]
                            for p in range(m):
                                Y[o, p] += cb[o, k, p] * X[k, p]
                        for p in range(m):
                            c = (Yi[o, p] >> shift) - offset
                            c = max(c, 0)
                            cells[o, p] = min(c, n_cells - 1)
                        hj = hist[j, o]
                        for p in range(m):
                            hj[cells[o, p]] += 1
                        if s0 < n_prof:
                            for p in range(min(m, n_prof - s0)):
                                prof[s0 + p, j, o] = Y[o, p]
                    for e in range(n_e):
                        if j < ep_start[e] or j > ep_stop[e]:
                            continue
                        o = ep_out[e]
                        kind = ep_kind[e]
                        if kind == 0:
                            for p in range(m):
                                # fmax, not max: an unconditional (blended) store vectorises,
                                # max's conditional store is a slow masked store (same values:
                                # both keep the accumulator when the output is NaN)
                                ac[e, p] = np.fmax(ac[e, p], Y[o, p])
                        elif j > ep_start[e]:
                            dt = grid[j] - grid[j - 1]
                            if kind == 1:
                                for p in range(m):
                                    ac[e, p] += 0.5 * (Y[o, p] + Yp[o, p]) * dt
                            else:
                                thr = ep_thr[e]
                                for p in range(m):
                                    # fraction of the interval above thr, crossings interpolated
                                    # linearly: hi / (hi - lo) clipped to [0, 1] (branch-free)
                                    lo = min(Yp[o, p], Y[o, p]) - thr
                                    hi = max(Yp[o, p], Y[o, p]) - thr
                                    frac = hi / max(hi - lo, 1e-300)
                                    ac[e, p] += dt * min(max(frac, 0.0), 1.0)
                    if n_e > 0:
                        for o in range(n_out):
                            for p in range(m):
                                Yp[o, p] = Y[o, p]
                if b < n_b - 1:
                    h = step_h[b]
                    d = step_drive[b]
                    step_block(X, Xn, ph, h, dr, d, m)


if HAVE_NUMBA:  # pragma: no cover - depends on the environment
    _kernel_blocked = jit(_kernel_loops)


def _blocked(a: FloatArray, block: int) -> FloatArray:
    """``a`` of shape (..., P) as (NB, ..., block): patients cut into blocks of ``block``, each
    block contiguous (the last one zero-padded)."""
    P = a.shape[-1]
    nb = max(1, -(-P // block))
    out = np.zeros((nb, *a.shape[:-1], block), dtype=a.dtype)
    full = P // block
    if full:
        out[:full] = np.moveaxis(a[..., : full * block].reshape(*a.shape[:-1], full, block), -2, 0)
    if full * block < P:
        out[full, ..., : P - full * block] = a[..., full * block :]
    return out


def run_compiled(
    phi: FloatArray,
    drive: FloatArray,
    bolus: FloatArray,
    C: FloatArray,
    bolus_index: NDArray[np.int64],
    record: NDArray[np.int64],
    step_h: NDArray[np.int64],
    step_drive: NDArray[np.int64],
    grid: FloatArray,
    bins: LogBins,
    endpoints: EndpointPlan,
    hist: NDArray[np.integer[Any]],
    acc: FloatArray,
    prof: FloatArray,
    *,
    single: bool = False,
) -> None:
    """The compiled kernel on patient-last arrays (phi (H, n, n, P), drive/bolus (., n, P),
    C (n_out, n, P), acc (n_e, P)): cuts them into contiguous blocks of ``block`` patients,
    runs :func:`_kernel_loops` and writes the endpoint accumulators back into ``acc``.

    ``single``: propagate and bin in float32 (propagators, inputs and output rows rounded to
    float32; endpoint accumulators, profiles and histogram counts as before). Concentrations
    then carry a relative error of at most ``FLOAT32_BOUND`` (:mod:`ketasim.population.precision`)
    and a value that close to a bin edge can be counted in the neighbouring bin.
    """
    P = phi.shape[3]
    block = _BLOCK_SINGLE if single else _BLOCK
    dtype = np.float32 if single else np.float64
    acc_b = _blocked(acc, block)
    c_nz, c_count = output_states(C)
    Y = np.zeros((C.shape[0], block), dtype=dtype)
    shift, offset = bin_code(bins, single)
    _kernel_blocked(
        _blocked(phi.astype(dtype, copy=False), block),
        _blocked(drive.astype(dtype, copy=False), block),
        _blocked(bolus.astype(dtype, copy=False), block),
        _blocked(C.astype(dtype, copy=False), block),
        bolus_index,
        record,
        step_h,
        step_drive,
        np.asarray(grid, dtype=np.float64),
        shift,
        offset,
        bins.n_bins,
        endpoints.output,
        endpoints.kind,
        endpoints.start,
        endpoints.stop,
        endpoints.threshold,
        hist,
        acc_b,
        prof,
        min(prof.shape[0], P),
        P,
        c_nz,
        c_count,
        _TILE,
        Y,
        Y.view(np.int32 if single else np.int64),
        np.zeros(Y.shape, dtype=np.int64),
    )
    if acc.size:
        acc[:] = np.moveaxis(acc_b, 0, -2).reshape(acc.shape[0], -1)[:, :P]


def output_states(C: FloatArray) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The states each output reads: ``(indices, counts)`` from ``C`` of shape (n_out, n, P)."""
    nonzero = np.any(C != 0.0, axis=2)  # (n_out, n)
    c_count = nonzero.sum(axis=1).astype(np.int64)
    c_nz = np.zeros((C.shape[0], max(1, int(c_count.max(initial=0)))), dtype=np.int64)
    for o in range(C.shape[0]):
        idx = np.flatnonzero(nonzero[o])
        c_nz[o, : idx.size] = idx
    return c_nz, c_count


def run_group(
    system: BatchSystem,
    program: Program,
    grid: FloatArray,
    bins: LogBins,
    endpoints: EndpointPlan,
    hist: NDArray[np.integer[Any]],
    acc: FloatArray,
    prof: FloatArray,
    *,
    compiled: bool | None = None,
    single: bool = False,
) -> None:
    """Propagate one group of patients and add its results in place.

    ``hist``: (T, n_out, n_cells) counts (int32 or int64) to add to; ``acc``: (E, P_group)
    endpoint accumulators (start at 0); ``prof``: (K, T, n_out) profiles (ng/mL) of the group's
    first K patients.
    ``compiled``: force (True) or forbid (False) the numba kernel; default: numba if available.
    ``single``: the compiled kernel in float32 (:func:`run_compiled`; the numpy one ignores it).
    """
    use_numba = use_compiled(compiled)
    arrays = plain_arrays(system, program, use_numba=use_numba)
    run_arrays(
        arrays, program, grid, bins, endpoints, hist, acc, prof, use_numba=use_numba, single=single
    )


class KernelArrays(NamedTuple):
    """What the kernel runs on: ``phi`` (H, n, n, P) propagators, ``drive`` (D, n, P) input
    terms, ``bolus`` (n_bolus, n, P), ``C`` (n_out, n, P) output rows, and the program's steps
    indexed by ``step_h`` into ``phi`` (step lengths ``h_values``, min) and by ``step_drive``
    into ``drive`` (-1: no input)."""

    phi: FloatArray
    drive: FloatArray
    bolus: FloatArray
    C: FloatArray
    step_h: NDArray[np.int64]
    step_drive: NDArray[np.int64]
    h_values: FloatArray


def drive_table(
    step_h: Any, step_rate: Any
) -> tuple[dict[tuple[int, int], int], NDArray[np.int64]]:
    """One drive entry per (step entry, input) pair the program uses: the pairs in entry order
    and each step's entry (-1: no input)."""
    pairs: dict[tuple[int, int], int] = {}
    step_drive = np.full(step_h.size, -1, dtype=np.int64)
    for b in range(step_h.size):
        r = int(step_rate[b])
        if r >= 0:
            step_drive[b] = pairs.setdefault((int(step_h[b]), r), len(pairs))
    return pairs, step_drive


def plain_arrays(system: BatchSystem, program: Program, *, use_numba: bool) -> KernelArrays:
    """The kernel's arrays for a group on one system (``use_numba``: the propagators from the
    compiled routine, same values, in its layout)."""
    K = system.K[program.patients]
    n_pat, n, _ = K.shape
    H = program.h_values.size
    phi = np.empty((H, n, n, n_pat))
    gammas: list[FloatArray] = []
    Kt = np.ascontiguousarray(np.transpose(K, (1, 2, 0))) if use_numba else K
    for hi, h in enumerate(program.h_values):
        if use_numba:
            ph, ga = compiled_propagators(Kt, float(h))
            phi[hi] = ph
            gammas.append(np.transpose(ga, (2, 0, 1)))
        else:
            ph, ga = propagators(K, float(h))
            phi[hi] = np.transpose(ph, (1, 2, 0))
            gammas.append(ga)
    pairs, step_drive = drive_table(program.step_h, program.step_rate)
    drive = np.empty((len(pairs), n, n_pat))
    for (hi, r), di in pairs.items():
        drive[di] = np.einsum("pik,pk->ip", gammas[hi], program.rates[r])
    bolus = np.ascontiguousarray(np.transpose(program.bolus, (0, 2, 1)))
    C = np.ascontiguousarray(np.transpose(system.C[program.patients], (1, 2, 0)))
    return KernelArrays(phi, drive, bolus, C, program.step_h, step_drive, program.h_values)


def use_compiled(compiled: bool | None) -> bool:
    """Whether to run the numba kernel: ``compiled`` forces (True) or forbids (False) it;
    default: numba if available."""
    use_numba = HAVE_NUMBA if compiled is None else compiled
    if use_numba and not HAVE_NUMBA:
        raise RuntimeError("numba is not installed")
    return use_numba


def run_arrays(
    arrays: KernelArrays,
    program: Program,
    grid: FloatArray,
    bins: LogBins,
    endpoints: EndpointPlan,
    hist: NDArray[np.integer[Any]],
    acc: FloatArray,
    prof: FloatArray,
    *,
    use_numba: bool,
    single: bool = False,
) -> None:
    """Run the kernel (compiled or numpy) on prepared ``arrays`` for ``program``'s patients,
    its bolus and record indices taken from ``program``."""
    a = arrays
    if use_numba:
        run_compiled(
            a.phi,
            a.drive,
            a.bolus,
            a.C,
            program.bolus_index,
            program.record,
            a.step_h,
            a.step_drive,
            grid,
            bins,
            endpoints,
            hist,
            acc,
            prof,
            single=single,
        )
        return
    prog = Program(
        program.patients,
        program.times,
        program.bolus,
        program.bolus_index,
        program.record,
        a.h_values,
        a.step_h,
        program.rates,
        a.step_drive,
    )
    n_prof = min(prof.shape[0], program.patients.size)
    kernel_numpy(a.phi, a.drive, a.bolus, a.C, prog, grid, bins, endpoints, hist, acc, prof, n_prof)
