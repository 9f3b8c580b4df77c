"""Many patients at once: individual parameters, rate matrices and dose inputs as arrays.

The batched counterpart of :func:`ketasim.pk.build_system` and :func:`ketasim.pk.resolve_inputs`:
the same model file gives, for P patients, rate matrices ``K`` of shape (P, n, n), output rows of
shape (P, n_out, n) and dose inputs whose amounts, rates and times are arrays over patients.
The rate matrices come from the same assembly as :func:`ketasim.pk.build_system`
(:func:`ketasim.pk.system.assemble_rate_matrices`); ``tests/population/test_batch.py`` checks
them against ``build_system`` for every model of the catalogue.
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
from ketasim.pk.system import assemble_rate_matrices
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

    assembled = assemble_rate_matrices(model, values, n_pat, field="population")
    return BatchSystem(model.id, assembled.K, assembled.rows * NG_PER_ML_PER_MG_PER_L,
                       assembled.state_names, tuple(o[0] for o in assembled.outputs), values)


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
        scope["DOSE_MG"] = amount if dose.session_mg is None else np.full(n_pat, dose.session_mg)

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
                scale = 1.0 if inp.split else f  # split: a part of the drug, same duration
                events.append(InputEvent(state, start, start + scale * dose.duration_min,
                                         delivered))
            else:
                events.append(InputEvent(state, start, start.copy(), delivered))
    return BatchInputs(tuple(events))
