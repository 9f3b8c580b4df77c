"""TCI with a model whose parameters change with the time after the first dose (``TAFD_MIN``).

The pump rates are computed on one fixed system (Jacobs; Shafer & Gregg), which is exact only
for outputs that the time after the first dose leaves unchanged
(:func:`ketasim.pk.time_varying.time_varying_outputs`). For Flint 2017 that is the parent: its
S-ketamine plan is exact, and S-norketamine, whose clearance rises with time, is predicted from
the planned rates (or a manual scheme's) on the checked ODE path (:class:`TimeVaryingReplay`).
A target on a time-varying output is refused (:func:`ketasim.pk.time_varying.check_fixed_target`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk.events import Infusion, SystemInputs
from ketasim.pk.system import assemble_rate_matrices, individual_parameters
from ketasim.pk.time_varying import solve_time_varying
from ketasim.types import FloatArray

__all__ = ["TimeVaryingReplay", "rate_inputs"]


@dataclass(frozen=True)
class TimeVaryingReplay:
    """The outputs of a plan's patient that change with the time after the first dose
    (``varying``), replayed from any inputs on the checked ODE path."""

    model: ModelSpec
    patient: Patient
    varying: frozenset[str]
    etas: Mapping[str, float] = field(default_factory=dict)

    def concentrations(self, inputs: SystemInputs, times_min: FloatArray) -> dict[str, FloatArray]:
        """The time-varying outputs (ng/mL) at ``times_min`` (ascending) under ``inputs``."""
        if not inputs.boluses and not inputs.infusions:
            return {}
        conc = 1000.0 * solve_time_varying(
            self.model, self.patient, inputs, np.asarray(times_min, float), etas=self.etas
        )
        values = individual_parameters(self.model, self.patient.covariates(), self.etas)
        names = [name for name, _, _ in assemble_rate_matrices(self.model, values, 1).outputs]
        return {name: conc[:, names.index(name)] for name in sorted(self.varying)}

    def finding(self) -> Finding:
        return Finding(
            "tci.time_varying",
            "info",
            f"{', '.join(sorted(self.varying))}: parameters change with the time after the first "
            "dose; predicted from the rates on the checked ODE path (the plan's own system is "
            "exact for the targeted analyte)",
            "ketasim.tci.time_varying",
        )


def rate_inputs(state: int, rates_mg_per_min: FloatArray, interval_min: float) -> SystemInputs:
    """A pump's rates (one per interval from 0) as infusions into ``state``, one per run of
    equal rates."""
    infusions: list[Infusion] = []
    start = 0
    for k in range(1, rates_mg_per_min.size + 1):
        if k == rates_mg_per_min.size or rates_mg_per_min[k] != rates_mg_per_min[start]:
            if rates_mg_per_min[start] > 0:
                rate = float(rates_mg_per_min[start])
                infusions.append(Infusion(start * interval_min, k * interval_min, state, rate))
            start = k
    return SystemInputs(infusions=tuple(infusions))
