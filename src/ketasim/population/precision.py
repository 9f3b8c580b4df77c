"""The trial kernel's two precisions: float64 (default, exact to rounding) and float32 (opt-in).

``outputs.precision = "float32"`` runs the compiled kernel's propagation, outputs and binning in
float32 (endpoint accumulators, histogram counts and profiles stay float64/int). What it costs
in accuracy, as a bound rather than an estimate: the propagators ``Phi = exp(K h)`` and the
input terms of a compartmental model are elementwise nonnegative (``K`` has nonnegative
off-diagonal entries), so every state update ``x <- Phi x + drive`` sums nonnegative terms: it
does not amplify the relative error the state carries, and adds at most ``n + 3`` roundings of
``u = 2^-24`` to it (``n`` states: the n - 1 additions of the sum, the drive, the product, the
rounding of ``Phi`` or of the input to float32, a bolus added at the breakpoint). After ``N``
breakpoints every concentration is therefore within (to first order in u)

    ``relative_error_bound(n, N) = (N (n + 3) + 2) u``

of the float64 value (the output row adds its rounding and its product's). For 24 h at 1 min
(N = 1441) that is 6.0e-4 (4 states) and 6.9e-4 (5 states); measured on 5,000 patients: 4.4e-5
(Domino + effect site) and 4.2e-5 (otto-2021). cmax and the AUC (float64 sums of such values)
keep the bound; the time above a threshold has no relative bound (a crossing moves by the error over
the slope there): measured up to 4.3e-4 relative. A histogram bin is
2^-7 to 2^-8 of its value wide (0.39-0.78 %), so a concentration can only move to a neighbouring
bin, and only when it lies within the bound of an edge. The float32 bin code is the float64 one
shifted by the exponent bias: the top 16 bits of a float32 (sign, 8 exponent bits, the top 7
mantissa bits) give the same bin edges as the top 19 bits of a float64.

A run is refused (naming ``outputs.precision``) when the bound exceeds ``MAX_BOUND`` = 2^-8, the
narrowest bin's relative width, or when the bins' floor is not a normal float32.
"""

from __future__ import annotations

from ketasim.errors import InputError
from ketasim.population.summaries import _SHIFT, MANTISSA_BITS, LogBins

__all__ = [
    "MAX_BOUND",
    "ROUNDING",
    "SINGLE_SHIFT",
    "bin_code",
    "check_single",
    "relative_error_bound",
]

ROUNDING = 2.0**-24  # float32 unit roundoff
MAX_BOUND = 2.0**-8  # the narrowest bin's relative width
SINGLE_SHIFT = 23 - MANTISSA_BITS  # float32: 23 mantissa bits, keep the top 7
_BIAS_SHIFT = (1023 - 127) << MANTISSA_BITS  # float64 code - float32 code (normal values)
_SMALLEST_NORMAL = 2.0**-126
_LARGEST = 2.0**127


def relative_error_bound(n_states: int, n_breakpoints: int) -> float:
    """Bound on the relative error of every float32 concentration (see the module text)."""
    return (n_breakpoints * (n_states + 3) + 2) * ROUNDING


def bin_code(bins: LogBins, single: bool) -> tuple[int, int]:
    """``(shift, offset)``: a value's cell is ``(bits >> shift) - offset`` (clipped), with
    ``bits`` its float64 (``single`` False) or float32 (True) bit pattern as a signed integer."""
    if not single:
        return _SHIFT, bins.offset
    return SINGLE_SHIFT, bins.offset - _BIAS_SHIFT


def check_single(bins: LogBins, n_states: int, n_breakpoints: int) -> None:
    """Refuse a float32 run whose bound or bins float32 cannot honour."""
    if not (bins.floor >= _SMALLEST_NORMAL and bins.ceiling * 2 < _LARGEST):
        raise InputError(
            "outputs.precision",
            f"'float32' needs the histogram floor and ceiling within float32's normal range "
            f"({_SMALLEST_NORMAL:.3g} to {_LARGEST / 2:.3g}); got {bins.floor:g} to "
            f"{bins.ceiling:g} (outputs.floor_ng_per_ml); use 'float64'",
        )
    bound = relative_error_bound(n_states, n_breakpoints)
    if bound > MAX_BOUND:
        raise InputError(
            "outputs.precision",
            f"'float32' over {n_breakpoints} breakpoints of a {n_states}-state model bounds "
            f"the relative error of a concentration by {bound:.2g}, more than the narrowest "
            f"bin ({MAX_BOUND:.2g}); accepted up to {_max_breakpoints(n_states)} breakpoints; "
            f"use 'float64' or a coarser outputs.every",
        )


def _max_breakpoints(n_states: int) -> int:
    return int((MAX_BOUND / ROUNDING - 2) // (n_states + 3))
