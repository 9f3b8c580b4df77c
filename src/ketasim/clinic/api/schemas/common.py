"""What every schema shares: strict request bodies, records read from rows, stored times
answered with their offset, and the safety rules' findings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

__all__ = ["FindingPublic", "RecordModel", "RequestModel", "UtcTime"]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


def _utc(value: dt.datetime) -> dt.datetime:
    """Stored times are naive UTC: answer them with their offset (``Z``)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: a stored (naive UTC) time answered with its offset; a serializer of the datetime fields only
#: (one on every field, ``field_serializer("*")``, cost a Python call per field of every row)
UtcTime = Annotated[dt.datetime, PlainSerializer(_utc, return_type=dt.datetime)]


class RecordModel(BaseModel):
    """A response read from a stored row."""

    model_config = ConfigDict(from_attributes=True)


class FindingPublic(BaseModel):
    rule_id: str
    severity: Literal["stop", "warn", "info"]
    message: str
    source: str
    override: Literal["", "required", "acknowledged", "given"] = Field(
        default="",
        description="warnings: required = needs a prescriber's override before "
        "dosing; acknowledged = accepted when the plan was signed; given = overridden",
    )
