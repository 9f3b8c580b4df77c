"""TCI with a model whose parameters change with the time after the first dose (``TAFD_MIN``).

The pump rates are computed on one fixed system (Jacobs; Shafer & Gregg), which is exact only
for outputs that the time after the first dose leaves unchanged
(:func:`ketasim.pk.time_varying.time_varying_outputs`). For Flint 2017 that is the parent: its
S-ketamine plan is exact, and S-norketamine, whose clearance rises with time, is then predicted
from the planned rates on the checked ODE path. A target on a time-varying output is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk.events import Infusion, SystemInputs
from ketasim.pk.system import assemble_rate_matrices, individual_parameters
from ketasim.pk.time_varying import solve_time_varying
from ketasim.types import FloatArray

__all__ = ["varying_concentrations"]


def varying_concentrations(
    model: ModelSpec,
    patient: Patient,
    varying: frozenset[str],
    state: int,
    rates_mg_per_min: FloatArray,
    interval_min: float,
    times_min: FloatArray,
    *,
    etas: Mapping[str, float] | None = None,
) -> tuple[dict[str, FloatArray], list[Finding]]:
    """The time-varying outputs (ng/mL) at ``times_min`` under the planned rates (one
    infusion per run of equal rates into ``state``), and a finding that says so."""
    if not varying or not np.any(rates_mg_per_min > 0):
        return {}, []
    infusions: list[Infusion] = []
    start = 0
    for k in range(1, rates_mg_per_min.size + 1):
        if k == rates_mg_per_min.size or rates_mg_per_min[k] != rates_mg_per_min[start]:
            if rates_mg_per_min[start] > 0:
                infusions.append(
                    Infusion(
                        start * interval_min,
                        k * interval_min,
                        state,
                        float(rates_mg_per_min[start]),
                    )
                )
            start = k
    conc = 1000.0 * solve_time_varying(
        model, patient, SystemInputs(infusions=tuple(infusions)), times_min, etas=etas
    )
    values = individual_parameters(model, patient.covariates(), etas)
    names = [name for name, _, _ in assemble_rate_matrices(model, values, 1).outputs]
    out = {name: conc[:, names.index(name)] for name in sorted(varying)}
    finding = Finding(
        "tci.time_varying",
        "info",
        f"{', '.join(sorted(varying))}: parameters change with the time after the first dose; "
        "predicted from the planned rates on the checked ODE path (the plan's own system is "
        "exact for the targeted analyte)",
        "ketasim.tci.time_varying",
    )
    return out, [finding]
