"""Inter-individual variability: random effects (etas) from a model's ``[iiv]``, and residual error.

eta ~ N(0, Omega), with Omega's diagonal from each ``[iiv.NAME]`` (``omega_sq``, or from
``cv_percent``: log(1 + CV^2) on the exponential scale, (CV/100)^2 otherwise, as the schema
documents) and its off-diagonal from ``[[iiv_correlations]]`` (r x omega_a x omega_b).

A model that publishes no variability cannot make a population: every patient with the same
covariates would be identical. :func:`with_assumed_iiv` adds variability stated by the user (each
entry flagged ``assumed``), and :func:`omega_matrix` refuses a model with none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import IIV, ModelSpec
from ketasim.errors import InputError, ModelError

__all__ = [
    "Omega",
    "as_generator",
    "omega_matrix",
    "residual_observations",
    "sample_etas",
    "with_assumed_iiv",
]

FloatArray = NDArray[np.float64]


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


@dataclass(frozen=True)
class Omega:
    """Covariance of the etas: ``names`` (parameter names) and the matrix (same order)."""

    names: tuple[str, ...]
    matrix: FloatArray
    assumed: tuple[str, ...]

    def cholesky(self) -> FloatArray:
        """Lower Cholesky factor; ModelError if the correlations make Omega not positive."""
        try:
            return np.asarray(np.linalg.cholesky(self.matrix), dtype=np.float64)
        except np.linalg.LinAlgError:
            raise ModelError("iiv_correlations: the correlations do not form a positive "
                             "definite covariance matrix") from None


def with_assumed_iiv(model: ModelSpec, assumed: Mapping[str, IIV], *, field: str
                     ) -> ModelSpec:
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
            raise InputError(f"{field}.{name}", f"model {model.id} has no parameter or derived "
                             f"value {name!r}; known: {', '.join(sorted(known))}")
        if name in model.iiv:
            raise InputError(f"{field}.{name}", f"model {model.id} already publishes "
                             "variability on it; an assumed value may not replace it")
        iiv[name] = entry.model_copy(update={"assumed": True})
    return model.model_copy(update={"iiv": iiv})


def omega_matrix(model: ModelSpec, *, field: str = "model") -> Omega:
    """Covariance matrix of the model's etas.

    Raises :class:`~ketasim.errors.InputError` naming ``field`` if the model has no variability.
    """
    names = tuple(model.iiv)
    if not names:
        raise InputError(field, f"model {model.id} publishes no inter-individual variability, "
                         "so every virtual patient with the same covariates would be identical; "
                         "state an assumed variability (assumed_iiv) in the trial spec")
    _, matrix = model.omega()
    assumed = tuple(n for n in names if model.iiv[n].assumed)
    return Omega(names, matrix, assumed)


def sample_etas(omega: Omega, n: int, rng: np.random.Generator | int | None
                ) -> dict[str, FloatArray]:
    """``n`` draws of eta ~ N(0, Omega), by name (arrays of shape (n,))."""
    gen = as_generator(rng)
    z = gen.standard_normal((n, len(omega.names)))
    eta = z @ omega.cholesky().T
    return {name: eta[:, i] for i, name in enumerate(omega.names)}


def residual_observations(model: ModelSpec, analyte: str, predicted_ng_per_ml: FloatArray,
                          rng: np.random.Generator | int | None) -> FloatArray | None:
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
