"""Rating scores over the course against the calendar, with the sessions marked, the response
line (50 % below baseline) and the remission threshold (services/ratings.py); for MADRS, the
patient's forecast (services/forecast.py) after the last rating: a dashed MAP line without
points and a shaded 90% band, each with a legend entry."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.db.models import TreatmentSession
from ketasim.clinic.services import ratings as ra
from ketasim.clinic.services.forecast import PatientForecast
from ketasim.clinic.web.timecharts import Marker, Series, time_chart_svg

__all__ = ["FORECAST_COLOUR", "score_charts"]

FORECAST_COLOUR = "#6a3d9a"
FORECAST_LABEL = "forecast (MAP, empirical model)"
BAND_LABEL = "forecast 90% band"
_NUM = r"(-?[0-9.]+)"


def _with_band(svg: str, fc: PatientForecast) -> str:
    """Add the forecast band (a shaded polygon under the lines) and its legend entry, and drop
    the forecast line's point markers. The chart's own scale is read back from the SVG: x from
    the first and last points of the forecast line, y from two labelled y ticks."""
    line = re.search(
        rf'<polyline class="series" points="([^"]+)" fill="none" stroke="{FORECAST_COLOUR}"', svg
    )
    ticks = re.findall(
        rf'<line class="ytick" [^>]*y1="{_NUM}"[^>]*/><text [^>]*>{_NUM}</text>', svg
    )
    if line is None or len(ticks) < 2 or len(fc.times) < 2:
        return svg
    xs = [float(p.split(",")[0]) for p in line.group(1).split()]
    span = (fc.times[-1] - fc.times[0]).total_seconds()

    def sx(t: dt.datetime) -> float:
        return xs[0] + (t - fc.times[0]).total_seconds() / span * (xs[-1] - xs[0])

    (ya, va), (yb, vb) = (tuple(map(float, ticks[0])), tuple(map(float, ticks[-1])))

    def sy(v: float) -> float:
        return ya + (v - va) * (yb - ya) / (vb - va)

    edge = [(sx(t), sy(v)) for t, v in zip(fc.times, fc.high_madrs, strict=True)]
    edge += [(sx(t), sy(v)) for t, v in reversed(list(zip(fc.times, fc.low_madrs, strict=True)))]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in edge)
    band = (
        f'<polygon class="forecast-band" points="{points}" fill="{FORECAST_COLOUR}" '
        f'fill-opacity="0.18" stroke="none"><title>{BAND_LABEL}</title></polygon>'
    )
    svg = re.sub(rf'<circle [^>]*fill="{FORECAST_COLOUR}">.*?</circle>', "", svg)
    svg = svg.replace('stroke="#999"/>', 'stroke="#999"/>' + band, 1)
    legend = re.findall(r'<text x="([0-9.]+)" y="([0-9.]+)" font-size="11">([^<]*)</text>', svg)
    x0 = max((float(x) + 7 * len(t) + 12 for x, _, t in legend), default=60.0)
    y0 = float(legend[-1][1]) if legend else 0.0
    key = (
        f'<rect x="{x0:.1f}" y="{y0 - 9:.1f}" width="22" height="10" fill="{FORECAST_COLOUR}" '
        f'fill-opacity="0.18"/><text x="{x0 + 26:.1f}" y="{y0:.1f}" font-size="11">'
        f"{BAND_LABEL}</text>"
    )
    return svg.replace("</svg>", key + "</svg>")


def score_charts(
    session: Session,
    patient_id: int,
    courses: dict[str, list[ra.CoursePoint]],
    forecast: PatientForecast | None = None,
) -> dict[str, str]:
    """One SVG per scale with scores: x the date, y the total from 0 to the scale's maximum;
    the MADRS chart carries ``forecast`` when it has one."""
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
        fc = forecast if scale == "MADRS" and forecast and forecast.available else None
        if fc is not None:
            series.append(
                Series(
                    FORECAST_LABEL,
                    list(zip(fc.times, fc.map_madrs, strict=True)),
                    dash="6 3",
                    colour=FORECAST_COLOUR,
                )
            )
        svg = time_chart_svg(
            series,
            x_label="date (sessions marked S1, S2, ...)",
            y_label=f"{scale} total (0-{top})",
            y_range=(0.0, top),
            markers=markers,
            title=f"{scale} over the course",
            chart_id=f"score-chart-{scale}",
        )
        out[scale] = _with_band(svg, fc) if fc is not None else svg
    return out
