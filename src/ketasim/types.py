"""Array types shared by the whole package (one declaration, imported everywhere)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

__all__ = ["BoolArray", "FloatArray", "IntArray"]

FloatArray: TypeAlias = NDArray[np.float64]
"""Float64 array: times (min), amounts (mg), concentrations; shape stated where it is used."""

IntArray: TypeAlias = NDArray[np.int64]
"""Int64 array (indices, counts)."""

BoolArray: TypeAlias = NDArray[np.bool_]
"""Boolean array (masks)."""
