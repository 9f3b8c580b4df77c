"""Rating scales over time with response and remission.

Score ranges are those of the instruments: MADRS 10 items scored 0-6 (0-60; Montgomery SA,
Asberg M. Br J Psychiatry 1979;134:382-9), PHQ-9 9 items 0-3 (0-27; Kroenke K et al. J Gen Intern
Med 2001;16:606-13), GAD-7 7 items 0-3 (0-21; Spitzer RL et al. Arch Intern Med
2006;166:1092-7). Response is a drop of at least 50 % from the first (baseline) score
(trial convention, e.g. Talati 2019 in clinical-rules.md 4d). Remission thresholds, configurable
per protocol: MADRS <= 10 (a common convention, e.g. Zimmerman M et al. J Clin Psychiatry
2004;65:163-8 [verify]; the esketamine TRD trials used <= 12), PHQ-9 < 5
(Kroenke 2001: minimal), GAD-7 < 5 (Spitzer 2006: minimal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Patient, Rating
from ketasim.clinic.services.base import Actor, Invalid, get_or_404, log

__all__ = ["SCALES", "CoursePoint", "add_rating", "course", "list_ratings"]

#: scale -> (maximum score, remission when score <= this)
SCALES: dict[str, tuple[int, int]] = {"MADRS": (60, 10), "PHQ-9": (27, 4), "GAD-7": (21, 4)}
RESPONSE_DROP = 0.5


def add_rating(
    session: Session, actor: Actor, patient_id: int, *, scale: str, score: int, taken_on: dt.date
) -> Rating:
    """Record a total score."""
    get_or_404(session, Patient, patient_id, "patient")
    if scale not in SCALES:
        raise Invalid("scale", f"{scale!r}; accepted: {', '.join(SCALES)}")
    top = SCALES[scale][0]
    if not 0 <= score <= top:
        raise Invalid("score", f"{score} is out of range; {scale} accepts 0 to {top}")
    if taken_on > clinic_now(session).date() + dt.timedelta(days=1):
        raise Invalid("taken_on", f"{taken_on} is in the future")
    rating = Rating(
        patient_id=patient_id,
        scale=scale,
        score=score,
        taken_on=taken_on,
        recorded_by=actor.id or 0,
    )
    session.add(rating)
    log(session, actor, "create", rating, None)
    return rating


def list_ratings(session: Session, patient_id: int, scale: str | None = None) -> list[Rating]:
    """Ratings by date."""
    stmt = select(Rating).where(Rating.patient_id == patient_id)
    if scale is not None:
        stmt = stmt.where(Rating.scale == scale)
    return list(session.execute(stmt.order_by(Rating.taken_on, Rating.id)).scalars())


@dataclass(frozen=True)
class CoursePoint:
    """One score with its change from baseline and the response/remission flags."""

    taken_on: dt.date
    score: int
    change_percent: float | None
    response: bool
    remission: bool


def course(ratings: list[Rating], scale: str) -> list[CoursePoint]:
    """The course of one scale: baseline is the first score (by date)."""
    rows = sorted((r for r in ratings if r.scale == scale), key=lambda r: (r.taken_on, r.id))
    if not rows:
        return []
    remit = SCALES[scale][1]
    base = rows[0].score
    out = []
    for i, r in enumerate(rows):
        change = None if base == 0 else 100.0 * (r.score - base) / base
        response = i > 0 and base > 0 and r.score <= (1.0 - RESPONSE_DROP) * base
        out.append(CoursePoint(r.taken_on, r.score, change, response, r.score <= remit))
    return out
