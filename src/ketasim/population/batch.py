"""Many patients at once: individual parameters, rate matrices and dose inputs as arrays.

The batched form of :func:`ketasim.pk.build_system` and :func:`ketasim.pk.resolve_inputs`:
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
from ketasim.errors import ModelError
from ketasim.pk import Regimen, individual_parameters
from ketasim.pk.events import InputEvent, dose_events
from ketasim.pk.system import assemble_rate_matrices, resolve_routes
from ketasim.types import FloatArray

__all__ = ["BatchInputs", "BatchSystem", "InputEvent", "batch_inputs", "batch_system"]

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
        raise ModelError(
            f"{model_id}: {where} is not finite for {int(np.sum(~np.isfinite(arr)))} patient(s)"
        )
    return arr


def batch_system(
    model: ModelSpec,
    covariates: Mapping[str, FloatArray],
    etas: Mapping[str, FloatArray] | None = None,
    kappas: Mapping[str, FloatArray] | None = None,
) -> BatchSystem:
    """Rate matrices and output rows of P patients.

    ``covariates`` maps ``WT``, ``AGE``, ``HT``, ``FEMALE`` (and model flags) to arrays of shape
    (P,); ``etas`` maps parameters with an ``[iiv]`` entry to arrays of random effects.
    """
    n_pat = int(np.asarray(covariates["WT"]).shape[0])
    raw = individual_parameters(model, covariates, etas, kappas)  # kappas: one occasion's
    values = {k: _as_array(v, n_pat, k, model.id) for k, v in raw.items() if np.ndim(v) <= 1}

    assembled = assemble_rate_matrices(model, values, n_pat, field="population")
    return BatchSystem(
        model.id,
        assembled.K,
        assembled.rows * NG_PER_ML_PER_MG_PER_L,
        assembled.state_names,
        tuple(o[0] for o in assembled.outputs),
        values,
    )


def batch_inputs(
    model: ModelSpec, system: BatchSystem, regimen: Regimen, weight_kg: FloatArray
) -> BatchInputs:
    """Translate a regimen into input events for every patient.

    The engine's one dose-to-input rule (:func:`ketasim.pk.events.dose_events`, which
    :func:`ketasim.pk.resolve_inputs` applies to one patient), evaluated for all at once.
    """
    routes = resolve_routes(model)
    events: list[InputEvent] = []
    for dose in regimen:
        events += dose_events(model.id, routes, system.values, dose, weight_kg)
    return BatchInputs(tuple(events))
