"""What an individual fit returns: parameters with intervals, rows, predictions with bands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.stats import norm

from ketasim.estimation.problem import FitProblem
from ketasim.estimation.residual import ResidualErrorModel
from ketasim.findings import Finding
from ketasim.pk.system import LinearSystem
from ketasim.types import FloatArray

__all__ = ["Z90", "FitRow", "IndividualFit", "ParameterEstimate", "Prediction"]

Z90 = float(norm.ppf(0.95))


@dataclass(frozen=True, slots=True)
class ParameterEstimate:
    """An individual parameter: MAP value with a 90% Laplace interval, in the file's unit."""

    value: float
    unit: str
    typical: float
    eta: float
    eta_sd: float
    ci90_low: float
    ci90_high: float
    scale: str


@dataclass(frozen=True, slots=True)
class FitRow:
    """One record of the data with its predictions (min, ng/mL).

    ``pred``: typical patient; ``ipred``: MAP individual; ``ipred_p05``/``ipred_p95``: 90%
    band of the individual prediction; ``iwres``: (dv - ipred) / sd for observations.
    """

    row: int
    time_min: float
    analyte: str
    evid: int
    mdv: int
    dv_ng_per_ml: float | None
    pred: float
    ipred: float
    ipred_p05: float
    ipred_p95: float
    iwres: float | None


@dataclass(frozen=True, slots=True)
class Prediction:
    """Individual predictions (ng/mL) at ``times_min`` with a 90% band."""

    times_min: FloatArray
    analyte: str
    ipred: FloatArray
    p05: FloatArray
    p95: FloatArray


@dataclass(frozen=True)
class IndividualFit:
    """The MAP fit of one individual (immutable).

    Attributes
    ----------
    parameters:
        Each parameter with inter-individual variability: MAP value, 90% interval, typical.
    eta_names, eta_map, eta_cov:
        Random effects at the MAP and their Laplace covariance.
    rows:
        One :class:`FitRow` per record of the data (dose and MDV = 1 rows included).
    residual_errors:
        Residual error model used per analyte (published or assumed).
    ofv:
        Objective at the MAP (-2 log posterior + constant).
    """

    id: str
    model_id: str
    parameters: Mapping[str, ParameterEstimate]
    eta_names: tuple[str, ...]
    eta_map: FloatArray
    eta_cov: FloatArray
    rows: tuple[FitRow, ...]
    residual_errors: Mapping[str, ResidualErrorModel]
    ofv: float
    converged: bool
    n_observations: int
    findings: tuple[Finding, ...] = ()
    problem: FitProblem | None = field(default=None, repr=False, compare=False)
    u_map: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    u_cov: FloatArray = field(default_factory=lambda: np.zeros((0, 0)), repr=False, compare=False)

    def system(self) -> LinearSystem:
        """The individual's linear system at the MAP estimate."""
        assert self.problem is not None
        return self.problem.system(self.u_map)

    def predict(
        self,
        times_min: FloatArray | list[float],
        analyte: str | None = None,
        *,
        method: Literal["delta", "sampling"] = "delta",
        n_draws: int = 500,
        rng: np.random.Generator | int | None = None,
    ) -> Prediction:
        """Individual predictions (ng/mL) at ``times_min`` with a 90% posterior band.

        ``delta``: normal approximation of log concentration (Laplace covariance propagated
        by the Jacobian); ``sampling``: percentiles over ``n_draws`` posterior draws.
        """
        assert self.problem is not None
        times = np.asarray(times_min, dtype=float)
        name = analyte or self.problem.model.analyte_names[0]
        analytes = [name] * times.size
        if method == "sampling":
            f0 = self.problem.conc(self.u_map, times, analytes)
            gen = np.random.default_rng(rng)
            draws = gen.multivariate_normal(self.u_map, self.u_cov, size=n_draws, method="cholesky")
            sims = np.array([self.problem.conc(u, times, analytes) for u in draws])
            return Prediction(
                times, name, f0, np.percentile(sims, 5, axis=0), np.percentile(sims, 95, axis=0)
            )
        f0, J = self.problem.log_conc_jacobian(self.u_map, times, analytes)
        sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, self.u_cov, J), 0.0))
        return Prediction(times, name, f0, f0 * np.exp(-Z90 * sd), f0 * np.exp(Z90 * sd))
