"""The model catalogue: published population PK models as validated data files.

The names below load on first use, so that a light module of the package (e.g.
:mod:`ketasim.catalogue.card`) can be imported without the schema and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketasim.catalogue.loader import (
        available_models,
        load_model,
        load_model_file,
        resolve_model,
    )
    from ketasim.catalogue.schema import ModelSpec

__all__ = ["ModelSpec", "available_models", "load_model", "load_model_file", "resolve_model"]

_HOME = {
    "ModelSpec": "schema",
    "available_models": "loader",
    "load_model": "loader",
    "load_model_file": "loader",
    "resolve_model": "loader",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
