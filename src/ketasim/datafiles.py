"""Loading the project's validated TOML data files (models, PD models, protocols, rules).

One place turns a TOML text into a pydantic model, so every data file reports errors the same
way: ``<origin>: field <dotted.path>: <what is wrong>``.
"""

from __future__ import annotations

import tomllib
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ketasim.errors import ModelError

__all__ = ["format_validation_error", "load_validated_toml"]

M = TypeVar("M", bound=BaseModel)


def format_validation_error(origin: str, exc: ValidationError) -> str:
    """One line naming the file and the first offending field."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{origin}: field {loc}: {first['msg']}{more}"


def load_validated_toml(
    text: str, schema: type[M], *, origin: str, error: type[Exception] = ModelError
) -> M:
    """Parse TOML ``text`` and validate it against ``schema``; errors name ``origin``/field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{origin}: not valid TOML: {exc}") from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise error(format_validation_error(origin, exc)) from None
