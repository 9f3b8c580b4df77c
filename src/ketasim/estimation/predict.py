"""Fast exact predictions for estimation: modal superposition of boluses and infusions.

For a diagonalisable rate matrix ``K = V diag(lam) V^-1`` the response to a bolus ``b`` at
``s`` is ``V exp(lam (t - s)) V^-1 b`` and to a unit-rate input started at ``s`` it is
``V (exp(lam (t - s)) - 1) / lam V^-1 e`` (t >= s); an infusion is a start minus a stop. All
output times are evaluated at once (vectorised), which makes the many objective evaluations of
a MAP fit cheap. A defective or near-singular ``K`` (or inputs with resets) falls back to the
propagator solver :class:`ketasim.pk.ExactSolver`, which needs no eigen-decomposition.
"""

from __future__ import annotations

import numpy as np

from ketasim.pk.events import SystemInputs
from ketasim.pk.solve import ExactSolver
from ketasim.types import FloatArray

__all__ = ["predict_states"]


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
