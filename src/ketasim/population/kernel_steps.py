"""The compiled kernel's step of one block of patients: the generated written-out updates for
its state count and block size, else a generic loop.

The written-out updates (:mod:`ketasim.population.steps` for blocks of ``BLOCK`` = 128 patients,
the float64 kernel; :mod:`ketasim.population.steps_single` for ``BLOCK_SINGLE`` = 384, the float32
kernel: the same bytes hold three times the patients, and 384 rather than 512 because rows 4 KiB
apart would share L1 sets) take flat arrays with the block size written into every index.
"""

from __future__ import annotations

from typing import Any

from ketasim.population.propagators import HAVE_NUMBA
from ketasim.population.steps import BLOCK, MAX_STATES
from ketasim.population.steps_single import BLOCK as BLOCK_SINGLE

__all__ = ["BLOCK", "BLOCK_SINGLE", "MAX_STATES", "jit", "step_block"]


def _step_generic(
    X: Any, Xn: Any, ph: Any, h: int, dr: Any, d: int, m: int
) -> None:  # pragma: no cover - compiled
    n = X.shape[0]
    for i in range(n):
        if d >= 0:
            for p in range(m):
                Xn[i, p] = dr[d, i, p]
        else:
            for p in range(m):
                Xn[i, p] = 0.0
        for k in range(n):
            for p in range(m):
                Xn[i, p] += ph[h, i, k, p] * X[k, p]
    for i in range(n):
        for p in range(m):
            X[i, p] = Xn[i, p]


def _step_dispatch(
    X: Any, Xn: Any, ph: Any, h: int, dr: Any, d: int, m: int
) -> None:  # pragma: no cover - compiled
    """One step of a block: the written-out update for its state count and block size (flat
    arrays, :mod:`ketasim.population.steps` and ``steps_single``), else the generic loop."""
    n = X.shape[0]
    block = X.shape[1]
    if n <= MAX_STATES and block in (BLOCK, BLOCK_SINGLE):
        x = X.reshape(-1)
        f = ph[h].reshape(-1)
        r = dr[d].reshape(-1) if d >= 0 else x  # (not read without an input)
        if block == BLOCK:
            if n == 4:
                _d4(x, f, r, d, m)
            elif n == 5:
                _d5(x, f, r, d, m)
            elif n == 3:
                _d3(x, f, r, d, m)
            elif n == 6:
                _d6(x, f, r, d, m)
            elif n == 2:
                _d2(x, f, r, d, m)
            else:
                _d1(x, f, r, d, m)
        elif n == 4:
            _s4(x, f, r, d, m)
        elif n == 5:
            _s5(x, f, r, d, m)
        elif n == 3:
            _s3(x, f, r, d, m)
        elif n == 6:
            _s6(x, f, r, d, m)
        elif n == 2:
            _s2(x, f, r, d, m)
        else:
            _s1(x, f, r, d, m)
    else:
        _step_n(X, Xn, ph, h, dr, d, m)


if HAVE_NUMBA:  # pragma: no cover - depends on the environment
    import numba as _numba

    from ketasim.population import steps as _steps
    from ketasim.population import steps_single as _single

    # fastmath without the no-NaN/no-inf assumptions (NaN concentrations must still be binned)
    _FAST = {"nsz", "arcp", "contract", "reassoc"}

    def jit(fn: Any) -> Any:
        """Compile ``fn`` as the kernel's functions are (cached, GIL released, fastmath)."""
        return _numba.njit(cache=True, nogil=True, fastmath=_FAST)(fn)

    _d1, _d2, _d3 = jit(_steps.step_1), jit(_steps.step_2), jit(_steps.step_3)
    _d4, _d5, _d6 = jit(_steps.step_4), jit(_steps.step_5), jit(_steps.step_6)
    _s1, _s2, _s3 = jit(_single.step_1), jit(_single.step_2), jit(_single.step_3)
    _s4, _s5, _s6 = jit(_single.step_4), jit(_single.step_5), jit(_single.step_6)
    _step_n = jit(_step_generic)
    step_block = jit(_step_dispatch)
else:  # the numpy kernel is used instead

    def jit(fn: Any) -> Any:
        """Without numba: ``fn`` itself."""
        return fn

    step_block = _step_dispatch
