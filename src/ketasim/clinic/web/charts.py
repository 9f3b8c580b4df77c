"""Small server-rendered SVG charts (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["line_chart_svg"]


def line_chart_svg(
    points: Sequence[tuple[float, float]],
    *,
    x_label: str,
    y_label: str,
    y_max: float,
    hline: float | None = None,
    hline_label: str = "",
    width: int = 640,
    height: int = 280,
) -> str:
    """An SVG line chart of ``(x, y)`` points with y from 0 to ``y_max``; ``hline`` draws a dashed
    reference line (e.g. the response threshold)."""
    left, right, top, bottom = 48, 16, 16, 40
    w, h = width - left - right, height - top - bottom
    xs = [p[0] for p in points] or [0.0]
    x0, x1 = min(xs), max(xs)
    span = (x1 - x0) or 1.0

    def sx(x: float) -> float:
        return left + (x - x0) / span * w

    def sy(y: float) -> float:
        return top + h - y / y_max * h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(y_label)} over time">',
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>',
    ]
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_max * frac
        parts.append(
            f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" '
            f'font-size="11">{y:g}</text>'
        )
    if hline is not None:
        parts.append(
            f'<line x1="{left}" x2="{left + w}" y1="{sy(hline):.1f}" '
            f'y2="{sy(hline):.1f}" stroke="#d62728" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text x="{left + w - 4}" y="{sy(hline) - 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#d62728">{escape(hline_label)}</text>'
        )
    if points:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2.5"/>')
        for x, y in points:
            parts.append(
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#1f77b4">'
                f"<title>{x:g}: {y:g}</title></circle>"
            )
    parts.append(
        f'<text x="{left + w / 2}" y="{height - 8}" text-anchor="middle" '
        f'font-size="12">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="12" y="{top + h / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + h / 2})">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
