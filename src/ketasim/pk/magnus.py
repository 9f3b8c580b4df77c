"""Short intervals of ``dx/dt = (K0 + s K1) x + u`` (``s`` the time after the first dose, ``u``
constant) by a fourth-order Magnus step with step-doubling error control.

For a matrix affine in time, ``A(s) = A0 + s A1``, the first two Magnus terms over ``[a, b]``
(``h = b - a``, midpoint ``m``) are ``h A(m)`` and ``-(h^3 / 12) [A(m), A1]``; the next ones are
``O(h^5)`` and vanish with ``A1``. The constant input rides along as an extra state that stays
constant (``[[A, u / lam], [0, 0]]``, that state ``lam``), so one matrix exponential advances
the state. Each step is accepted only when it agrees with two half steps to
``rtol * |x_i| + atol`` in every state ``i`` (else both halves are refined, at most
``MAX_DEPTH`` times, after which the caller's ODE solver takes the interval).

Used by :func:`ketasim.pk.time_varying.solve_time_varying` for intervals of at most
``MAX_STEP_MIN`` (a TCI plan's thousands of pump intervals), where one call of the implicit
ODE solver costs far more than three 7 x 7 matrix exponentials.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from ketasim.types import FloatArray

__all__ = ["MAX_DEPTH", "MAX_STEP_MIN", "MagnusCheckError", "magnus_advance"]

MAX_STEP_MIN = 1.0
MAX_DEPTH = 8


class MagnusCheckError(ArithmeticError):
    """The step-doubling check did not pass within ``MAX_DEPTH`` halvings."""


def _step(
    K0: FloatArray, K1: FloatArray, u: FloatArray, x: FloatArray, sa: float, sb: float
) -> FloatArray:
    """One Magnus step over ``[sa, sb]`` (times after the first dose, min; 0 before it)."""
    n = x.size
    h = sb - sa
    sm = 0.5 * (sa + sb)
    M = np.zeros((n + 1, n + 1))
    M[:n, :n] = K0 + max(sm, 0.0) * K1
    # the extra state holds ``lam`` (not 1), so its column is ``u / lam``: a large input column
    # would make the exponential's scaling and squaring slow, not more accurate
    lam = max(1.0, float(np.max(np.abs(u))))
    M[:n, n] = u / lam
    M1 = np.zeros((n + 1, n + 1))
    if sm > 0.0:  # before the first dose K is constant (the time after it is 0)
        M1[:n, :n] = K1
    omega = h * M - (h**3 / 12.0) * (M @ M1 - M1 @ M)
    E = expm(omega)
    return np.asarray(E[:n, :n] @ x + lam * E[:n, n], dtype=np.float64)


def magnus_advance(
    K0: FloatArray,
    K1: FloatArray,
    u: FloatArray,
    x: FloatArray,
    sa: float,
    sb: float,
    *,
    rtol: float,
    atol: float,
    depth: int = 0,
) -> FloatArray:
    """The state at ``sb`` from ``x`` at ``sa`` (times after the first dose, min), ``u`` the
    constant input (mg/min). Raises :class:`MagnusCheckError` when the check keeps failing."""
    if sb <= sa:
        return x.copy()
    if sa < 0.0 < sb:  # the first dose inside: K changes its law there
        mid = magnus_advance(K0, K1, u, x, sa, 0.0, rtol=rtol, atol=atol, depth=depth)
        return magnus_advance(K0, K1, u, mid, 0.0, sb, rtol=rtol, atol=atol, depth=depth)
    sm = 0.5 * (sa + sb)
    full = _step(K0, K1, u, x, sa, sb)
    half = _step(K0, K1, u, _step(K0, K1, u, x, sa, sm), sm, sb)
    # per state, as the ODE solver's own error test (a small state keeps its relative accuracy)
    scale = np.maximum(np.abs(half), np.abs(x))
    if np.all(np.abs(full - half) <= rtol * scale + atol):
        return half
    if depth >= MAX_DEPTH:
        raise MagnusCheckError(f"Magnus step over [{sa}, {sb}] min did not pass its check")
    left = magnus_advance(K0, K1, u, x, sa, sm, rtol=rtol, atol=atol, depth=depth + 1)
    return magnus_advance(K0, K1, u, left, sm, sb, rtol=rtol, atol=atol, depth=depth + 1)
