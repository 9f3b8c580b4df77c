"""Effect-site linkage: ``dCe/dt = ke0 (Cp - Ce)``, joined to a PK system or to a sampled curve.

Two exact routes:

- :func:`add_effect_site` appends an effect state with the *PD paper's* ke0 to a PK
  :class:`~ketasim.pk.LinearSystem`; the augmented system stays linear and is solved exactly by
  the PK engine (boluses, infusions, metabolites and all).
- :func:`effect_site_from_samples` filters a sampled plasma curve, exactly for a curve that is
  linear between samples (use it for measured or externally simulated concentrations).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ketasim.errors import InputError
from ketasim.pk.system import LinearSystem, with_effect_site

__all__ = ["add_effect_site", "effect_site_from_samples", "ke0_from_half_time"]


def ke0_from_half_time(t_half_min: float) -> float:
    """``ke0 = ln 2 / t1/2`` (1/min) from an equilibration half-time in minutes."""
    if not t_half_min > 0:
        raise InputError("t_half_ke0", f"{t_half_min!r} min must be > 0")
    return math.log(2.0) / t_half_min


def add_effect_site(
    system: LinearSystem, analyte: str, ke0_per_min: float, *, site: str = "pd_effect"
) -> LinearSystem:
    """Return a new system with one more state: the effect site of ``analyte`` with ``ke0``.

    The new output is named ``<analyte>_<site>`` (concentration, mg/L in the state); the
    equation is the engine's (:func:`ketasim.pk.effect_site.with_effect_site`).
    """
    return with_effect_site(system, analyte, ke0_per_min, site=site)


def effect_site_from_samples(
    times_min: ArrayLike, plasma: ArrayLike, ke0_per_min: float, *, ce0: float = 0.0
) -> NDArray[np.float64]:
    """Effect-site concentration for a plasma curve linear between the sample times.

    Exact solution of ``dCe/dt = ke0 (Cp - Ce)`` for piecewise-linear ``Cp``; output in the
    unit of ``plasma``. ``times_min`` must be ascending.
    """
    t = np.asarray(times_min, dtype=float)
    c = np.asarray(plasma, dtype=float)
    if t.ndim != 1 or t.shape != c.shape:
        raise InputError("plasma", "times and concentrations must be 1-D arrays of equal length")
    if np.any(np.diff(t) < 0):
        raise InputError("times_min", "must be ascending")
    if not ke0_per_min > 0:
        raise InputError("ke0", f"{ke0_per_min!r} /min must be > 0")
    out = np.empty_like(c)
    if c.size == 0:
        return out
    out[0] = ce0
    k = ke0_per_min
    for i in range(1, t.size):
        h = t[i] - t[i - 1]
        if h == 0:
            out[i] = out[i - 1]
            continue
        e = math.exp(-k * h)
        slope = (c[i] - c[i - 1]) / h
        # Ce(h) = Cp(h) - slope/k + (Ce0 - Cp0 + slope/k) e^{-kh}
        out[i] = c[i] - slope / k + (out[i - 1] - c[i - 1] + slope / k) * e
    return out
