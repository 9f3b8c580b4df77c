"""Dose and reset records of an event table as inputs of a linear system: the steady-state
(SS = 1/2 with II) and RATE (> 0, -1, -2) handling of :mod:`ketasim.io.nonmem`.

The conventions are those documented in :mod:`ketasim.io.nonmem` (NONMEM's): CMT numbers the
model's compartments from 1 in file order and a dose into a compartment takes the route input
that targets it (F1/ALAG1, and its modelled duration with RATE = -2 or rate with RATE = -1); a
ROUTE column applies a whole route; SS = 1 resets every state to the steady state of the dose
given every II since ever, SS = 2 adds it (:mod:`ketasim.pk.steady_state`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ketasim.errors import DataFileError
from ketasim.expressions import compile_expression
from ketasim.pk.events import InputEvent, Reset, SystemInputs, pathway_events, single_inputs
from ketasim.pk.steady_state import steady_state_inputs
from ketasim.pk.system import LinearSystem, RouteInputResolved

if TYPE_CHECKING:  # the records' types; nonmem.py imports this module
    from ketasim.io.nonmem import EventRecord, Individual

__all__ = ["individual_inputs"]


def individual_inputs(
    system: LinearSystem, individual: Individual, *, compartments: list[str]
) -> SystemInputs:
    """Translate an individual's dose and reset records into inputs of ``system``.

    ``compartments`` are the model's compartment names in file order (CMT 1 = first). Doses go
    through the engine's one dose-to-input rule (:func:`ketasim.pk.events.pathway_events`).
    """
    events: list[InputEvent] = []
    resets: list[Reset] = []
    steady: list[SystemInputs] = []
    default_route = "iv" if "iv" in system.routes else next(iter(system.routes))
    for rec in individual.records:
        if rec.evid in (3, 4):
            resets.append(Reset(rec.time_min))
        if rec.evid not in (1, 4):
            continue
        record_events = _record_events(system, rec, compartments, default_route)
        if rec.ss:
            dose = single_inputs(record_events)
            steady.append(
                steady_state_inputs(
                    system.K, dose, time_min=rec.time_min, ii_min=rec.ii_min, mode=rec.ss
                )
            )
        events += record_events
    single = single_inputs(events)
    out = SystemInputs(single.boluses, single.infusions, tuple(resets))
    for extra in steady:
        out = out + extra
    return out


def _record_events(
    system: LinearSystem, rec: EventRecord, compartments: list[str], default_route: str
) -> list[InputEvent]:
    amount = np.array([rec.amt_mg])
    duration = rec.amt_mg / rec.rate_mg_per_min if rec.rate_mg_per_min > 0 else 0.0
    modelled_rate = rec.rate_mg_per_min == -1
    if rec.route is not None or rec.cmt is None:
        route = rec.route or default_route
        if route not in system.routes:
            raise DataFileError(
                f"route {route!r} is not supported by {system.model_id} "
                f"(supported: {', '.join(system.routes)})",
                row=rec.row,
                column="ROUTE",
            )
        if modelled_rate and any(p.rate is None for p in system.routes[route]):
            raise DataFileError(
                f"RATE = -1 but route {route!r} of {system.model_id} has no modelled rate",
                row=rec.row,
                column="RATE",
            )
        return pathway_events(
            system.model_id,
            system.routes[route],
            system.parameters,
            time_min=rec.time_min,
            amount_mg=amount,
            duration_min=duration,
            modelled_rate=modelled_rate,
            route=route,
        )
    if not 1 <= rec.cmt <= len(compartments):
        raise DataFileError(
            f"CMT {rec.cmt} is not a compartment of {system.model_id} "
            f"(1 to {len(compartments)}: {', '.join(compartments)})",
            row=rec.row,
            column="CMT",
        )
    name = compartments[rec.cmt - 1]
    targeting = [
        inp for inputs in system.routes.values() for inp in inputs if inp.compartment == name
    ]
    if len(targeting) > 1 and len({i.fraction.text for i in targeting}) > 1:
        raise DataFileError(
            f"several routes dose into {name!r} with different bioavailability; add a ROUTE column",
            row=rec.row,
            column="CMT",
        )
    pathway = (
        targeting[0]
        if targeting
        else RouteInputResolved(rec.cmt - 1, name, compile_expression("1"), None, None)
    )
    if rec.rate_mg_per_min == -2 and pathway.duration is None:
        raise DataFileError(
            f"RATE = -2 but {name!r} has no modelled duration", row=rec.row, column="RATE"
        )
    if modelled_rate and pathway.rate is None:
        raise DataFileError(
            f"RATE = -1 but {name!r} has no modelled rate", row=rec.row, column="RATE"
        )
    # F1/ALAG1 of the pathway into CMT; its modelled duration (D1) only with RATE = -2
    return pathway_events(
        system.model_id,
        [replace(pathway, state=rec.cmt - 1)],
        system.parameters,
        time_min=rec.time_min,
        amount_mg=amount,
        duration_min=duration,
        modelled_duration=rec.rate_mg_per_min == -2,
        modelled_rate=modelled_rate,
        route=name,
    )
