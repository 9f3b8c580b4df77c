"""Variability of a virtual population: assumed IIV, random effects and residual error.

The covariance of the etas and the one sampler live in the core (:mod:`ketasim.pk.variability`,
re-exported here): eta ~ N(0, Omega).

A model that publishes no variability cannot make a population: every patient with the same
covariates would be identical. :func:`with_assumed_iiv` adds variability stated by the user (each
entry flagged ``assumed``), and :func:`omega_matrix` refuses a model with none.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ketasim.catalogue.schema import IIV, ModelSpec
from ketasim.errors import InputError
from ketasim.pk.variability import Omega, as_generator, omega_matrix, sample_etas
from ketasim.types import FloatArray

__all__ = [
    "Omega",
    "as_generator",
    "omega_matrix",
    "residual_observations",
    "sample_etas",
    "with_assumed_iiv",
]


def with_assumed_iiv(model: ModelSpec, assumed: Mapping[str, IIV], *, field: str) -> ModelSpec:
    """A copy of ``model`` with user-stated variability added (flagged ``assumed``).

    Only parameters (or derived values) without published variability may be given one; the
    error names ``field`` (e.g. ``arms[0].assumed_iiv``).
    """
    if not assumed:
        return model
    known = set(model.parameters) | set(model.derived)
    iiv = dict(model.iiv)
    for name, entry in assumed.items():
        if name not in known:
            raise InputError(
                f"{field}.{name}",
                f"model {model.id} has no parameter or derived "
                f"value {name!r}; known: {', '.join(sorted(known))}",
            )
        if name in model.iiv:
            raise InputError(
                f"{field}.{name}",
                f"model {model.id} already publishes "
                "variability on it; an assumed value may not replace it",
            )
        iiv[name] = entry.model_copy(update={"assumed": True})
    return model.model_copy(update={"iiv": iiv})


def residual_observations(
    model: ModelSpec,
    analyte: str,
    predicted_ng_per_ml: FloatArray,
    rng: np.random.Generator | int | None,
) -> FloatArray | None:
    """Simulated measurements: predictions with the model's residual error for ``analyte``.

    Proportional and additive errors combine as ``C (1 + e1) + e2`` (or ``C exp(e1)`` when the
    model's error is on the log scale); ``None`` when the model publishes no residual error.
    """
    err = model.residual_error.get(analyte)
    if err is None:
        return None
    gen = as_generator(rng)
    pred = np.asarray(predicted_ng_per_ml, dtype=np.float64)
    prop = (err.proportional_percent or 0.0) / 100.0
    add = err.additive_ng_per_ml or 0.0
    e1 = gen.standard_normal(pred.shape) * prop
    e2 = gen.standard_normal(pred.shape) * add
    if err.log_scale:
        return pred * np.exp(e1) + e2
    return pred * (1.0 + e1) + e2
