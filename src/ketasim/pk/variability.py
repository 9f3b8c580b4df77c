"""Inter-individual variability: the covariance of a model's etas and draws from it.

eta ~ N(0, Omega), with Omega's diagonal from each ``[iiv.NAME]`` (``omega_sq``, or from
``cv_percent``: log(1 + CV^2) on the exponential scale, (CV/100)^2 otherwise, as the schema
documents) and its off-diagonal from ``[[iiv_correlations]]`` (r x omega_a x omega_b).

One sampler for one patient and for a million: :func:`sample_etas` draws ``n`` sets with one
Cholesky factor. Given an :class:`Omega` it returns arrays by name (what a population uses);
given a model it returns one ``{name: eta}`` record per patient (what a plan's band or a TCI
performance study replays one system at a time). The draws are the same numbers either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import overload

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelError
from ketasim.types import FloatArray

__all__ = [
    "Omega",
    "as_generator",
    "omega_matrix",
    "sample_etas",
    "sample_occasion_etas",
    "sample_thetas",
    "uncertain_parameters",
]


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed or ``None`` (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


@dataclass(frozen=True)
class Omega:
    """Covariance of the etas: ``names`` (parameter names) and the matrix (same order).

    ``assumed`` names the etas whose variability the user stated (not published). Unpacks as
    ``names, matrix = omega``.
    """

    names: tuple[str, ...]
    matrix: FloatArray
    assumed: tuple[str, ...] = ()
    model_id: str = ""

    def __iter__(self) -> Iterator[object]:
        return iter((list(self.names), self.matrix))

    def cholesky(self) -> FloatArray:
        """Lower Cholesky factor; ModelError if the correlations make Omega not positive."""
        if not self.names:
            return np.zeros((0, 0))
        try:
            return np.asarray(np.linalg.cholesky(self.matrix), dtype=np.float64)
        except np.linalg.LinAlgError:
            where = f"model {self.model_id}: " if self.model_id else ""
            raise ModelError(
                f"{where}iiv_correlations: the correlations do not form a "
                "positive definite covariance matrix"
            ) from None


def omega_matrix(model: ModelSpec, *, field: str = "model", required: bool = True) -> Omega:
    """Covariance matrix of the model's etas (``ModelSpec.omega``).

    With ``required`` (the default) a model without variability is an
    :class:`~ketasim.errors.InputError` naming ``field``: a population of such a model would be
    identical patients. ``required=False`` gives an empty Omega instead (typical patients).
    """
    names = tuple(model.iiv)
    if not names and required:
        raise InputError(
            field,
            f"model {model.id} publishes no inter-individual variability, "
            "so every virtual patient with the same covariates would be identical; "
            "state an assumed variability (assumed_iiv) in the trial spec",
        )
    _, matrix = model.omega()
    assumed = tuple(n for n in names if model.iiv[n].assumed)
    return Omega(names, matrix, assumed, model.id)


@overload
def sample_etas(
    source: Omega, n: int, rng: np.random.Generator | int | None = None
) -> dict[str, FloatArray]: ...


@overload
def sample_etas(
    source: ModelSpec, n: int, rng: np.random.Generator | int | None = None
) -> list[dict[str, float]]: ...


def sample_etas(
    source: Omega | ModelSpec, n: int, rng: np.random.Generator | int | None = None
) -> dict[str, FloatArray] | list[dict[str, float]]:
    """``n`` draws of eta ~ N(0, Omega).

    From an :class:`Omega`: arrays of shape (n,) by name. From a model: ``n`` records
    ``{name: eta}`` (empty records, typical patients, when the model has no variability).
    """
    omega = source if isinstance(source, Omega) else omega_matrix(source, required=False)
    count = max(int(n), 0)
    if omega.names:
        z = as_generator(rng).standard_normal((count, len(omega.names)))
        eta = z @ omega.cholesky().T
    else:
        eta = np.zeros((count, 0))
    if isinstance(source, Omega):
        return {name: eta[:, i] for i, name in enumerate(omega.names)}
    return [dict(zip(omega.names, map(float, row), strict=True)) for row in eta]


def sample_occasion_etas(
    model: ModelSpec, n: int, n_occasions: int, rng: np.random.Generator | int | None = None
) -> dict[str, FloatArray]:
    """Inter-occasion effects: ``{name: kappa}`` arrays of shape (n, n_occasions).

    kappa ~ N(0, omega_iov^2) independently for every patient, occasion and parameter (the
    ``[iov]`` entries of the model, in file order, occasions innermost). Empty when the model
    has no inter-occasion variability.
    """
    names = list(model.iov)
    count, m = max(int(n), 0), max(int(n_occasions), 0)
    if not names:
        return {}
    sd = np.sqrt([model.iov[name].variance() for name in names])
    z = as_generator(rng).standard_normal((count, len(names), m))
    return {name: z[:, i, :] * sd[i] for i, name in enumerate(names)}


def uncertain_parameters(model: ModelSpec) -> tuple[str, ...]:
    """Parameters whose estimate carries a published relative standard error."""
    return tuple(n for n, p in model.parameters.items() if p.rse_percent is not None)


def sample_thetas(
    model: ModelSpec, rng: np.random.Generator | int | None, *, field: str = "replicates"
) -> ModelSpec:
    """A copy of ``model`` with its estimates drawn from their published uncertainty.

    Each parameter with ``rse_percent`` is drawn from N(theta, (RSE/100 x theta)^2), the
    asymptotic sampling distribution of the estimate, independently (no published covariance
    of the estimates is stored) and redrawn until its sign is that of theta (a truncated
    normal). Parameters without an RSE (fixed or not reported) keep their value. A model
    without any RSE is an :class:`~ketasim.errors.InputError` naming ``field``.
    """
    names = uncertain_parameters(model)
    if not names:
        raise InputError(
            field,
            f"model {model.id} publishes no standard error of its "
            "estimates (rse_percent), so there is no parameter uncertainty to draw",
        )
    gen = as_generator(rng)
    update = {}
    for name in names:
        p = model.parameters[name]
        se = abs(p.value) * float(p.rse_percent or 0.0) / 100.0
        value = p.value + se * gen.standard_normal()
        while p.value != 0 and np.sign(value) != np.sign(p.value):
            value = p.value + se * gen.standard_normal()
        update[name] = p.model_copy(update={"value": float(value)})
    return model.model_copy(update={"parameters": {**model.parameters, **update}})
