"""Prepared systems for :func:`ketasim.pk.simulate`, reused across calls (a cache of work, not
of results).

Preparing a call (evaluating the model's parameters for the patient, assembling the rate
matrix, the matrix exponentials of the solver, resolving the regimen into inputs) costs about
as much as solving a day at 1-s resolution. A caller simulating the same patient under the same
model again (another regimen, another grid, a web page re-drawn) gets the same preparation from
a small least-recently-used cache instead.

The key is everything the preparation reads: the model object (by identity, held weakly, so a
model that is garbage-collected can never be confused with a new one at the same address; a
``model_copy(update=...)`` is a new object and a new key), the patient's covariates
(:meth:`ketasim.patient.Patient.covariates`, the only patient data the system reads) and the
etas. Catalogue models are frozen pydantic objects, so an entry cannot go stale while its model
lives. Regimens are frozen and hashable; their resolved inputs are kept per entry, keyed by the
regimen and the body weight its mg/kg doses are scaled by. The cached
rate matrix is read-only. Outputs are computed afresh on every call.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.patient import Patient
from ketasim.pk.events import Regimen, SystemInputs, resolve_inputs
from ketasim.pk.solve import ExactSolver
from ketasim.pk.system import LinearSystem, build_system
from ketasim.types import FloatArray

__all__ = ["Prepared", "cache_info", "clear_cache", "prepare"]

MAX_ENTRIES = 64  # patients x models x etas kept; each entry a few kB to a few hundred kB
MAX_REGIMENS = 16  # resolved regimens kept per entry
MAX_PROPAGATORS = 256  # step lengths kept per entry's solver (irregular grids add one per step)


@dataclass
class Prepared:
    """One patient's system under one model, its solver and output matrix (ng/mL per state)."""

    system: LinearSystem
    solver: ExactSolver
    project_ng_per_ml: FloatArray
    _model: weakref.ReferenceType[ModelSpec] | None = None
    _inputs: OrderedDict[tuple[Regimen, float], SystemInputs] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inputs(self, regimen: Regimen, weight_kg: float) -> SystemInputs:
        """The regimen's doses resolved into this system's inputs (kept per regimen)."""
        if self._model is None:  # not cached: nothing to keep
            return resolve_inputs(self.system, regimen, weight_kg)
        key = (regimen, float(weight_kg))  # weight: mg/kg doses (a covariate may differ)
        try:
            hash(key)
        except TypeError:  # a dose holding an unhashable value: resolve every time
            return resolve_inputs(self.system, regimen, weight_kg)
        with self._lock:
            hit = self._inputs.get(key)
            if hit is not None:
                self._inputs.move_to_end(key)
                return hit
        resolved = resolve_inputs(self.system, regimen, weight_kg)
        with self._lock:
            self._inputs[key] = resolved
            while len(self._inputs) > MAX_REGIMENS:
                self._inputs.popitem(last=False)
        return resolved


_Key = tuple[int, tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]
_entries: OrderedDict[_Key, Prepared] = OrderedDict()
_lock = threading.Lock()
_counts = {"hits": 0, "misses": 0}


def _key(model: ModelSpec, patient: Patient, etas: Mapping[str, float] | None) -> _Key | None:
    """The cache key, or None when the etas are not plain numbers (then nothing is cached)."""
    items: list[tuple[str, float]] = []
    for name, value in (etas or {}).items():
        if np.ndim(value) != 0:
            return None
        try:
            items.append((str(name), float(value)))
        except (TypeError, ValueError):
            return None
    eta_items = tuple(sorted(items))
    covariates = tuple(sorted(patient.covariates().items()))
    return id(model), covariates, eta_items


def _build(
    model: ModelSpec, patient: Patient, etas: Mapping[str, float] | None, *, keep: bool
) -> Prepared:
    system = build_system(model, patient, etas=etas)
    system.K.flags.writeable = False
    project = system.output_matrix() * 1000.0
    project.flags.writeable = False
    ref = weakref.ref(model) if keep else None
    return Prepared(system, ExactSolver(system.K, max_cached=MAX_PROPAGATORS), project, ref)


def prepare(
    model: ModelSpec, patient: Patient, etas: Mapping[str, float] | None = None
) -> Prepared:
    """The prepared system of ``patient`` under ``model`` (from the cache when possible)."""
    key = _key(model, patient, etas)
    if key is None:
        return _build(model, patient, etas, keep=False)
    with _lock:
        hit = _entries.get(key)
        if hit is not None and hit._model is not None and hit._model() is model:
            _entries.move_to_end(key)
            _counts["hits"] += 1
            return hit
    built = _build(model, patient, etas, keep=True)
    with _lock:
        _counts["misses"] += 1
        _entries[key] = built
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return built


def clear_cache() -> None:
    """Forget every prepared system (e.g. to time an unprepared call)."""
    with _lock:
        _entries.clear()
        _counts.update(hits=0, misses=0)


def cache_info() -> dict[str, int]:
    """Hits, misses and entries since the last :func:`clear_cache`."""
    with _lock:
        return {**_counts, "entries": len(_entries)}
