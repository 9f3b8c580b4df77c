"""The model catalogue: published population PK models as validated data files."""

from ketasim.catalogue.loader import (
    available_models,
    load_model,
    load_model_file,
    resolve_model,
)
from ketasim.catalogue.schema import ModelSpec

__all__ = ["ModelSpec", "available_models", "load_model", "load_model_file", "resolve_model"]
