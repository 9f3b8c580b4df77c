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
_GEMM_BUDGET = 150_000  # multiply-adds per product in advance_grid (see there)


class ExactSolver:
    """Exact solver for one rate matrix ``K`` (1/min); caches propagators by step length."""

    def __init__(self, K: FloatArray, *, max_cached: int = 4096) -> None:
        """``max_cached``: propagators kept (by step length) before the cache is emptied."""
        K = np.asarray(K, dtype=float)
        if K.ndim != 2 or K.shape[0] != K.shape[1]:
            raise ValueError("K must be a square matrix")
        self.K = K
        self.n = K.shape[0]
        self._cache: dict[float, tuple[FloatArray, FloatArray]] = {}
        self._max_cached = max_cached

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
        if len(self._cache) >= self._max_cached:
            self._cache.clear()
        self._cache[key] = result
        return result

    def advance(self, x: FloatArray, u: FloatArray, h_min: float) -> FloatArray:
        """State after ``h_min`` minutes of constant input ``u`` (mg/min) from ``x``."""
        if h_min == 0.0:
            return x.copy()
        phi, gamma = self.propagator(h_min)
        return phi @ x + gamma @ u

    def advance_grid(
        self,
        x: FloatArray,
        u: FloatArray,
        offsets_min: FloatArray,
        out: FloatArray | None = None,
        project: FloatArray | None = None,
        *,
        origin_min: float = 0.0,
    ) -> FloatArray:
        """States at ``offsets_min`` (sorted, >= 0) after a start state ``x``, constant ``u``.

        Returns an array of shape (len(offsets), n), written into ``out`` when given. With
        ``project`` (a (k, n) matrix), returns ``states @ project.T`` (shape (len, k)) instead,
        without forming the states. With ``origin_min``, the offsets are
        ``offsets_min - origin_min`` (a slice of absolute times can be passed without a copy).
        """
        values = np.asarray(offsets_min, dtype=float)
        count = values.size
        P = np.eye(self.n) if project is None else np.asarray(project, dtype=float)
        k = P.shape[0]
        if out is None:
            out = np.empty((count, k))
        if count == 0:
            return out

        def offset(i: int) -> float:
            return float(values[i] - origin_min)

        x0 = self.advance(x, u, offset(0))
        out[0] = P @ x0
        if count == 1:
            return out
        h = offset(1) - offset(0)
        uniform = (
            count >= 8 and h > 0 and abs((offset(-1) - offset(0)) / (count - 1) - h) <= 1e-9 * h
        )
        if uniform:
            uniform = _uniform_steps(values, h, 1e-9 * h)
        if not uniform:
            current = x0
            for i in range(1, count):
                current = self.advance(current, u, offset(i) - offset(i - 1))
                out[i] = P @ current
            return out
        # block length ~ sqrt(count), a power of two (Phi^m comes out of the doubling): few
        # Python-level steps, small tables
        m = 1 << int(min(max(3, round(np.log2(np.sqrt(count)))), 11))
        phi, gamma = self.propagator(h)
        rows, forced, phi_m, drift_m = _grid_tables(phi, gamma @ u, P, m)
        n_blocks = -(-count // m)
        # block starts x_b = Phi_m^b x0 + (state after b blocks from zero), also by doubling
        starts = _trajectory(phi_m, drift_m, x0, n_blocks)
        # out[b*m + j] = rows[j] @ starts[b] + forced[j] = [starts[b], 1] @ [rows[j]; forced[j]]
        # (the forced response folded into the product: one pass over the output)
        n = self.n
        table = np.empty((k, n + 1, m))
        table[:, :n, :] = rows.transpose(1, 2, 0)
        table[:, n, :] = forced.T
        full = count // m
        columns = out.T  # (k, count): each output's values, contiguous in a Fortran array
        if full:
            ones = np.ones((full, 1))
            lead = np.hstack([starts[:full], ones])  # (full, n + 1)
            # products kept small enough for OpenBLAS to run them on one thread: one
            # 294 x 294 x 5 product ran threaded and left OpenBLAS threads spinning, which
            # slowed the next small LAPACK call (expm) 100x (measured); 128 x 294 x 5 did not
            step = max(1, _GEMM_BUDGET // ((n + 1) * m))
            for c in range(k):
                view = columns[c, : full * m].reshape(full, m)  # splits one axis: a view
                for b in range(0, full, step):
                    np.matmul(lead[b : b + step], table[c], out=view[b : b + step])
        rest = count - full * m
        if rest:
            out[full * m :] = rows[:rest] @ starts[full] + forced[:rest]
        return out

    def solve(
        self,
        inputs: SystemInputs,
        times_min: FloatArray,
        x0: FloatArray | None = None,
        project: FloatArray | None = None,
    ) -> FloatArray:
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
        if (times[1:] < times[:-1]).any():
            raise InputError("times", "output times must be sorted ascending")
        events = inputs.event_times()
        t0 = min([float(times[0]), *events])
        breakpoints = sorted({t0, *events})
        x = np.zeros(self.n) if x0 is None else np.asarray(x0, dtype=float).copy()
        # Fortran order: each output's column is contiguous (written in place block by block)
        out = np.empty((self.n if project is None else project.shape[0], times.size)).T
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
                self.advance_grid(x, u, times[ti:j], out=out[ti:j], project=project, origin_min=a)
                ti = j
            if ti >= times.size or not np.isfinite(b):
                break
            x = self.advance(x, u, b - a)
        return out


def _uniform_steps(values: FloatArray, h: float, tol: float) -> bool:
    """Whether every step of ``values`` is within ``tol`` of ``h``.

    Checked in chunks: small temporaries, instead of a full-length array of differences.
    """
    chunk = 32768
    buffer = np.empty(min(chunk, values.size - 1))
    for start in range(0, values.size - 1, chunk):
        stop = min(start + chunk, values.size - 1)
        steps = buffer[: stop - start]
        np.subtract(values[start + 1 : stop + 1], values[start:stop], out=steps)
        if steps.max() - h > tol or h - steps.min() > tol:
            return False
    return True


def _grid_tables(
    phi: FloatArray, drift: FloatArray, P: FloatArray, m: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Projected powers and forced responses of one step, for j < m, plus ``Phi^m``.

    With ``Phi`` the one-step propagator and ``drift = Gamma u`` the one-step response to the
    constant input from zero: ``rows[j] = P Phi^j`` and ``forced[j] = P z_j`` where
    ``z_j = sum_{i<j} Phi^i drift`` (the state after j steps from zero). Built by doubling
    (``P Phi^(k+j) = (P Phi^j) Phi^k``, ``z_(k+j) = z_k + Phi^k z_j``): a handful of batched
    products instead of m Python-level steps. Also returns ``Phi^m`` and ``z_m``.
    """
    n = phi.shape[0]
    rows = np.empty((m, P.shape[0], n))
    z = np.empty((m, n))
    rows[0] = P
    z[0] = 0.0
    k = 1
    phi_k = phi  # Phi^k
    z_k = drift  # z_k
    while k < m:
        take = min(k, m - k)
        # rows as one (take * k_out, n) matrix: one product, not a stack of tiny ones
        np.matmul(rows[:take].reshape(-1, n), phi_k, out=rows[k : k + take].reshape(-1, n))
        np.add(z[:take] @ phi_k.T, z_k, out=z[k : k + take])
        z_k = z_k + phi_k @ z_k
        phi_k = phi_k @ phi_k
        k += take
    if m & (m - 1) == 0:  # m = 2^i: the last doubling formed Phi^m and z_m
        return rows, z @ P.T, phi_k, z_k
    return rows, z @ P.T, np.linalg.matrix_power(phi, m), phi @ z[m - 1] + drift


def _trajectory(phi: FloatArray, drift: FloatArray, x0: FloatArray, count: int) -> FloatArray:
    """States ``x_b = Phi^b x0 + sum_{i<b} Phi^i drift`` for b < count, by doubling."""
    states = np.empty((count, x0.size))
    states[0] = x0
    k = 1
    phi_k = phi
    z_k = drift
    while k < count:
        take = min(k, count - k)
        np.add(states[:take] @ phi_k.T, z_k, out=states[k : k + take])
        z_k = z_k + phi_k @ z_k
        phi_k = phi_k @ phi_k
        k += take
    return states
