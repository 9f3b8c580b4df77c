"""Propagators of many patients at once: ``Phi = exp(K h)`` and ``Gamma = int_0^h exp(K s) ds``.

Per distinct step length h both are computed for all patients at once by scaling and squaring a
Taylor series (``G = sum_j (K h)^j / (j + 1)!``, ``Phi = I + K h G``, ``Gamma = h G``; doubling:
``Gamma(2h) = (I + Phi) Gamma``, ``Phi(2h) = Phi^2``), which needs no inverse of K. A numpy
version (batched matrix products) and a compiled one (numba, patients innermost).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ketasim.types import FloatArray

__all__ = ["HAVE_NUMBA", "TAYLOR_ORDER", "compiled_propagators", "propagators"]

TAYLOR_ORDER = 14

try:  # pragma: no cover - depends on the environment
    import numba as _numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    _numba = None  # type: ignore[assignment]
    HAVE_NUMBA = False


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
    for j in range(TAYLOR_ORDER, 0, -1):
        G = eye + (A @ G) / (j + 1)
    phi = eye + A @ G
    gamma = G * hs
    for _ in range(s):
        gamma = gamma + phi @ gamma
        phi = phi @ phi
    return phi, gamma


def _propagators_loops(
    K: Any, h: float, phi: Any, gamma: Any, order: int
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


if HAVE_NUMBA:  # pragma: no cover - depends on the environment
    _propagators_compiled = _numba.njit(cache=True, nogil=True)(_propagators_loops)


def compiled_propagators(K: FloatArray, h: float) -> tuple[FloatArray, FloatArray]:
    """``(Phi, Gamma)`` of shape (n, n, P) (patients last) for a step of ``h`` minutes, from
    rate matrices ``K`` of shape (n, n, P) (compiled; needs numba)."""
    n, _, n_pat = K.shape
    phi = np.empty((n, n, n_pat))
    gamma = np.empty((n, n, n_pat))
    _propagators_compiled(K, float(h), phi, gamma, TAYLOR_ORDER)
    return phi, gamma
