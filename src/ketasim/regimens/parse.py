"""Reading regimens written as text.

Grammar (case-insensitive; several doses separated by ``;``)::

    DOSE   := AMOUNT UNIT [ROUTE] ["bolus"] ["over" DURATION] ["at" TIME] [REPEAT]
    REPEAT := "every" DURATION "x" COUNT

Examples: ``0.5 mg/kg over 40 min``, ``2 mg/kg IV bolus``, ``84 mg intranasal``,
``56 mg intranasal every 84h x 4``, ``1 mg/kg/h over 2h``.

Devices given one after another (e.g. esketamine nasal spray, SPRAVATO label: 84 mg = three
28-mg devices with 5 min between devices)::

    DEVICES := COUNT "x" AMOUNT "mg" [ROUTE] "devices" [INTERVAL "apart"] ["at" TIME] [REPEAT]

``3 x 28 mg intranasal devices 5 min apart`` gives three 28-mg doses at 0, 5 and 10 min that
belong to one 84-mg session (the model sees the session total where a device count matters).
"""

from __future__ import annotations

import re

from ketasim.errors import InputError
from ketasim.pk.events import Dose, Regimen
from ketasim.units import parse_duration_min, parse_quantity

__all__ = ["ROUTE_ALIASES", "parse_regimen", "parse_repeat"]

ROUTE_ALIASES: dict[str, str] = {
    "iv": "iv",
    "intravenous": "iv",
    "im": "im",
    "intramuscular": "im",
    "in": "intranasal",
    "intranasal": "intranasal",
    "nasal": "intranasal",
    "oral": "oral",
    "po": "oral",
    "sublingual": "sublingual",
    "sl": "sublingual",
    "rectal": "rectal",
    "pr": "rectal",
    "buccal": "buccal",
    "inhaled": "inhaled",
    "sc": "subcutaneous",
    "subcutaneous": "subcutaneous",
}

_REPEAT_RE = re.compile(r"^\s*every\s+(?P<every>.+?)\s*[x×]\s*(?P<count>\d+)\s*$", re.I)


def parse_repeat(text: str, *, field: str = "repeat") -> tuple[float, int]:
    """Parse ``'every 12h x 4'`` into ``(interval_min, count)`` (count = doses in all)."""
    match = _REPEAT_RE.match(text or "")
    if not match:
        raise InputError(field, f"cannot read {text!r}; write e.g. 'every 12h x 4'")
    every = parse_duration_min(match.group("every"), field=field)
    count = int(match.group("count"))
    if every <= 0 or count < 1:
        raise InputError(field, f"{text!r}: interval must be > 0 and count >= 1")
    return every, count


def _route(word: str | None, default: str, field: str) -> str:
    if word is None:
        return default
    key = word.lower()
    if key not in ROUTE_ALIASES:
        raise InputError(
            field,
            f"unknown route {word!r}; accepted: {', '.join(sorted(set(ROUTE_ALIASES.values())))}",
        )
    return ROUTE_ALIASES[key]


_DEVICES_RE = re.compile(
    r"^\s*(?P<count>\d+)\s*[x×]\s*(?P<amount>[\d.]+\s*mg)\s+(?:(?P<route>[a-z]+)\s+)?"
    r"devices?(?:\s+(?P<gap>[\d.]+\s*[a-z]+)\s+apart)?(?P<rest>(?:\s+(?:at|every)\s+.*)?)$",
    re.I,
)


def _devices(text: str, *, route: str, field: str) -> Regimen | None:
    """``3 x 28 mg intranasal devices 5 min apart [at T] [every D x N]``, else ``None``."""
    m = _DEVICES_RE.match(text)
    if m is None:
        return None
    count = int(m.group("count"))
    if not 1 <= count <= 10:
        raise InputError(field, f"{text!r}: device count {count} must be 1 to 10")
    q = parse_quantity(m.group("amount"), field=field, expect=("amount",))
    gap = parse_duration_min(m.group("gap"), field=field) if m.group("gap") else 0.0
    if gap < 0:
        raise InputError(field, f"{text!r}: the interval between devices must be >= 0")
    the_route = _route(m.group("route"), route, field)
    rest = m.group("rest") or ""
    at = re.search(r"\s+at\s+(\S+(?:\s*[a-z]+)?)(?=\s+every|\s*$)", rest, re.I)
    start = parse_duration_min(at.group(1), field="at") if at else 0.0
    session = q.value * count
    regimen = Regimen(
        tuple(Dose(q.value, q.unit, start + k * gap, the_route, 0.0, session) for k in range(count))
    )
    every = re.search(r"\s+every\s+.*$", rest, re.I)
    if every:
        interval, n = parse_repeat(every.group(0).strip(), field=field)
        regimen = regimen.repeated(every_min=interval, count=n)
    return regimen


def _one_dose(text: str, *, route: str, over: str | None, field: str) -> Regimen:
    devices = _devices(text, route=route, field=field)
    if devices is not None:
        if over is not None:
            raise InputError(field, f"{text!r}: nasal devices are not infused (no --over)")
        return devices
    # split off the trailing keywords first so the amount keeps its unit
    tokens = text.strip()
    repeat = None
    m = re.search(r"\s+every\s+.*$", tokens, re.I)
    if m:
        repeat = m.group(0)
        tokens = tokens[: m.start()]
    at = None
    m = re.search(r"\s+at\s+(\S+(?:\s*[a-z]+)?)\s*$", tokens, re.I)
    if m:
        at = m.group(1)
        tokens = tokens[: m.start()]
    m = re.search(r"\s+over\s+(\S+(?:\s*[a-z]+)?)\s*$", tokens, re.I)
    if m:
        over = m.group(1)
        tokens = tokens[: m.start()]
    words = tokens.split()
    if words and words[-1].lower() == "bolus":
        if over is not None:
            raise InputError(field, f"{text!r} is both a bolus and an infusion")
        words = words[:-1]
    if len(words) >= 2 and words[-1].lower() in ROUTE_ALIASES and not _looks_like_unit(words):
        route = _route(words[-1], route, field)
        words = words[:-1]
    amount_text = " ".join(words)
    q = parse_quantity(
        amount_text,
        field=field,
        expect=("amount", "amount_per_kg", "dose_rate", "dose_rate_per_kg"),
    )
    duration = parse_duration_min(over, field="duration_min") if over is not None else 0.0
    if over is not None and duration <= 0:
        raise InputError("duration_min", f"{over!r}: an infusion must last > 0 min")
    time = parse_duration_min(at, field="at") if at is not None else 0.0
    regimen = Regimen.of(Dose(q.value, q.unit, time, route, duration))
    if repeat is not None:
        every, count = parse_repeat(repeat.strip(), field=field)
        regimen = regimen.repeated(every_min=every, count=count)
    return regimen


def _looks_like_unit(words: list[str]) -> bool:
    # "2 mg" + "in"? never: a route word is only taken when an amount with unit precedes it
    return len(words) < 3 and not re.match(r"^[\d.]+[a-zµμ/]+$", words[0], re.I)


def parse_regimen(
    text: str,
    *,
    route: str = "iv",
    over: str | None = None,
    repeat: str | None = None,
    field: str = "dose",
) -> Regimen:
    """Parse a regimen written as text (see the module docstring for the grammar).

    ``route``, ``over`` and ``repeat`` are defaults from separate CLI options (``--route``,
    ``--over``, ``--repeat``); words in ``text`` take precedence.
    """
    if not text or not text.strip():
        raise InputError(field, "empty dose; write e.g. '0.5 mg/kg'")
    default_route = _route(route, "iv", "route")
    parts = [p for p in text.split(";") if p.strip()]
    regimen: Regimen | None = None
    for part in parts:
        r = _one_dose(part, route=default_route, over=over, field=field)
        regimen = r if regimen is None else regimen + r
    assert regimen is not None
    if repeat:
        every, count = parse_repeat(repeat)
        regimen = regimen.repeated(every_min=every, count=count)
    return regimen
