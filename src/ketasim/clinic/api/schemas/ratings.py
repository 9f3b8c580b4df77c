"""Rating scales and the course of a scale (response, remission)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from ketasim.clinic.api.schemas.common import RecordModel, RequestModel

__all__ = ["CoursePointPublic", "RatingCreate", "RatingPublic"]


class RatingCreate(RequestModel):
    scale: Literal["MADRS", "PHQ-9", "GAD-7"]
    score: int | None = Field(
        default=None, ge=0, le=60, description="total; required unless items are given"
    )
    taken_on: dt.date
    items: list[int] | None = Field(
        default=None, max_length=10, description="item answers (MADRS 10 items 0-6)"
    )


class RatingPublic(RecordModel):
    id: int
    patient_id: int
    scale: str
    score: int
    taken_on: dt.date
    items: list[int] | None = None
    source: str = "staff"


class CoursePointPublic(RecordModel):
    taken_on: dt.date
    score: int
    change_percent: float | None
    response: bool
    remission: bool
