"""Units and conversions: the one place where ketasim knows what a unit string means.

Internal system (used by the catalogue after loading and by the PK engine):
amount **mg**, volume **L**, time **min**, concentration **mg/L** (= µg/mL).
Outputs are reported in ng/mL (= µg/L) unless stated otherwise.

A unit string is normalised (``µg``/``μg``/``mcg`` -> ``ug``; ``/min`` -> ``1/min``; spaces
removed), then looked up in a table of (dimension, factor to the internal unit).

Molecular weights (g/mol) of the analytes ketasim models, used for molar conversions:
ketamine (racemic, S or R) 237.73 (C13H16ClNO; Merck Index; shared/reference/ketamine-models.md G);
norketamine 223.70 (C12H14ClNO); hydroxynorketamine 239.70 (C12H14ClNO2); dehydronorketamine
221.69 (C12H12ClNO) - formula masses as used by nlmixr2lib's Simons 2022 model and computed from
the formulae (shared/reference/metabolites.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from ketasim.errors import UnitError

__all__ = [
    "MOLECULAR_WEIGHT_G_PER_MOL",
    "Quantity",
    "convert",
    "dimension_of",
    "parse_duration_min",
    "parse_quantity",
    "to_internal",
]

MOLECULAR_WEIGHT_G_PER_MOL: Final[dict[str, float]] = {
    "ketamine": 237.73,
    "esketamine": 237.73,
    "arketamine": 237.73,
    "norketamine": 223.70,
    "noresketamine": 223.70,
    "hydroxynorketamine": 239.70,
    "dehydronorketamine": 221.69,
}

# unit -> (dimension, factor converting a value in this unit to the internal unit)
_UNITS: Final[dict[str, tuple[str, float]]] = {
    # amount (internal mg)
    "mg": ("amount", 1.0),
    "g": ("amount", 1000.0),
    "ug": ("amount", 1e-3),
    "ng": ("amount", 1e-6),
    # amount per body weight (internal mg/kg)
    "mg/kg": ("amount_per_kg", 1.0),
    "ug/kg": ("amount_per_kg", 1e-3),
    # dose rate (internal mg/min)
    "mg/min": ("dose_rate", 1.0),
    "mg/h": ("dose_rate", 1.0 / 60.0),
    "ug/min": ("dose_rate", 1e-3),
    "ug/h": ("dose_rate", 1e-3 / 60.0),
    # dose rate per weight (internal mg/kg/min)
    "mg/kg/min": ("dose_rate_per_kg", 1.0),
    "mg/kg/h": ("dose_rate_per_kg", 1.0 / 60.0),
    "ug/kg/min": ("dose_rate_per_kg", 1e-3),
    "ug/kg/h": ("dose_rate_per_kg", 1e-3 / 60.0),
    # volume (internal L)
    "L": ("volume", 1.0),
    "mL": ("volume", 1e-3),
    # volume per weight (internal L/kg)
    "L/kg": ("volume_per_kg", 1.0),
    "mL/kg": ("volume_per_kg", 1e-3),
    # flow / clearance (internal L/min)
    "L/min": ("flow", 1.0),
    "L/h": ("flow", 1.0 / 60.0),
    "mL/min": ("flow", 1e-3),
    "mL/h": ("flow", 1e-3 / 60.0),
    # flow per weight (internal L/min/kg)
    "L/min/kg": ("flow_per_kg", 1.0),
    "L/h/kg": ("flow_per_kg", 1.0 / 60.0),
    "mL/min/kg": ("flow_per_kg", 1e-3),
    # first-order rate constant (internal 1/min)
    "1/min": ("rate_constant", 1.0),
    "1/h": ("rate_constant", 1.0 / 60.0),
    "1/s": ("rate_constant", 60.0),
    "1/d": ("rate_constant", 1.0 / 1440.0),
    # time (internal min)
    "min": ("time", 1.0),
    "s": ("time", 1.0 / 60.0),
    "h": ("time", 60.0),
    "d": ("time", 1440.0),
    # mass concentration (internal mg/L)
    "mg/L": ("concentration", 1.0),
    "ug/mL": ("concentration", 1.0),
    "ng/mL": ("concentration", 1e-3),
    "ug/L": ("concentration", 1e-3),
    "mg/mL": ("concentration", 1000.0),
    # molar concentration (internal umol/L; converting to mg/L needs a molecular weight)
    "uM": ("molar_concentration", 1.0),
    "umol/L": ("molar_concentration", 1.0),
    "nmol/mL": ("molar_concentration", 1.0),
    "nM": ("molar_concentration", 1e-3),
    "nmol/L": ("molar_concentration", 1e-3),
    # syringe concentration (internal mg/mL)
    # dimensionless
    "": ("dimensionless", 1.0),
    "1": ("dimensionless", 1.0),
    "fraction": ("dimensionless", 1.0),
    "%": ("dimensionless", 0.01),
    "kg": ("weight", 1.0),
    "y": ("age", 1.0),
    "years": ("age", 1.0),
}

_ALIASES: Final[dict[str, str]] = {
    "mcg": "ug",
    "µg": "ug",
    "μg": "ug",
    "µmol": "umol",
    "μmol": "umol",
    "µM": "uM",
    "μM": "uM",
    "l": "L",
    "ml": "mL",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "day": "d",
    "days": "d",
}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY_RE = re.compile(rf"^\s*({_NUMBER})\s*(.*?)\s*$")


@lru_cache(maxsize=1024)  # pure in ``unit``; parameter units are re-read per patient
def _normalise(unit: str) -> str:
    """Return the canonical spelling of ``unit`` (e.g. ``'µg / kg'`` -> ``'ug/kg'``)."""
    text = unit.strip().replace(" ", "").replace("per", "/").replace("·", "")
    parts = text.split("/")
    out = []
    for part in parts:
        for alias, canonical in _ALIASES.items():
            if part == alias:
                part = canonical
                break
        else:
            for prefix in ("mcg", "µg", "μg", "µmol", "μmol", "µM", "μM"):
                if part.startswith(prefix):
                    part = _ALIASES[prefix] + part[len(prefix) :]
        out.append(part)
    canonical = "/".join(out)
    if canonical.startswith("/"):
        canonical = "1" + canonical
    return canonical


def dimension_of(unit: str) -> str:
    """The dimension name of ``unit`` (``'amount'``, ``'flow'``, ``'time'``, ...).

    Raises :class:`~ketasim.errors.UnitError` for an unknown unit.
    """
    key = _normalise(unit)
    if key not in _UNITS:
        raise UnitError("unit", f"unknown unit {unit!r}; accepted: {', '.join(_known())}")
    return _UNITS[key][0]


def _known() -> list[str]:
    return sorted(k for k in _UNITS if k)


def to_internal(
    value: float, unit: str, *, expect: str | tuple[str, ...] | None = None, field: str = "unit"
) -> tuple[float, str]:
    """Convert ``value`` in ``unit`` to ketasim's internal unit of that dimension.

    Returns ``(internal_value, dimension)``. With ``expect``, a unit of another dimension is an
    error naming ``field``.
    """
    key = _normalise(unit)
    if key not in _UNITS:
        raise UnitError(field, f"unknown unit {unit!r}; accepted: {', '.join(_known())}")
    dimension, factor = _UNITS[key]
    if expect is not None:
        allowed = (expect,) if isinstance(expect, str) else expect
        if dimension not in allowed:
            examples = [k for k, (d, _) in _UNITS.items() if d in allowed and k]
            raise UnitError(
                field,
                f"unit {unit!r} is a {dimension.replace('_', ' ')}; expected one of: "
                f"{', '.join(examples)}",
            )
    return value * factor, dimension


def convert(
    value: float, from_unit: str, to_unit: str, *, molecular_weight_g_per_mol: float | None = None
) -> float:
    """Convert ``value`` between two units of the same dimension.

    Mass and molar concentrations convert into each other when ``molecular_weight_g_per_mol`` is
    given (1 µmol/L x MW g/mol = MW µg/L).
    """
    v_internal, dim_from = to_internal(value, from_unit)
    dim_to = dimension_of(to_unit)
    factor_to = _UNITS[_normalise(to_unit)][1]
    if dim_from == dim_to:
        return v_internal / factor_to
    pair = {dim_from, dim_to}
    if pair == {"concentration", "molar_concentration"}:
        if molecular_weight_g_per_mol is None or molecular_weight_g_per_mol <= 0:
            raise UnitError(
                "molecular_weight_g_per_mol",
                "a positive molecular weight is needed to convert mass <-> molar",
            )
        mw = molecular_weight_g_per_mol
        if dim_from == "molar_concentration":  # umol/L -> mg/L
            return v_internal * mw * 1e-3 / factor_to
        return v_internal / (mw * 1e-3) / factor_to  # mg/L -> umol/L
    raise UnitError("unit", f"cannot convert {from_unit!r} ({dim_from}) to {to_unit!r} ({dim_to})")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value with its unit as written by the user, e.g. ``Quantity(0.5, 'mg/kg')``."""

    value: float
    unit: str

    @property
    def dimension(self) -> str:
        """Dimension name of the unit (see :func:`dimension_of`)."""
        return dimension_of(self.unit)

    def to_internal(self) -> float:
        """Value in the internal unit of its dimension (mg, L, min, mg/L, ...)."""
        return to_internal(self.value, self.unit)[0]

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


def parse_quantity(
    text: str, *, field: str = "value", expect: str | tuple[str, ...] | None = None
) -> Quantity:
    """Parse ``'0.5 mg/kg'``, ``'40min'`` or ``'1 ug/mL'`` into a :class:`Quantity`.

    ``expect`` restricts the dimension; a mismatch or a malformed string is a
    :class:`~ketasim.errors.UnitError` naming ``field``.
    """
    match = _QUANTITY_RE.match(text or "")
    if not match:
        raise UnitError(field, f"cannot read {text!r}; write a number and a unit, e.g. '0.5 mg/kg'")
    value = float(match.group(1))
    unit = _normalise(match.group(2))
    if unit not in _UNITS:
        allowed = (expect,) if isinstance(expect, str) else expect
        accepted = (
            _known()
            if allowed is None
            else [k for k, (d, _) in _UNITS.items() if d in allowed and k]
        )
        raise UnitError(
            field, f"unknown unit {match.group(2)!r} in {text!r}; accepted: {', '.join(accepted)}"
        )
    if expect is not None:
        to_internal(value, unit, expect=expect, field=field)
    return Quantity(value, unit)


def parse_duration_min(text: str, *, field: str = "duration") -> float:
    """Parse a duration such as ``'40min'``, ``'4 h'`` or ``'30s'`` and return minutes.

    A bare number is refused: durations must carry their unit.
    """
    q = parse_quantity(text, field=field, expect="time")
    if q.value < 0:
        raise UnitError(field, f"{text!r} is negative; a duration must be >= 0")
    return q.to_internal()
