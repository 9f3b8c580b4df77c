"""Between-subject variability bands for PD endpoints (parameters with ``iiv_cv_percent``).

Each parameter with a reported CV is sampled log-normal, ``theta_i = theta exp(eta)``,
``eta ~ N(0, ln(1 + CV^2))``; a fractional ``imax`` is capped at 1. The log-normal form is an
assumption unless the PD file says otherwise. Randomness only through ``rng``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ketasim.errors import InputError
from ketasim.pd.effects import endpoint_response
from ketasim.pd.schema import Endpoint, PDParameter

__all__ = ["endpoint_band"]


def _sample(p: PDParameter | None, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    if p is None:
        return np.full(n, np.nan)
    if p.iiv_cv_percent is None:
        return np.full(n, p.value)
    omega = math.sqrt(math.log(1.0 + (p.iiv_cv_percent / 100.0) ** 2))
    return p.value * np.exp(rng.normal(0.0, omega, n))


def endpoint_band(
    endpoint: Endpoint,
    conc_ng_per_ml: Mapping[str, NDArray[np.float64]],
    *,
    rng: np.random.Generator | int | None,
    n: int = 1000,
    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
) -> NDArray[np.float64]:
    """Quantiles of the endpoint over ``n`` virtual subjects, shape (len(quantiles), T).

    ``conc_ng_per_ml``: effect-site concentrations by analyte role (as for
    :func:`~ketasim.pd.effects.endpoint_response`). Endpoints without a Hill coefficient have
    no value to spread and raise :class:`~ketasim.errors.InputError`.
    """
    if endpoint.gamma is None and endpoint.kind != "linear":
        raise InputError("endpoint", f"{endpoint.name}: no Hill coefficient; no band")
    if not 1 <= n <= 1_000_000:
        raise InputError("n", f"{n} must lie in 1-1,000,000")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    draws = {name: _sample(getattr(endpoint, name), n, gen) for name in ("imax", "emax", "c50")}
    if endpoint.imax is not None:
        draws["imax"] = np.minimum(draws["imax"], 1.0)
    curves = []
    for i in range(n):
        update: dict[str, PDParameter] = {}
        for name in ("imax", "emax", "c50"):
            p = getattr(endpoint, name)
            if p is not None and p.iiv_cv_percent is not None:
                update[name] = p.model_copy(update={"value": float(draws[name][i])})
        ep = endpoint.model_copy(update=update) if update else endpoint
        values = endpoint_response(ep, conc_ng_per_ml).values
        assert values is not None
        curves.append(values)
    out: NDArray[np.float64] = np.quantile(np.vstack(curves), list(quantiles), axis=0)
    return out
