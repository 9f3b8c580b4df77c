"""Fast exact predictions for estimation: modal superposition of boluses and infusions.

For a diagonalisable rate matrix ``K = V diag(lam) V^-1`` the response to a bolus ``b`` at
``s`` is ``V exp(lam (t - s)) V^-1 b`` and to a unit-rate input started at ``s`` it is
``V (exp(lam (t - s)) - 1) / lam V^-1 e`` (t >= s); an infusion is a start minus a stop. All
output times are evaluated at once (vectorised), which makes the many objective evaluations of
a MAP fit cheap. A defective or near-singular ``K`` (or inputs with resets) falls back to the
propagator solver :class:`ketasim.pk.ExactSolver`, which needs no eigen-decomposition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ketasim.pk.events import Bolus, SystemInputs
from ketasim.pk.piecewise import Segment, solve_piecewise, window
from ketasim.pk.solve import ExactSolver
from ketasim.types import FloatArray

__all__ = ["predict_piecewise", "predict_states"]


def predict_states(K: FloatArray, inputs: SystemInputs, times_min: FloatArray) -> FloatArray:
    """States (amounts mg, effect-site mg/L) at ``times_min`` (any order), shape (m, n).

    Concentrations at the exact time of a bolus include it (right-continuous), as in
    :meth:`ketasim.pk.ExactSolver.solve`.
    """
    times = np.asarray(times_min, dtype=float)
    n = K.shape[0]
    lam, V = np.linalg.eig(K)
    ok = not inputs.resets and np.all(np.abs(lam) > 1e-12) and np.linalg.cond(V) < 1e8
    if not ok:
        return _fallback(K, inputs, times)
    Vinv = np.linalg.inv(V)
    z = np.zeros((times.size, n), dtype=complex)
    for b in inputs.boluses:
        dt = times - b.time_min
        on = dt >= 0
        if np.any(on):
            z[on] += np.exp(np.outer(dt[on], lam)) * (Vinv[:, b.state] * b.amount_mg)
    for inf in inputs.infusions:
        coef = Vinv[:, inf.state] * inf.rate_mg_per_min / lam
        for start, sign in ((inf.start_min, 1.0), (inf.end_min, -1.0)):
            dt = times - start
            on = dt > 0
            if np.any(on):
                z[on] += sign * np.expm1(np.outer(dt[on], lam)) * coef
    return np.asarray((z @ V.T).real, dtype=float)


def _fallback(K: FloatArray, inputs: SystemInputs, times: FloatArray) -> FloatArray:
    order = np.argsort(times, kind="stable")
    out = np.empty((times.size, K.shape[0]))
    out[order] = ExactSolver(K).solve(inputs, times[order])
    return out


def predict_piecewise(
    segments: Sequence[Segment], inputs: SystemInputs, times_min: FloatArray
) -> FloatArray:
    """Outputs at ``times_min`` (ascending) of a system that changes at the segments' starts,
    shape (m, n_outputs): :func:`ketasim.pk.piecewise.solve_piecewise` by modal superposition.

    Each segment starts from the state carried from the one before, entered as boluses at its
    start (the response of a linear system to its initial state); with resets, the propagator
    solver is used.
    """
    times = np.asarray(times_min, dtype=np.float64)
    if inputs.resets:
        return solve_piecewise(segments, inputs, times)
    out = np.empty((times.size, segments[0].C.shape[0]))
    x = np.zeros(segments[0].K.shape[0])
    for j, seg in enumerate(segments):
        lo = seg.start_min if j else -np.inf
        hi = segments[j + 1].start_min if j + 1 < len(segments) else np.inf
        part = window(inputs, lo, hi)
        carried = tuple(Bolus(lo, int(i), float(x[i])) for i in np.flatnonzero(x)) if j else ()
        sel = (times >= lo) & (times < hi)
        grid = np.append(times[sel], hi) if np.isfinite(hi) else times[sel]
        if grid.size == 0:
            continue
        states = predict_states(seg.K, SystemInputs(carried + part.boluses, part.infusions), grid)
        if np.isfinite(hi):
            x = states[-1]
            states = states[:-1]
        out[sel] = states @ seg.C.T
    return out
