"""Pharmacodynamics: effect-site responses, receptor occupancy, response time courses.

Pure: arrays in, arrays out; the only files read are this package's own data (``pd/data``).
"""

from ketasim.pd.antidepressant import (
    AntidepressantCourse,
    AntidepressantParams,
    antidepressant_course,
    default_antidepressant_params,
    drug_part,
    exposure_memory,
    exposure_memory_coefficients,
    placebo_parts,
    potency_factor,
    session_times_h,
    simulate_antidepressant_course,
)
from ketasim.pd.antidepressant_individuals import (
    Individuals,
    draw_individuals,
    individual_ratings,
)
from ketasim.pd.effect import add_effect_site, effect_site_from_samples, ke0_from_half_time
from ketasim.pd.effects import (
    EffectResult,
    EndpointResult,
    effects_from_concentrations,
    effects_of_simulation,
    endpoint_response,
    pd_ke0_per_min,
    simulate_effects,
)
from ketasim.pd.loader import available_pd_models, load_pd_text, resolve_pd_model
from ketasim.pd.occupancy import OccupancyRow, occupancy_panel, target_occupancy
from ketasim.pd.response import fractional_inhibitory, hill_fraction, linear_effect, sigmoid_emax
from ketasim.pd.schema import PDModelSpec
from ketasim.pd.variability import endpoint_band

__all__ = [
    "AntidepressantCourse",
    "AntidepressantParams",
    "EffectResult",
    "EndpointResult",
    "Individuals",
    "OccupancyRow",
    "PDModelSpec",
    "add_effect_site",
    "antidepressant_course",
    "available_pd_models",
    "default_antidepressant_params",
    "draw_individuals",
    "drug_part",
    "effect_site_from_samples",
    "effects_from_concentrations",
    "effects_of_simulation",
    "endpoint_band",
    "endpoint_response",
    "exposure_memory",
    "exposure_memory_coefficients",
    "fractional_inhibitory",
    "hill_fraction",
    "individual_ratings",
    "ke0_from_half_time",
    "linear_effect",
    "load_pd_text",
    "occupancy_panel",
    "pd_ke0_per_min",
    "placebo_parts",
    "potency_factor",
    "resolve_pd_model",
    "session_times_h",
    "sigmoid_emax",
    "simulate_antidepressant_course",
    "simulate_effects",
    "target_occupancy",
]
