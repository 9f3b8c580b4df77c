"""Exact propagation of dx/dt = K x + u for piecewise-constant input u.

Over a step h with constant u, x(t + h) = Phi(h) x(t) + Gamma(h) u with Phi = exp(K h) and
Gamma = int_0^h exp(K s) ds. Both come from one matrix exponential of the augmented matrix
[[K h, I h], [0, 0]] (no inverse of K needed, so singular or defective K are fine), and are
cached per step length. A uniform output grid inside a constant-input segment is filled in
blocks: powers Phi^j and Gamma_j (j < m) are formed once, block starts are propagated by
Phi^m, and every point of a block is one batched matrix product; both power tables are built by
doubling.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from ketasim.errors import InputError
from ketasim.pk.events import SystemInputs
from ketasim.types import FloatArray

__all__ = ["ExactSolver"]

_BLOCK = 64

class ExactSolver:
    """Exact solver for one rate matrix ``K`` (1/min); caches propagators by step length."""

    def __init__(self, K: FloatArray) -> None:
        K = np.asarray(K, dtype=float)
        if K.ndim != 2 or K.shape[0] != K.shape[1]:
            raise ValueError("K must be a square matrix")
        self.K = K
        self.n = K.shape[0]
        self._cache: dict[float, tuple[FloatArray, FloatArray]] = {}
        self._grid_cache: dict[tuple[float, int], tuple[FloatArray, FloatArray,
                                                        FloatArray, FloatArray]] = {}

    def propagator(self, h_min: float) -> tuple[FloatArray, FloatArray]:
        """``(Phi, Gamma)`` for a step of ``h_min`` minutes (cached)."""
        key = float(h_min)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        n = self.n
        aug = np.zeros((2 * n, 2 * n))
        aug[:n, :n] = self.K * key
        aug[:n, n:] = np.eye(n) * key
        e = expm(aug)
        result = (np.ascontiguousarray(e[:n, :n]), np.ascontiguousarray(e[:n, n:]))
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = result
        return result

    def advance(self, x: FloatArray, u: FloatArray, h_min: float) -> FloatArray:
        """State after ``h_min`` minutes of constant input ``u`` (mg/min) from ``x``."""
        if h_min == 0.0:
            return x.copy()
        phi, gamma = self.propagator(h_min)
        return phi @ x + gamma @ u

    def _grid_tables(self, h: float, m: int) -> tuple[FloatArray, FloatArray, FloatArray,
                                                       FloatArray]:
        key = (h, m)
        hit = self._grid_cache.get(key)
        if hit is not None:
            return hit
        phi, gamma = self.propagator(h)
        tables = _power_tables(phi, gamma, m)
        self._grid_cache[key] = tables
        return tables

    def advance_grid(self, x: FloatArray, u: FloatArray, offsets_min: FloatArray,
                     out: FloatArray | None = None,
                     project: FloatArray | None = None) -> FloatArray:
        """States at ``offsets_min`` (sorted, >= 0) after a start state ``x``, constant ``u``.

        Returns an array of shape (len(offsets), n), written into ``out`` when given. With
        ``project`` (a (k, n) matrix), returns ``states @ project.T`` (shape (len, k)) instead,
        without forming the states.
        """
        offsets = np.asarray(offsets_min, dtype=float)
        count = offsets.size
        P = np.eye(self.n) if project is None else np.asarray(project, dtype=float)
        k = P.shape[0]
        if out is None:
            out = np.empty((count, k))
        if count == 0:
            return out
        x0 = self.advance(x, u, float(offsets[0]))
        out[0] = P @ x0
        if count == 1:
            return out
        h = float(offsets[1] - offsets[0])
        uniform = count >= 8 and h > 0 and abs(
            (float(offsets[-1]) - float(offsets[0])) / (count - 1) - h) <= 1e-9 * h
        if uniform:
            steps = np.diff(offsets)
            uniform = float(np.max(np.abs(steps - h))) <= 1e-9 * h
        if not uniform:
            current = x0
            for i in range(1, count):
                current = self.advance(current, u, float(offsets[i] - offsets[i - 1]))
                out[i] = P @ current
            return out
        # block length ~ sqrt(count): few Python-level steps, small power tables
        m = int(min(max(8, np.ceil(np.sqrt(count))), 2048))
        powers, gammas, phi_m, gamma_m = self._grid_tables(h, m)
        n_blocks = -(-count // m)
        # block starts x_b = Phi_m^b x0 + Gamma_(b m) u, from the same doubling tables
        block_powers, block_gammas, _, _ = _power_tables(phi_m, gamma_m, n_blocks)
        starts = block_powers @ x0 + block_gammas @ u
        # out[b*m + j] = P powers[j] @ starts[b] + P gammas[j] @ u, written in place
        if project is None:
            table = powers.reshape(m * self.n, self.n).T
            forced = (gammas @ u).reshape(1, m * k)
        else:
            table = np.matmul(P, powers).reshape(m * k, self.n).T
            forced = (P @ (gammas @ u).T).T.reshape(1, m * k)
        full = count // m
        if full:
            # einsum, not BLAS: a multithreaded BLAS product here leaves OpenBLAS threads
            # spinning, which was measured to slow the next small LAPACK calls (expm) 100x
            view = out[: full * m].reshape(full, m * k)
            np.einsum("bi,ij->bj", starts[:full], table, out=view)
            view += forced
        rest = count - full * m
        if rest:
            tail = (starts[full] @ table + forced[0]).reshape(m, k)
            out[full * m:] = tail[:rest]
        return out

    def solve(self, inputs: SystemInputs, times_min: FloatArray,
              x0: FloatArray | None = None, project: FloatArray | None = None) -> FloatArray:
        """States at ``times_min`` (sorted ascending) for the given inputs.

        The system starts from ``x0`` (default zero) at the earlier of the first output time and
        the first input event. Returns shape (len(times), n), or ``states @ project.T`` when a
        (k, n) ``project`` matrix is given (e.g. the output matrix: concentrations directly).
        """
        times = np.asarray(times_min, dtype=float)
        if times.ndim != 1 or times.size == 0:
            raise InputError("times", "give at least one output time")
        if not np.all(np.isfinite(times)):
            raise InputError("times", "output times must be finite numbers")
        if np.any(np.diff(times) < 0):
            raise InputError("times", "output times must be sorted ascending")
        events = inputs.event_times()
        t0 = min([float(times[0]), *events])
        breakpoints = sorted({t0, *events})
        x = np.zeros(self.n) if x0 is None else np.asarray(x0, dtype=float).copy()
        out = np.empty((times.size, self.n if project is None else project.shape[0]))
        ti = 0
        for k, a in enumerate(breakpoints):
            b = breakpoints[k + 1] if k + 1 < len(breakpoints) else np.inf
            if any(r.time_min == a for r in inputs.resets):
                x[:] = 0.0
            for bolus in inputs.boluses:
                if bolus.time_min == a:
                    x[bolus.state] += bolus.amount_mg
            u = np.zeros(self.n)
            for inf in inputs.infusions:
                if inf.start_min <= a < inf.end_min:
                    u[inf.state] += inf.rate_mg_per_min
            j = int(np.searchsorted(times, b, side="left"))
            if j > ti:
                self.advance_grid(x, u, times[ti:j] - a, out=out[ti:j], project=project)
                ti = j
            if ti >= times.size or not np.isfinite(b):
                break
            x = self.advance(x, u, b - a)
        return out


def _power_tables(phi: FloatArray, gamma: FloatArray, m: int
                  ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``Phi^j`` and ``S_j = sum_{i<j} Phi^i`` for j < m, plus ``Phi^m`` and ``S_m``.

    Built by doubling (``Phi^(k+j) = Phi^k Phi^j``, ``S_(k+j) = S_k + Phi^k S_j``): a handful of
    batched products instead of m Python-level steps. Returned: the powers, the input
    integrals over j steps ``Gamma_j = S_j Gamma`` (``gamma`` is the one-step integral), and
    ``Phi^m``, ``Gamma_m``.
    """
    n = phi.shape[0]
    powers = np.empty((m, n, n))
    sums = np.empty((m, n, n))
    powers[0] = np.eye(n)
    sums[0] = 0.0
    k = 1
    phi_k = phi.copy()  # Phi^k
    sum_k = np.eye(n)  # S_k
    while k < m:
        take = min(k, m - k)
        np.matmul(phi_k, powers[:take], out=powers[k:k + take])
        sums[k:k + take] = sum_k + np.matmul(phi_k, sums[:take])
        sum_k = sum_k + phi_k @ sum_k
        phi_k = phi_k @ phi_k
        k += take
    phi_m = phi @ powers[m - 1]
    sum_m = sums[m - 1] + powers[m - 1]
    return powers, sums @ gamma, phi_m, sum_m @ gamma
