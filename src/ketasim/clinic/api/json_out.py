"""JSON responses serialised once, in the worker thread that read them.

A sync endpoint returning a model makes FastAPI validate it again in a second hand-off to the
thread pool before serialising it. The hot reads and the vital-sign write instead return the
bytes of pydantic's own JSON serialiser (the one FastAPI's fast path uses: the same bytes), and
declare their schema with ``response_model`` so the OpenAPI document does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

__all__ = ["json_list", "json_model"]


def json_model(model: BaseModel, *, status_code: int = 200) -> Response:
    """``model`` as an ``application/json`` response."""
    return Response(
        model.__pydantic_serializer__.to_json(model, by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


@cache
def _list_adapter(model_type: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model_type])  # type: ignore[valid-type]


def json_list(model_type: type[BaseModel], items: Sequence[BaseModel]) -> Response:
    """A list of ``model_type`` as an ``application/json`` response."""
    return Response(
        _list_adapter(model_type).dump_json(list(items), by_alias=True),
        media_type="application/json",
    )
