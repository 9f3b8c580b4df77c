"""Many patients at once: individual parameters, rate matrices and dose inputs as arrays.

The batched counterpart of :func:`ketasim.pk.build_system` and :func:`ketasim.pk.resolve_inputs`:
the same model file gives, for P patients, rate matrices ``K`` of shape (P, n, n), output rows of
shape (P, n_out, n) and dose inputs whose amounts, rates and times are arrays over patients.
The construction mirrors :mod:`ketasim.pk.system` rule for rule (flows, molar conversion, effect
sites); ``tests/population/test_batch.py`` checks it against ``build_system`` for every model of
the catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelError
from ketasim.expressions import Expression
from ketasim.pk import Regimen, individual_parameters
from ketasim.units import to_internal

__all__ = ["BatchInputs", "BatchSystem", "InputEvent", "batch_inputs", "batch_system"]

FloatArray = NDArray[np.float64]

NG_PER_ML_PER_MG_PER_L = 1000.0


@dataclass(frozen=True)
class BatchSystem:
    """Linear systems of P patients under one model (internal units, min).

    ``K``: (P, n, n) rate matrices (1/min). ``C``: (P, n_out, n) output rows giving
    concentrations in **ng/mL** from the state (mg amounts, mg/L effect sites).
    ``values``: every parameter, derived value and covariate as an array of shape (P,).
    """

    model_id: str
    K: FloatArray
    C: FloatArray
    state_names: tuple[str, ...]
    output_names: tuple[str, ...]
    values: Mapping[str, FloatArray]

    @property
    def n_patients(self) -> int:
        """P."""
        return int(self.K.shape[0])


@dataclass(frozen=True)
class InputEvent:
    """One pathway of one dose, for all patients: ``amount_mg`` into ``state`` on [start, end).

    ``end_min == start_min`` (per patient) is an instantaneous bolus; otherwise a zero-order
    input at ``amount_mg / (end_min - start_min)`` mg/min. Arrays have shape (P,).
    """

    state: int
    start_min: FloatArray
    end_min: FloatArray
    amount_mg: FloatArray


@dataclass(frozen=True)
class BatchInputs:
    """Every dose input of P patients."""

    events: tuple[InputEvent, ...]

    def time_signatures(self) -> NDArray[np.float64]:
        """Per patient, the start and end time of every event, shape (P, 2 x n_events)."""
        if not self.events:
            return np.zeros((0, 0))
        cols = [a for e in self.events for a in (e.start_min, e.end_min)]
        return np.column_stack(cols)


def _as_array(value: Any, n: int, where: str, model_id: str) -> FloatArray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{model_id}: {where} is not finite for "
                         f"{int(np.sum(~np.isfinite(arr)))} patient(s)")
    return arr


def batch_system(model: ModelSpec, covariates: Mapping[str, FloatArray],
                 etas: Mapping[str, FloatArray] | None = None) -> BatchSystem:
    """Rate matrices and output rows of P patients.

    ``covariates`` maps ``WT``, ``AGE``, ``HT``, ``FEMALE`` (and model flags) to arrays of shape
    (P,); ``etas`` maps parameters with an ``[iiv]`` entry to arrays of random effects.
    """
    n_pat = int(np.asarray(covariates["WT"]).shape[0])
    raw = individual_parameters(model, covariates, etas)
    values = {k: _as_array(v, n_pat, k, model.id) for k, v in raw.items()
              if np.ndim(v) <= 1}

    def ev(text: str, where: str) -> FloatArray:
        expr = Expression(text)
        missing = expr.names - set(values)
        if missing:
            raise InputError("population", f"model {model.id} needs "
                             f"{', '.join(sorted(missing))} for {where}")
        return _as_array(expr.evaluate(values), n_pat, where, model.id)

    comps = model.compartments
    index = {c.name: i for i, c in enumerate(comps)}
    volumes: dict[str, FloatArray] = {}
    for c in comps:
        if c.volume is not None:
            v = ev(c.volume, f"volume of {c.name}")
            if np.any(v <= 0):
                raise ModelError(f"{model.id}: volume of {c.name} is <= 0 L for "
                                 f"{int(np.sum(v <= 0))} patient(s)")
            volumes[c.name] = v
    mw = {a.name: a.molecular_weight_g_per_mol for a in model.analytes}
    n_comp = len(comps)
    n = n_comp + len(model.effect_sites)
    K = np.zeros((n_pat, n, n))
    for i, f in enumerate(model.flows):
        src = index[f.from_]
        if f.rate is not None:
            k = ev(f.rate, f"flows[{i}].rate")
        else:
            k = ev(f.clearance or "", f"flows[{i}].clearance") / volumes[f.from_]
        if np.any(k < 0):
            raise ModelError(f"{model.id}: flows[{i}] has a negative rate for "
                             f"{int(np.sum(k < 0))} patient(s)")
        K[:, src, src] -= k
        if f.to is not None:
            factor = 1.0
            a_from, a_to = comps[src].analyte, comps[index[f.to]].analyte
            conversion = f.conversion or ("molar" if a_from != a_to else "none")
            if conversion == "molar" and a_from and a_to and a_from != a_to:
                factor = mw[a_to] / mw[a_from]
            K[:, index[f.to], src] += k * factor
    rows: list[FloatArray] = []
    names: list[str] = []
    plasma_rows: dict[str, FloatArray] = {}
    for a in model.analytes:
        plasma = next(c for c in comps if c.analyte == a.name and c.observed == "plasma")
        row = np.zeros((n_pat, n))
        row[:, index[plasma.name]] = 1.0 / volumes[plasma.name]
        plasma_rows[a.name] = row
        rows.append(row)
        names.append(f"{a.name}_plasma")
    state_names = [c.name for c in comps]
    for j, e in enumerate(model.effect_sites):
        s = n_comp + j
        ke0 = ev(e.ke0, f"ke0 of {e.analyte}")
        if np.any(ke0 <= 0):
            raise ModelError(f"{model.id}: ke0 of {e.analyte} is <= 0 for some patients")
        K[:, s, :] += ke0[:, None] * plasma_rows[e.analyte]
        K[:, s, s] -= ke0
        row = np.zeros((n_pat, n))
        row[:, s] = 1.0
        rows.append(row)
        names.append(f"{e.analyte}_effect")
        state_names.append(f"effect_{e.analyte}")
    C = np.stack(rows, axis=1) * NG_PER_ML_PER_MG_PER_L
    return BatchSystem(model.id, K, C, tuple(state_names), tuple(names), values)


def batch_inputs(model: ModelSpec, system: BatchSystem, regimen: Regimen,
                 weight_kg: FloatArray) -> BatchInputs:
    """Translate a regimen into input events for every patient.

    The rules are those of :func:`ketasim.pk.resolve_inputs` (bioavailability on the amount,
    modelled absorption durations, lag times), evaluated for all patients at once.
    """
    n_pat = system.n_patients
    index = {c.name: i for i, c in enumerate(model.compartments)}
    weight = np.asarray(weight_kg, dtype=np.float64)
    events: list[InputEvent] = []
    for dose in regimen:
        if dose.route not in model.route_names:
            raise InputError("regimen", f"model {model.id} does not support route "
                             f"{dose.route!r}; supported: {', '.join(model.route_names)}")
        value, dim = to_internal(dose.amount, dose.unit)
        amount = np.full(n_pat, value)
        if dim in ("amount_per_kg", "dose_rate_per_kg"):
            amount = amount * weight
        if dim.startswith("dose_rate"):
            amount = amount * dose.duration_min
        scope = dict(system.values)
        scope["DOSE_MG"] = amount

        def ev(expr_text: str, what: str, scope: dict[str, FloatArray] = scope) -> FloatArray:
            out = _as_array(Expression(expr_text).evaluate(scope), n_pat, what, model.id)
            if np.any(out < 0):
                raise InputError(what, f"model {model.id} gives a negative {what}")
            return out

        for inp in model.route(dose.route).inputs:
            f = ev(inp.fraction, "bioavailability")
            lag = ev(inp.lag, "lag") if inp.lag else np.zeros(n_pat)
            start = dose.time_min + lag
            delivered = f * amount
            state = index[inp.compartment]
            if inp.duration is not None:
                if dose.duration_min > 0:
                    raise InputError(
                        "regimen", f"route {dose.route!r} of {model.id} has a modelled "
                        "absorption duration; give it as a single dose without 'over'")
                d = ev(inp.duration, "absorption duration")
                events.append(InputEvent(state, start, start + d, delivered))
            elif dose.duration_min > 0:
                events.append(InputEvent(state, start, start + f * dose.duration_min,
                                         delivered))
            else:
                events.append(InputEvent(state, start, start.copy(), delivered))
    return BatchInputs(tuple(events))
