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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ketasim.errors import InputError
from ketasim.expressions import Expression
from ketasim.pk.system import LinearSystem, RouteInputResolved
from ketasim.types import FloatArray
from ketasim.units import to_internal

__all__ = [
    "Bolus",
    "Dose",
    "Infusion",
    "InputEvent",
    "Regimen",
    "Reset",
    "SystemInputs",
    "dose_events",
    "pathway_events",
    "resolve_inputs",
    "single_inputs",
]

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
            raise InputError(
                "dose", f"{self.amount:g} {self.unit} is not a positive dose; a dose must be > 0"
            )
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
            Dose(
                d.amount, d.unit, d.time_min + k * every_min, d.route, d.duration_min, d.session_mg
            )
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
        return SystemInputs(
            self.boluses + other.boluses,
            self.infusions + other.infusions,
            self.resets + other.resets,
        )

    def event_times(self) -> list[float]:
        """Every time at which the input changes (min), unsorted."""
        times = [b.time_min for b in self.boluses] + [r.time_min for r in self.resets]
        for i in self.infusions:
            times += [i.start_min, i.end_min]
        return times


@dataclass(frozen=True)
class InputEvent:
    """One pathway of one dose, for P patients: ``amount_mg`` into ``state`` on [start, end).

    ``end_min == start_min`` (per patient) is an instantaneous bolus; otherwise a zero-order
    input at ``amount_mg / (end_min - start_min)`` mg/min. ``pump_rate_mg_per_min`` is the
    pump's rate for a user's infusion (the same rate, kept exact), None otherwise. Arrays have
    shape (P,).
    """

    state: int
    start_min: FloatArray
    end_min: FloatArray
    amount_mg: FloatArray
    pump_rate_mg_per_min: FloatArray | None = None


def _evaluate(
    expr: Expression,
    values: Mapping[str, Any],
    amount_mg: FloatArray,
    n: int,
    what: str,
    model_id: str,
) -> FloatArray:
    scope = dict(values)
    scope["DOSE_MG"] = amount_mg if n > 1 else float(amount_mg[0])
    out = np.broadcast_to(np.asarray(expr.evaluate(scope), dtype=np.float64), (n,)).copy()
    bad = ~np.isfinite(out) | (out < 0)
    if np.any(bad):
        shown = f"{out[bad][0]}" if n == 1 else f"an invalid value for {int(bad.sum())} patient(s)"
        raise InputError(what, f"model {model_id} gives {shown} for {what}")
    return out


def pathway_events(
    model_id: str,
    pathways: Sequence[RouteInputResolved],
    values: Mapping[str, Any],
    *,
    time_min: float,
    amount_mg: FloatArray,
    duration_min: float = 0.0,
    modelled_duration: bool = True,
    modelled_rate: bool = False,
    route: str = "",
    session_mg: float | None = None,
) -> list[InputEvent]:
    """The input events of one dose of ``amount_mg`` (shape (P,)) through ``pathways``.

    The one dose-to-input rule of the engine (see the module notes), for one patient or many:
    ``values`` are the individual parameters (floats or arrays of shape (P,)). A pathway's
    bioavailability acts on the amount; a user's infusion (``duration_min`` > 0) runs at the
    pump rate, so F shortens it; a pathway's modelled duration (NONMEM RATE = -2) is used when
    ``modelled_duration`` and the dose is not an infusion; with ``modelled_rate`` (NONMEM
    RATE = -1) the pathway's modelled rate gives the duration ``F x amount / rate``. A ``split``
    pathway's fraction divides the drug into parts (an enantiomer of a racemate), so an infusion
    keeps its duration at a scaled rate. ``session_mg`` (a device's session total) is the
    ``DOSE_MG`` the pathway's expressions see instead of the amount of this dose.
    """
    amount = np.asarray(amount_mg, dtype=np.float64)
    n = amount.shape[0]
    seen = amount if session_mg is None else np.full(n, session_mg)  # DOSE_MG
    events: list[InputEvent] = []
    for inp in pathways:
        f = _evaluate(inp.fraction, values, seen, n, "bioavailability", model_id)
        lag = _evaluate(inp.lag, values, seen, n, "lag", model_id) if inp.lag else np.zeros(n)
        start = time_min + lag
        delivered = f * amount
        if modelled_rate:
            if inp.rate is None:
                raise InputError(
                    "rate", f"RATE = -1 but route {route!r} of {model_id} has no modelled rate"
                )
            r = _evaluate(inp.rate, values, seen, n, "modelled rate", model_id)
            if np.any(r <= 0):
                raise InputError("rate", f"model {model_id} gives a modelled rate <= 0")
            events.append(InputEvent(inp.state, start, start + delivered / r, delivered))
        elif inp.duration is not None and modelled_duration:
            if duration_min > 0:
                raise InputError(
                    "duration_min",
                    f"route {route!r} of {model_id} has a modelled absorption "
                    "duration; give it as a single dose without an infusion duration",
                )
            d = _evaluate(inp.duration, values, seen, n, "absorption duration", model_id)
            events.append(InputEvent(inp.state, start, start + d, delivered))
        elif duration_min > 0 and inp.split:  # a part of the drug: same duration
            events.append(
                InputEvent(
                    inp.state, start, start + duration_min, delivered, delivered / duration_min
                )
            )
        elif duration_min > 0:
            events.append(
                InputEvent(
                    inp.state, start, start + f * duration_min, delivered, amount / duration_min
                )
            )
        else:
            events.append(InputEvent(inp.state, start, start.copy(), delivered))
    return events


def dose_events(
    model_id: str,
    routes: Mapping[str, Sequence[RouteInputResolved]],
    values: Mapping[str, Any],
    dose: Dose,
    weight_kg: ArrayLike,
) -> list[InputEvent]:
    """The input events of ``dose`` for patients weighing ``weight_kg`` (float or (P,))."""
    if dose.route not in routes:
        raise InputError(
            "route",
            f"model {model_id} does not support route {dose.route!r}; "
            f"supported: {', '.join(routes)}",
        )
    weight = np.atleast_1d(np.asarray(weight_kg, dtype=np.float64))
    value, dim = to_internal(dose.amount, dose.unit)
    amount = np.full(weight.shape, value)
    if dim in ("amount_per_kg", "dose_rate_per_kg"):
        amount = amount * weight
    if dim.startswith("dose_rate"):
        amount = amount * dose.duration_min
    return pathway_events(
        model_id,
        routes[dose.route],
        values,
        time_min=dose.time_min,
        amount_mg=amount,
        duration_min=dose.duration_min,
        route=dose.route,
        session_mg=dose.session_mg,
    )


def single_inputs(events: Iterable[InputEvent]) -> SystemInputs:
    """Boluses and infusions of one patient from input events of a batch of one."""
    boluses: list[Bolus] = []
    infusions: list[Infusion] = []
    for e in events:
        start, end, amount = float(e.start_min[0]), float(e.end_min[0]), float(e.amount_mg[0])
        if amount <= 0:
            continue
        if end > start:
            rate = (
                float(e.pump_rate_mg_per_min[0])
                if e.pump_rate_mg_per_min is not None
                else amount / (end - start)
            )
            infusions.append(Infusion(start, end, e.state, rate))
        else:
            boluses.append(Bolus(start, e.state, amount))
    return SystemInputs(tuple(boluses), tuple(infusions))


def resolve_inputs(system: LinearSystem, doses: Iterable[Dose], weight_kg: float) -> SystemInputs:
    """Translate doses into boluses and infusions on the system's states (see module notes)."""
    events: list[InputEvent] = []
    for dose in doses:
        events += dose_events(system.model_id, system.routes, system.parameters, dose, weight_kg)
    return single_inputs(events)


def regimen_from_doses(doses: Sequence[Dose]) -> Regimen:
    """A :class:`Regimen` of ``doses`` (convenience for callers holding a list)."""
    return Regimen(tuple(doses))
