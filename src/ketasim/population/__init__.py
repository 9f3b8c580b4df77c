"""Virtual populations and trials: covariates, variability, batched kernels, summaries.

Front door: ``run_trial(load_trial_spec("spec.toml")) -> TrialResult`` (``.summary`` is a pandas
DataFrame of percentile bands; ``.endpoints`` the endpoint distributions and probabilities,
including PD endpoints: see :mod:`ketasim.population.pd_endpoints`). Built-in cited covariate
distributions: :mod:`ketasim.population.presets`.
"""

from ketasim.population.backends import Scheduler, parse_scheduler
from ketasim.population.covariates import read_covariate_csv, sample_covariates
from ketasim.population.optimise import OptimiseResult, optimise_regimen, parse_optimise_spec
from ketasim.population.presets import PresetPopulation, available_presets, load_preset
from ketasim.population.spec import TrialSpec, load_trial_spec, parse_trial_spec
from ketasim.population.summaries import LogBins, quantiles_from_counts
from ketasim.population.trial import TrialResult, run_trial
from ketasim.population.variability import omega_matrix, sample_etas, with_assumed_iiv

__all__ = [
    "LogBins",
    "OptimiseResult",
    "PresetPopulation",
    "Scheduler",
    "TrialResult",
    "TrialSpec",
    "available_presets",
    "load_preset",
    "load_trial_spec",
    "omega_matrix",
    "optimise_regimen",
    "parse_optimise_spec",
    "parse_scheduler",
    "parse_trial_spec",
    "quantiles_from_counts",
    "read_covariate_csv",
    "run_trial",
    "sample_covariates",
    "sample_etas",
    "with_assumed_iiv",
]
