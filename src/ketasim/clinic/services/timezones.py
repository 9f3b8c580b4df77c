"""Time zones of the clinic: stored UTC, shown and typed in the clinic's zone.

Conventions (every caller shares them):

- the database holds naive UTC (``TIMESTAMP WITHOUT TIME ZONE`` on PostgreSQL, ISO text on
  SQLite);
- a datetime with an offset (``Z``, ``+01:00``) is converted to UTC;
- a naive datetime coming from a person (a form, an API body without an offset) is clock time in
  the clinic's zone (``KETASIM_CLINIC_TZ``, an IANA name such as ``Europe/Paris``; default UTC);
- a naive datetime passed between services is UTC already (:func:`utc_naive` leaves it alone).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ketasim.clinic.services.base import Invalid

__all__ = [
    "CLOCK_TOLERANCE",
    "YEARS",
    "as_utc",
    "clinic_today",
    "clinic_zone",
    "from_clinic_clock",
    "local",
    "recorded_time",
    "utc_naive",
]

#: how far ahead of the server clock a typed time may be (clocks of two machines differ, and
#: a form's time has minutes only); a local setting, not a clinical number
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


@cache
def clinic_zone(name: str) -> ZoneInfo:
    """The zone ``name`` (IANA, e.g. ``Europe/Paris``); an unknown name is an error naming
    ``KETASIM_CLINIC_TZ``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            "KETASIM_CLINIC_TZ",
            f"unknown time zone {name!r}; give an IANA name such as UTC or Europe/Paris",
        ) from None


#: years a clinical time may have (input validation: keeps every conversion in range)
YEARS = (1900, 2999)


def utc_naive(value: dt.datetime, field: str = "time") -> dt.datetime:
    """``value`` as naive UTC: an aware value is converted; a naive one is taken as UTC. A year
    outside :data:`YEARS` is :class:`Invalid` naming ``field``."""
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise Invalid(
            field, f"year {value.year} is out of range; accepted {YEARS[0]} to {YEARS[1]}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=None)
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def recorded_time(value: dt.datetime, field: str, now: dt.datetime) -> dt.datetime:
    """The time something happened (a reading, an infusion start) as naive UTC, by
    :func:`utc_naive`; refused when it is in the future of ``now`` (naive UTC, the clinic's
    clock) beyond :data:`CLOCK_TOLERANCE`."""
    t = utc_naive(value, field)
    if t > now + CLOCK_TOLERANCE:
        raise Invalid(
            field,
            f"{t.isoformat(timespec='minutes')} UTC is in the future (now "
            f"{now.isoformat(timespec='minutes')} UTC); record it once it has happened",
        )
    return t


def from_clinic_clock(
    value: dt.datetime | None, zone: str, field: str = "time"
) -> dt.datetime | None:
    """A time typed by a person as naive UTC: an offset wins; without one it is clock time in
    the clinic's zone ``zone``."""
    if value is None:
        return None
    utc_naive(value, field)  # range check before any conversion
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=clinic_zone(zone))
    return utc_naive(value, field)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored naive-UTC value as an aware UTC datetime (for the API)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def local(value: dt.datetime | None, zone: str) -> dt.datetime | None:
    """A stored naive-UTC value as aware clock time of the clinic's zone (for pages)."""
    aware = as_utc(value)
    return None if aware is None else aware.astimezone(clinic_zone(zone))


def clinic_today(now: dt.datetime, zone: str) -> dt.date:
    """The clinic's calendar day at ``now`` (naive UTC) in its time zone ``zone``."""
    aware = local(now, zone)
    assert aware is not None
    return aware.date()
