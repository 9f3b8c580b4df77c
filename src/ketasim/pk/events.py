"""Doses and regimens, and their translation into inputs of a linear system.

Conventions (documented because users of NONMEM-like tools expect them):

- A **bolus** (``duration_min == 0``) by a route enters each of the route's compartments as an
  instantaneous amount ``F x dose`` at ``time + lag``; a route input with a modelled duration
  (e.g. the swallowed part of a nasal dose) enters as a zero-order input over that duration
  instead (NONMEM RATE = -2).
- An **infusion** (``duration_min > 0``) is a pump running at ``rate = dose / duration``. As in
  NONMEM, bioavailability acts on the amount, not the rate: ``F x dose`` is delivered at that
  rate, so the input lasts ``F x duration``. For IV routes F = 1 and nothing changes.
- A concentration reported at the exact time of a bolus includes that bolus (right-continuous).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ketasim.errors import InputError
from ketasim.pk.system import LinearSystem
from ketasim.units import to_internal

__all__ = ["Bolus", "Dose", "Infusion", "Regimen", "Reset", "SystemInputs", "resolve_inputs"]

_AMOUNT_DIMENSIONS = ("amount", "amount_per_kg", "dose_rate", "dose_rate_per_kg")


@dataclass(frozen=True, slots=True)
class Dose:
    """One administration.

    Parameters
    ----------
    amount:
        Dose value in ``unit``.
    unit:
        ``mg``, ``ug``, ``g``, ``mg/kg``, ``ug/kg``; or a rate (``mg/kg/h``, ``mg/h``, ...), in
        which case ``duration_min`` must be > 0 and the amount is rate x duration.
    time_min:
        Start time (min).
    route:
        Route name (``iv``, ``im``, ``intranasal``, ``oral``, ...).
    duration_min:
        0 for a bolus/instant dose; > 0 for a zero-order infusion over this many minutes.
    session_mg:
        Optional: total (mg) of the session this dose is part of, e.g. 84 for one of three
        28-mg nasal devices given 5 min apart. Route expressions then see ``DOSE_MG`` = the
        session total (a model's device-count effect applies to the session), while each
        device enters at its own time.
    """

    amount: float
    unit: str = "mg"
    time_min: float = 0.0
    route: str = "iv"
    duration_min: float = 0.0
    session_mg: float | None = None

    def __post_init__(self) -> None:
        _, dim = to_internal(1.0, self.unit, expect=_AMOUNT_DIMENSIONS, field="dose unit")
        if not np.isfinite(self.amount) or self.amount <= 0:
            raise InputError("dose", f"{self.amount:g} {self.unit} is not a positive dose; "
                             "a dose must be > 0")
        if not np.isfinite(self.time_min):
            raise InputError("time", f"dose time {self.time_min} is not a number")
        if not np.isfinite(self.duration_min) or self.duration_min < 0:
            raise InputError("duration", f"{self.duration_min:g} min is negative; must be >= 0")
        if dim.startswith("dose_rate") and self.duration_min <= 0:
            raise InputError("duration", f"a rate ({self.unit}) needs an infusion duration > 0")
        if self.session_mg is not None and not self.session_mg > 0:
            raise InputError("session", f"session total {self.session_mg:g} mg must be > 0")

    @property
    def is_rate(self) -> bool:
        """Whether ``amount`` is a rate (mg/h, mg/kg/h, ...)."""
        return bool(to_internal(1.0, self.unit)[1].startswith("dose_rate"))

    def amount_mg(self, weight_kg: float) -> float:
        """Total amount in mg for a patient weighing ``weight_kg`` kg."""
        value, dim = to_internal(self.amount, self.unit)
        if dim in ("amount_per_kg", "dose_rate_per_kg"):
            value *= weight_kg
        if dim.startswith("dose_rate"):
            value *= self.duration_min
        return float(value)

    def describe(self) -> str:
        """Short human-readable form, e.g. ``'0.5 mg/kg iv over 40 min at 0 min'``."""
        over = f" over {self.duration_min:g} min" if self.duration_min > 0 else ""
        session = f" (of a {self.session_mg:g} mg session)" if self.session_mg else ""
        return f"{self.amount:g} {self.unit} {self.route}{over} at {self.time_min:g} min{session}"


@dataclass(frozen=True, slots=True)
class Regimen:
    """An ordered, immutable collection of doses."""

    doses: tuple[Dose, ...]

    def __post_init__(self) -> None:
        if not self.doses:
            raise InputError("regimen", "a regimen needs at least one dose")
        object.__setattr__(self, "doses", tuple(sorted(self.doses, key=lambda d: d.time_min)))

    @classmethod
    def of(cls, *doses: Dose) -> Regimen:
        """A regimen of the given doses."""
        return cls(tuple(doses))

    def __iter__(self) -> Iterator[Dose]:
        return iter(self.doses)

    def __len__(self) -> int:
        return len(self.doses)

    def repeated(self, *, every_min: float, count: int) -> Regimen:
        """This regimen given ``count`` times in all, each ``every_min`` minutes after the last."""
        if count < 1:
            raise InputError("repeat", f"count {count} must be >= 1")
        if every_min <= 0:
            raise InputError("repeat", f"interval {every_min:g} min must be > 0")
        doses = [
            Dose(d.amount, d.unit, d.time_min + k * every_min, d.route, d.duration_min,
                 d.session_mg)
            for k in range(count)
            for d in self.doses
        ]
        return Regimen(tuple(doses))

    def __add__(self, other: Regimen) -> Regimen:
        return Regimen(self.doses + other.doses)

    @property
    def last_time_min(self) -> float:
        """End of the last dose's administration (min)."""
        return max(d.time_min + d.duration_min for d in self.doses)


@dataclass(frozen=True, slots=True)
class Bolus:
    """Instantaneous amount (mg) added to ``state`` at ``time_min``."""

    time_min: float
    state: int
    amount_mg: float


@dataclass(frozen=True, slots=True)
class Infusion:
    """Zero-order input ``rate_mg_per_min`` into ``state`` on [start_min, end_min)."""

    start_min: float
    end_min: float
    state: int
    rate_mg_per_min: float


@dataclass(frozen=True, slots=True)
class Reset:
    """All states set to zero at ``time_min`` (NONMEM EVID 3/4)."""

    time_min: float


@dataclass(frozen=True, slots=True)
class SystemInputs:
    """Inputs of a linear system, resolved to states and internal units."""

    boluses: tuple[Bolus, ...] = ()
    infusions: tuple[Infusion, ...] = ()
    resets: tuple[Reset, ...] = ()

    def __add__(self, other: SystemInputs) -> SystemInputs:
        return SystemInputs(self.boluses + other.boluses, self.infusions + other.infusions,
                            self.resets + other.resets)

    def event_times(self) -> list[float]:
        """Every time at which the input changes (min), unsorted."""
        times = [b.time_min for b in self.boluses] + [r.time_min for r in self.resets]
        for i in self.infusions:
            times += [i.start_min, i.end_min]
        return times


def _eval_input(expr_text: object, system: LinearSystem, dose_mg: float, what: str) -> float:
    from ketasim.expressions import Expression

    assert isinstance(expr_text, Expression)
    values = dict(system.parameters)
    values["DOSE_MG"] = dose_mg
    value = float(expr_text.evaluate(values))
    if not np.isfinite(value) or value < 0:
        raise InputError(what, f"model {system.model_id} gives {value} for {what}")
    return value


def resolve_inputs(system: LinearSystem, doses: Iterable[Dose], weight_kg: float) -> SystemInputs:
    """Translate doses into boluses and infusions on the system's states (see module notes)."""
    boluses: list[Bolus] = []
    infusions: list[Infusion] = []
    for dose in doses:
        if dose.route not in system.routes:
            raise InputError(
                "route", f"model {system.model_id} does not support route {dose.route!r}; "
                f"supported: {', '.join(system.routes)}"
            )
        amount = dose.amount_mg(weight_kg)
        seen = dose.session_mg if dose.session_mg is not None else amount  # DOSE_MG
        for inp in system.routes[dose.route]:
            f = _eval_input(inp.fraction, system, seen, "bioavailability")
            lag = _eval_input(inp.lag, system, seen, "lag") if inp.lag else 0.0
            start = dose.time_min + lag
            delivered = f * amount
            if delivered <= 0:
                continue
            if inp.duration is not None:
                if dose.duration_min > 0:
                    raise InputError(
                        "duration", f"route {dose.route!r} of {system.model_id} has a modelled "
                        "absorption duration; give it as a single dose without --over"
                    )
                d = _eval_input(inp.duration, system, seen, "absorption duration")
                if d > 0:
                    infusions.append(Infusion(start, start + d, inp.state, delivered / d))
                    continue
                boluses.append(Bolus(start, inp.state, delivered))
            elif dose.duration_min > 0 and inp.split:  # a part of the drug: same duration
                infusions.append(Infusion(start, start + dose.duration_min, inp.state,
                                          delivered / dose.duration_min))
            elif dose.duration_min > 0:
                rate = amount / dose.duration_min  # pump rate; F shortens the duration (NONMEM)
                infusions.append(Infusion(start, start + delivered / rate, inp.state, rate))
            else:
                boluses.append(Bolus(start, inp.state, delivered))
    return SystemInputs(tuple(boluses), tuple(infusions))


def regimen_from_doses(doses: Sequence[Dose]) -> Regimen:
    """A :class:`Regimen` of ``doses`` (convenience for callers holding a list)."""
    return Regimen(tuple(doses))
