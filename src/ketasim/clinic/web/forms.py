"""Reading the fields of a submitted page form: text, numbers, yes/no, dates and clock times of the
clinic's zone; a bad value is an :class:`~ketasim.clinic.services.base.Invalid` naming the field."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from ketasim.clinic.clock import clinic_now
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services.base import Invalid

__all__ = [
    "form_bool",
    "form_date",
    "form_list",
    "form_number",
    "form_required",
    "form_text",
    "form_time",
    "utc_now",
]


def form_text(form: FormData, name: str, default: str = "") -> str:
    """The field's text, stripped (``default`` when absent)."""
    v = form.get(name)
    return v.strip() if isinstance(v, str) else default


def form_number(form: FormData, name: str, *, required: bool = False) -> float | None:
    """The field as a number; blank: ``None`` (or :class:`Invalid` when ``required``)."""
    raw = form_text(form, name)
    if not raw:
        if required:
            raise Invalid(name, "required")
        return None
    try:
        return float(raw)
    except ValueError:
        raise Invalid(name, f"{raw!r} is not a number") from None


def form_required(form: FormData, name: str) -> float:
    """The field as a number that must be given."""
    v = form_number(form, name, required=True)
    assert v is not None
    return v


def form_bool(form: FormData, name: str) -> bool | None:
    """``yes``/``on``: True, ``no``: False, anything else: ``None`` (not answered)."""
    raw = form_text(form, name)
    return {"yes": True, "no": False, "on": True}.get(raw)


def form_date(form: FormData, name: str) -> dt.date:
    """The field as a date (YYYY-MM-DD)."""
    raw = form_text(form, name)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def utc_now(session: Session) -> dt.datetime:
    """Now on the clinic's clock (of ``session``) as naive UTC to the second (how times are
    stored)."""
    return clinic_now(session).replace(microsecond=0)


def form_time(form: FormData, name: str, zone: str = "UTC") -> dt.datetime | None:
    """A form's time: clock time of the clinic's zone (an explicit offset wins), as naive UTC."""
    raw = form_text(form, name)
    if not raw:
        return None
    try:
        return tz.from_clinic_clock(dt.datetime.fromisoformat(raw), zone, name)
    except ValueError:
        raise Invalid(name, f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None


def form_list(form: FormData, name: str) -> list[str]:
    """The field's comma- or line-separated items."""
    return [x.strip() for x in form_text(form, name).replace("\n", ",").split(",") if x.strip()]
