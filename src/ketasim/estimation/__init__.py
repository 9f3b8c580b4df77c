"""Estimation: Bayesian (MAP) individualisation from measured concentrations.

``fit_individual(model, patient, inputs, records)`` returns an immutable
:class:`IndividualFit` (MAP parameters with 90% Laplace intervals, a row per record with PRED,
IPRED and a 90% band); :func:`recommend_infusion_rate` turns a fit into the rate that reaches a
target steady-state concentration.
"""

from ketasim.estimation.dose import DoseRecommendation, recommend_infusion_rate
from ketasim.estimation.fit import fit_individual
from ketasim.estimation.problem import FitPart
from ketasim.estimation.records import RecordLike
from ketasim.estimation.residual import (
    ResidualErrorModel,
    parse_residual_error,
    residual_errors_for,
)
from ketasim.estimation.result import FitRow, IndividualFit, ParameterEstimate, Prediction
from ketasim.pk.variability import omega_matrix

__all__ = [
    "DoseRecommendation",
    "FitPart",
    "FitRow",
    "IndividualFit",
    "ParameterEstimate",
    "Prediction",
    "RecordLike",
    "ResidualErrorModel",
    "fit_individual",
    "omega_matrix",
    "parse_residual_error",
    "recommend_infusion_rate",
    "residual_errors_for",
]
