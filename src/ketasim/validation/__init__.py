"""Comparing published models and qualifying them against published observations.

- :mod:`~ketasim.validation.compare`: every applicable model for one patient and regimen, with
  the spread between them (``ketasim compare``);
- :mod:`~ketasim.validation.observations` and :mod:`~ketasim.validation.runner`: published
  observations stored as data, each applicable model run against them (``ketasim validate``).
"""

from ketasim.validation.compare import (
    Comparison,
    ModelCurve,
    compare_models,
    exposure_metrics,
    with_totals,
)

__all__ = ["Comparison", "ModelCurve", "compare_models", "exposure_metrics", "with_totals"]
