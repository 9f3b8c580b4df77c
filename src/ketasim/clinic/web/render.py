"""Rendering a page: the template set (built on first use), the current user, the CSRF token and
the clinic's time zone in every page; clock times shown in that zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from ketasim.clinic.api.deps import optional_user
from ketasim.clinic.clock import is_test_clock
from ketasim.clinic.services import timezones as tz

__all__ = ["render", "see_other", "templates"]

_templates: list[Jinja2Templates] = []


def templates() -> Jinja2Templates:
    """The template set (built on first use, not at import)."""
    if not _templates:
        t = Jinja2Templates(directory=Path(__file__).parent / "templates")
        t.env.filters["clinic_time"] = _clinic_time
        _templates.append(t)
    return _templates[0]


def _clinic_time(value: dt.datetime | None, zone: str) -> str:
    """A stored (naive UTC) time as clock time of the clinic's zone, e.g. ``2026-01-05 11:00
    CET``."""
    shown = tz.local(value, zone)
    return "" if shown is None else shown.strftime("%Y-%m-%d %H:%M %Z")


def render(
    request: Request,
    name: str,
    ctx: Mapping[str, object] | None = None,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    """Render a page with the current user and CSRF token."""
    user = getattr(request.state, "user", None) or optional_user(request)
    settings = request.app.state.settings
    base = {"user": user, "tz": settings.clinic_tz}
    if is_test_clock(settings.clock):
        base["test_clock_now"] = settings.clock.now()
    return templates().TemplateResponse(
        request, name, {**base, **(ctx or {}), **context}, status_code=status_code
    )


def see_other(url: str) -> RedirectResponse:
    """The answer to a form that worked: go to ``url`` (303, the browser GETs it)."""
    return RedirectResponse(url, status_code=303)
