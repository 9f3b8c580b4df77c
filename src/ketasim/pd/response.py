"""Concentration-response functions (pure, vectorised). Concentrations in any one unit, C50 in
the same unit.

Parameters are floats (one subject) or arrays that broadcast against the concentrations, e.g.
C50 of shape (P,) against peak concentrations of shape (P,), or (n, 1) against a curve of
shape (T,): one set of functions for one patient and for a virtual population.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ketasim.errors import InputError

__all__ = ["fractional_inhibitory", "hill_fraction", "linear_effect", "sigmoid_emax"]


def _positive(value: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=float)
    if not np.all(arr > 0):
        shown = f"{float(arr)!r}" if arr.ndim == 0 else "a value"
        raise InputError(name, f"{shown} must be > 0")
    return arr


def hill_fraction(conc: ArrayLike, c50: ArrayLike, gamma: ArrayLike) -> NDArray[np.float64]:
    """Fraction of the maximal effect ``C^g / (C50^g + C^g)`` (0 at C = 0, 0.5 at C = C50).

    Also the logistic probability model on log concentration, ``P = 1 / (1 + (C50/C)^g)``.
    """
    c50_ = _positive(c50, "c50")
    gamma_ = _positive(gamma, "gamma")
    c = np.asarray(conc, dtype=float)
    if np.any(c < 0):
        raise InputError("concentration", "negative concentration; must be >= 0")
    ratio = np.power(c / c50_, gamma_)
    out: NDArray[np.float64] = ratio / (1.0 + ratio)
    return out


def sigmoid_emax(
    conc: ArrayLike, *, e0: ArrayLike, emax: ArrayLike, c50: ArrayLike, gamma: ArrayLike
) -> NDArray[np.float64]:
    """``E = E0 + Emax C^g / (C50^g + C^g)``; a negative ``emax`` gives an inhibitory model."""
    out: NDArray[np.float64] = np.asarray(e0, dtype=float) + np.asarray(
        emax, dtype=float
    ) * hill_fraction(conc, c50, gamma)
    return out


def fractional_inhibitory(
    conc: ArrayLike, *, e0: ArrayLike, imax: ArrayLike, c50: ArrayLike, gamma: ArrayLike
) -> NDArray[np.float64]:
    """``E = E0 (1 - Imax C^g / (C50^g + C^g))`` (fractional Emax on a baseline, Herd 2008)."""
    imax_ = np.asarray(imax, dtype=float)
    if not np.all((imax_ >= 0) & (imax_ <= 1)):
        shown = f"{float(imax_)!r}" if imax_.ndim == 0 else "a value"
        raise InputError("imax", f"{shown} must lie in [0, 1]")
    out: NDArray[np.float64] = np.asarray(e0, dtype=float) * (
        1.0 - imax_ * hill_fraction(conc, c50, gamma)
    )
    return out


def linear_effect(
    e0: ArrayLike, terms: Sequence[tuple[ArrayLike, ArrayLike]]
) -> NDArray[np.float64]:
    """``E = E0 + sum(slope_i * C_i)`` for (slope, concentration array) pairs."""
    total: NDArray[np.float64] = np.asarray(e0, dtype=float) + sum(
        (np.asarray(s, dtype=float) * np.asarray(c, dtype=float) for s, c in terms), np.zeros(())
    )
    return total
