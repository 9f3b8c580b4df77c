"""Inter-occasion variability: parameters that change from one occasion to the next.

An occasion is a time interval (a visit, a dosing session) on which a patient's parameters are
``P = TV x exp(eta + kappa_k)``: the eta is the patient's, the kappa the occasion's (``[iov]``
in the model file; NONMEM's OCC convention, Karlsson & Sheiner, J Pharmacokinet Biopharm
1993;21:735-750). Occasion ``k`` holds from its ``start_min`` until the next occasion starts.

Solved exactly segment by segment (:func:`ketasim.pk.piecewise.solve_piecewise`): each occasion
has its own rate matrix and output rows, the state (amounts) is carried across a boundary, and a
dose takes the bioavailability, lag and duration of the occasion in which it is given (as NONMEM
evaluates F1 and D1 on the dose record).

Where the occasions come from: an event table's ``OCC`` column (:mod:`ketasim.io.nonmem`), or
one occasion per dosing day (:func:`dose_day_starts`), used by trials.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pk.events import Dose, SystemInputs, resolve_inputs
from ketasim.pk.piecewise import Segment, solve_piecewise
from ketasim.pk.system import LinearSystem, build_system
from ketasim.types import FloatArray

__all__ = [
    "MINUTES_PER_DAY",
    "Occasion",
    "dose_day_starts",
    "occasion_index",
    "occasion_inputs",
    "occasion_systems",
    "solve_occasions",
]

MINUTES_PER_DAY = 1440.0


@dataclass(frozen=True)
class Occasion:
    """From ``start_min`` on (until the next occasion): the inter-occasion effects ``kappas``
    by parameter name (names with an ``[iov]`` entry; absent = 0)."""

    start_min: float
    kappas: Mapping[str, float] = field(default_factory=dict)


def dose_day_starts(dose_times_min: Iterable[float]) -> list[float]:
    """One occasion per dosing day: the time of the first dose of each day (day = 24 h from
    time 0) that has a dose, ascending. Empty without doses."""
    starts: dict[int, float] = {}
    for t in sorted(float(t) for t in dose_times_min):
        starts.setdefault(int(np.floor(t / MINUTES_PER_DAY)), t)
    return sorted(starts.values())


def occasion_index(starts_min: Sequence[float], times_min: FloatArray) -> np.ndarray:
    """For each time, the index of the occasion it falls in (times before the first start
    belong to the first occasion)."""
    idx = (
        np.searchsorted(
            np.asarray(starts_min, dtype=np.float64),
            np.asarray(times_min, dtype=np.float64),
            side="right",
        )
        - 1
    )
    return np.asarray(np.maximum(idx, 0), dtype=np.int64)


def _checked(occasions: Sequence[Occasion]) -> list[Occasion]:
    occ = list(occasions)
    if not occ:
        raise InputError("occasions", "give at least one occasion")
    starts = [o.start_min for o in occ]
    if any(b <= a for a, b in itertools.pairwise(starts)):
        raise InputError("occasions", f"occasion starts must increase strictly (min): {starts}")
    return occ


def occasion_systems(
    model: ModelSpec,
    patient: Patient,
    occasions: Sequence[Occasion],
    *,
    etas: Mapping[str, float] | None = None,
) -> list[LinearSystem]:
    """The patient's system on each occasion (its etas plus the occasion's kappas)."""
    return [build_system(model, patient, etas=etas, kappas=o.kappas) for o in _checked(occasions)]


def solve_occasions(
    model: ModelSpec,
    patient: Patient,
    doses: Sequence[Dose],
    occasions: Sequence[Occasion],
    times_min: FloatArray,
    *,
    etas: Mapping[str, float] | None = None,
    extra_inputs: SystemInputs | None = None,
) -> tuple[FloatArray, LinearSystem]:
    """Concentrations (ng/mL) at ``times_min`` (ascending), shape (times, outputs), and the
    first occasion's system (for output names).

    Each dose is resolved with the system of the occasion in which it is given; the
    ``extra_inputs`` (already resolved, e.g. from an event table) are added as they are.
    """
    occ = _checked(occasions)
    systems = occasion_systems(model, patient, occ, etas=etas)
    inputs = _resolved(patient, doses, occ, systems, extra_inputs)
    segments = [
        Segment(-np.inf if k == 0 else o.start_min, s.K, s.output_matrix() * 1000.0)
        for k, (o, s) in enumerate(zip(occ, systems, strict=True))
    ]
    times = np.asarray(times_min, dtype=np.float64)
    return solve_piecewise(segments, inputs, times), systems[0]


def _resolved(
    patient: Patient,
    doses: Sequence[Dose],
    occ: Sequence[Occasion],
    systems: Sequence[LinearSystem],
    extra_inputs: SystemInputs | None,
) -> SystemInputs:
    """Each dose resolved with the system of the occasion in which it is given."""
    inputs = SystemInputs() if extra_inputs is None else extra_inputs
    which = occasion_index([o.start_min for o in occ], np.array([d.time_min for d in doses]))
    for k, sys_ in enumerate(systems):
        mine = [d for d, w in zip(doses, which, strict=True) if w == k]
        if mine:
            inputs = inputs + resolve_inputs(sys_, mine, patient.weight_kg)
    if not inputs.boluses and not inputs.infusions:
        raise InputError("regimen", "no dose reaches the model (all doses have zero amount)")
    return inputs


def occasion_inputs(
    model: ModelSpec,
    patient: Patient,
    doses: Sequence[Dose],
    occasions: Sequence[Occasion],
    *,
    etas: Mapping[str, float] | None = None,
    extra_inputs: SystemInputs | None = None,
) -> tuple[SystemInputs, LinearSystem]:
    """The inputs of ``doses``, each resolved on its occasion (bioavailability, lag, duration),
    plus ``extra_inputs``; and the first occasion's system."""
    occ = _checked(occasions)
    systems = occasion_systems(model, patient, occ, etas=etas)
    return _resolved(patient, doses, occ, systems, extra_inputs), systems[0]
