"""Server-rendered SVG charts against time (no JavaScript, no CDN): several series, labelled axes
with ticks on both, horizontal threshold lines and vertical event markers, and a legend."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Marker", "Series", "nice_ticks", "time_chart_svg"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


@dataclass(frozen=True)
class Series:
    """One line: (time, value) points, a legend label, and a dash pattern ('' solid)."""

    label: str
    points: Sequence[tuple[dt.datetime, float]]
    dash: str = ""
    colour: str = ""


@dataclass(frozen=True)
class Marker:
    """A labelled horizontal (``value``) or vertical (``at``) line."""

    label: str
    value: float | None = None
    at: dt.datetime | None = None
    colour: str = "#777"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values within [lo, hi] (steps 1, 2, 2.5, 5 or 10 x 10^k)."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def _time_ticks(t0: dt.datetime, t1: dt.datetime) -> tuple[list[dt.datetime], str]:
    span_min = (t1 - t0).total_seconds() / 60.0
    if span_min <= 36 * 60:
        steps = (5, 10, 15, 20, 30, 60, 120, 180, 360)
        step = next((s for s in steps if span_min / s <= 8), 360)
        start = t0.replace(second=0, microsecond=0)
        start -= dt.timedelta(minutes=start.minute % step if step < 60 else start.minute)
        ticks = []
        t = start
        while t <= t1:
            if t >= t0:
                ticks.append(t)
            t += dt.timedelta(minutes=step)
        return ticks, "%H:%M"
    span_d = span_min / 1440.0
    step_d = next((s for s in (1, 2, 7, 14, 28, 56) if span_d / s <= 8), 91)
    day = dt.datetime.combine(t0.date(), dt.time())
    ticks = []
    while day <= t1:
        if day >= t0:
            ticks.append(day)
        day += dt.timedelta(days=step_d)
    return ticks, "%d %b"


def time_chart_svg(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    markers: Sequence[Marker] = (),
    title: str = "",
    width: int = 720,
    height: int = 320,
    chart_id: str = "",
) -> str:
    """An SVG chart of ``series`` against clock time or date."""
    left, right, top, bottom = 60, 20, 28, 62
    w, h = width - left - right, height - top - bottom
    times = [t for s in series for t, _ in s.points] + [m.at for m in markers if m.at]
    values = [v for s in series for _, v in s.points] + [
        m.value for m in markers if m.value is not None
    ]
    if not times:
        return ""
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - dt.timedelta(minutes=30), t1 + dt.timedelta(minutes=30)
    pad = (t1 - t0) * 0.04
    t0, t1 = t0 - pad, t1 + pad
    lo, hi = y_range if y_range else (min(values), max(values))
    yt = nice_ticks(lo, hi)
    y0, y1 = min(yt[0], lo), max(yt[-1], hi)
    span = (t1 - t0).total_seconds()

    def sx(t: dt.datetime) -> float:
        return left + (t - t0).total_seconds() / span * w

    def sy(v: float) -> float:
        return top + h - (v - y0) / ((y1 - y0) or 1.0) * h

    ident = f' id="{escape(chart_id)}"' if chart_id else ""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg"{ident} role="img" class="chart" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title or y_label)}">',
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>',
    ]
    if title:
        out.append(
            f'<text x="{left}" y="18" font-size="13" font-weight="600">{escape(title)}</text>'
        )
    for v in yt:
        y = sy(v)
        out.append(
            f'<line class="ytick" x1="{left - 5}" x2="{left + w}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#e0e0e0"/>'
        )
        out.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{v:g}</text>'
        )
    ticks, fmt = _time_ticks(t0, t1)
    for t in ticks:
        x = sx(t)
        out.append(
            f'<line class="xtick" x1="{x:.1f}" x2="{x:.1f}" y1="{top + h}" '
            f'y2="{top + h + 5}" stroke="#555"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + h + 18}" text-anchor="middle" '
            f'font-size="11">{t.strftime(fmt)}</text>'
        )
    for m in markers:
        if m.value is not None and y0 <= m.value <= y1:
            y = sy(m.value)
            out.append(
                f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{m.colour}" stroke-dasharray="6 4"/>'
            )
            out.append(
                f'<text x="{left + w - 4}" y="{y - 4:.1f}" text-anchor="end" '
                f'font-size="11" fill="{m.colour}">{escape(m.label)}</text>'
            )
        elif m.at is not None:
            x = sx(m.at)
            out.append(
                f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
                f'y2="{top + h}" stroke="{m.colour}" stroke-dasharray="3 3"/>'
            )
            right_half = x > left + w * 0.7  # label on the left of the line near the edge
            out.append(
                f'<text x="{x - 3 if right_half else x + 3:.1f}" y="{top + 11}" font-size="10" '
                f'text-anchor="{"end" if right_half else "start"}" '
                f'fill="{m.colour}">{escape(m.label)}</text>'
            )
    legend_x = left
    for i, s in enumerate(series):
        colour = s.colour or _COLOURS[i % len(_COLOURS)]
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        pts = sorted(s.points)
        if pts:
            path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in pts)
            out.append(
                f'<polyline class="series" points="{path}" fill="none" '
                f'stroke="{colour}" stroke-width="2.2"{dash}/>'
            )
            for t, v in pts:
                out.append(
                    f'<circle cx="{sx(t):.1f}" cy="{sy(v):.1f}" r="3.5" fill="{colour}">'
                    f"<title>{escape(s.label)} {t.strftime(fmt)}: {v:g}</title></circle>"
                )
        out.append(
            f'<line x1="{legend_x}" x2="{legend_x + 22}" y1="{height - 10}" '
            f'y2="{height - 10}" stroke="{colour}" stroke-width="2.5"{dash}/>'
        )
        out.append(
            f'<text x="{legend_x + 26}" y="{height - 6}" font-size="11">{escape(s.label)}</text>'
        )
        legend_x += 34 + 7 * len(s.label)
    out.append(
        f'<text class="xlabel" x="{left + w / 2}" y="{top + h + 34}" '
        f'text-anchor="middle" font-size="12">{escape(x_label)}</text>'
    )
    out.append(
        f'<text class="ylabel" x="14" y="{top + h / 2}" font-size="12" '
        f'text-anchor="middle" transform="rotate(-90 14 {top + h / 2})">'
        f"{escape(y_label)}</text>"
    )
    out.append("</svg>")
    return "".join(out)
