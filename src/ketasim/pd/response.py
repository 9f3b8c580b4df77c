"""Concentration-response functions (pure, vectorised). Concentrations in any one unit, C50 in
the same unit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ketasim.errors import InputError

__all__ = ["fractional_inhibitory", "hill_fraction", "linear_effect", "sigmoid_emax"]


def hill_fraction(conc: ArrayLike, c50: float, gamma: float) -> NDArray[np.float64]:
    """Fraction of the maximal effect ``C^g / (C50^g + C^g)`` (0 at C = 0, 0.5 at C = C50).

    Also the logistic probability model on log concentration, ``P = 1 / (1 + (C50/C)^g)``.
    """
    if not c50 > 0:
        raise InputError("c50", f"{c50!r} must be > 0")
    if not gamma > 0:
        raise InputError("gamma", f"{gamma!r} must be > 0")
    c = np.asarray(conc, dtype=float)
    if np.any(c < 0):
        raise InputError("concentration", "negative concentration; must be >= 0")
    ratio = np.power(c / c50, gamma)
    out: NDArray[np.float64] = ratio / (1.0 + ratio)
    return out


def sigmoid_emax(conc: ArrayLike, *, e0: float, emax: float, c50: float,
                 gamma: float) -> NDArray[np.float64]:
    """``E = E0 + Emax C^g / (C50^g + C^g)``; a negative ``emax`` gives an inhibitory model."""
    return e0 + emax * hill_fraction(conc, c50, gamma)


def fractional_inhibitory(conc: ArrayLike, *, e0: float, imax: float, c50: float,
                          gamma: float) -> NDArray[np.float64]:
    """``E = E0 (1 - Imax C^g / (C50^g + C^g))`` (fractional Emax on a baseline, Herd 2008)."""
    if not 0 <= imax <= 1:
        raise InputError("imax", f"{imax!r} must lie in [0, 1]")
    return e0 * (1.0 - imax * hill_fraction(conc, c50, gamma))


def linear_effect(e0: float, terms: Sequence[tuple[float, ArrayLike]]) -> NDArray[np.float64]:
    """``E = E0 + sum(slope_i * C_i)`` for (slope, concentration array) pairs."""
    total: NDArray[np.float64] = np.asarray(e0, dtype=float) + sum(
        (s * np.asarray(c, dtype=float) for s, c in terms), np.zeros(()))
    return total
