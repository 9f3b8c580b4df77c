"""Drawing individual random effects (etas) from a model's variability."""

from __future__ import annotations

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import ModelError

__all__ = ["sample_etas"]


def sample_etas(model: ModelSpec, n: int,
                rng: np.random.Generator | int | None = None) -> list[dict[str, float]]:
    """``n`` sets of etas ~ N(0, Omega) by parameter name (``ModelSpec.omega``).

    A model without variability gives ``n`` empty sets (typical patients); callers that need
    variability check ``model.iiv`` first and say so.
    """
    names, omega = model.omega()
    if not names or n < 1:
        return [{} for _ in range(max(n, 0))]
    try:
        chol = np.linalg.cholesky(omega)
    except np.linalg.LinAlgError:
        raise ModelError(f"model {model.id}: iiv covariance matrix is not positive "
                         "definite") from None
    draws = np.random.default_rng(rng).standard_normal((n, len(names))) @ chol.T
    return [dict(zip(names, map(float, row), strict=True)) for row in draws]
