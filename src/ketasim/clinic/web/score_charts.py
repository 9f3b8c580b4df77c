"""Rating scores over the course against the calendar, with the sessions marked, the response
line (50 % below baseline) and the remission threshold (services/ratings.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.db.models import TreatmentSession
from ketasim.clinic.services import ratings as ra
from ketasim.clinic.web.timecharts import Marker, Series, time_chart_svg

__all__ = ["score_charts"]


def score_charts(
    session: Session, patient_id: int, courses: dict[str, list[ra.CoursePoint]]
) -> dict[str, str]:
    """One SVG per scale with scores: x the date, y the total from 0 to the scale's maximum."""
    doses = [
        t
        for t in session.execute(
            select(TreatmentSession.dose_start_at).where(
                TreatmentSession.patient_id == patient_id,
                TreatmentSession.dose_start_at.is_not(None),
            )
        ).scalars()
        if t is not None
    ]
    out = {}
    for scale, pts in courses.items():
        if not pts:
            continue
        top, remit = ra.SCALES[scale]
        base = pts[0].score
        first, last = pts[0].taken_on, pts[-1].taken_on
        markers = [
            Marker(
                "response: 50 % below baseline",
                value=base * (1 - ra.RESPONSE_DROP),
                colour="#d62728",
            ),
            Marker(f"remission <= {remit}", value=float(remit), colour="#2e7d32"),
        ]
        markers += [
            Marker(f"S{i}", at=t, colour="#9e9e9e")
            for i, t in enumerate(sorted(doses), 1)
            if first - dt.timedelta(days=3) <= t.date() <= last + dt.timedelta(days=3)
        ]
        series = [
            Series(
                f"{scale} total",
                [(dt.datetime.combine(p.taken_on, dt.time()), float(p.score)) for p in pts],
            )
        ]
        out[scale] = time_chart_svg(
            series,
            x_label="date (sessions marked S1, S2, ...)",
            y_label=f"{scale} total (0-{top})",
            y_range=(0.0, top),
            markers=markers,
            title=f"{scale} over the course",
            chart_id=f"score-chart-{scale}",
        )
    return out
