"""A manual infusion scheme as a result: its bedside steps, what it gives, its tables.

:class:`ManualScheme` is what :func:`ketasim.tci.manual.plan_manual` returns (how a scheme is
found is there): the steps a nurse sets by hand, the exact replay of those steps in the model's
patient (outputs that change with the time after the first dose on the ODE path of the plan's
``time_varying``), the bedside actions and the table of the scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk import Bolus, ExactSolver, Infusion, SystemInputs
from ketasim.tci.manual_settings import ManualSettings
from ketasim.tci.plan import Site, TciPlan
from ketasim.tci.pump import Pump
from ketasim.tci.schedule import TargetSchedule

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ManualScheme", "SchemeStep"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SchemeStep:
    """One action at the bedside: from ``time_min`` on run the pump at ``rate_ml_per_h``
    (0 = stopped) and, if ``bolus_mg`` > 0, give that bolus by hand first."""

    time_min: float
    rate_ml_per_h: float
    bolus_mg: float = 0.0


@dataclass(frozen=True)
class ManualScheme:
    """A manual scheme, the concentrations it produces in the model's patient and its quality.

    Attributes
    ----------
    reference:
        The TCI plan for the same target (model, patient, pump, effect site, findings).
    steps:
        The scheme, in time order (:class:`SchemeStep`).
    worst_deviation:
        Largest ``|C / target - 1|`` at the targeted site after each settling time (fraction),
        judged on a 1-s grid; ``worst_deviation_time_min`` is where it occurs.
    max_overshoot:
        Largest ``C / target - 1`` (fraction) outside the settling time after a step down.
    """

    reference: TciPlan
    settings: ManualSettings
    steps: tuple[SchemeStep, ...]
    worst_deviation: float
    worst_deviation_time_min: float
    max_overshoot: float
    max_overshoot_time_min: float
    duration_min: float
    findings: tuple[Finding, ...]

    @property
    def model_id(self) -> str:
        return self.reference.model_id

    @property
    def site(self) -> Site:
        return self.reference.site

    @property
    def analyte(self) -> str:
        return self.reference.analyte

    @property
    def pump(self) -> Pump:
        return self.reference.pump

    @property
    def targets(self) -> TargetSchedule:
        return self.reference.targets

    @property
    def patient(self) -> Patient:
        return self.reference.patient

    @property
    def n_rate_settings(self) -> int:
        """How many times the pump is set (infusion mode; 0 with boluses only)."""
        if self.settings.mode == "boluses":
            return 0
        return sum(1 for s in self.steps if s.time_min == 0.0 or self._changes_rate(s))

    def _changes_rate(self, step: SchemeStep) -> bool:
        before = [s for s in self.steps if s.time_min < step.time_min]
        previous = before[-1].rate_ml_per_h if before else 0.0
        return step.rate_ml_per_h != previous

    @property
    def n_boluses(self) -> int:
        return sum(1 for s in self.steps if s.bolus_mg > 0)

    @property
    def total_mg(self) -> float:
        """Drug given over the plan (mg): boluses plus infusion."""
        return float(self.cumulative_mg_at(np.array([self.duration_min]))[0])

    def inputs(self) -> SystemInputs:
        """The scheme as boluses and infusions into the model's IV state (mg, mg/min)."""
        state = self.reference.input_state
        conc = self.pump.syringe_mg_per_ml
        boluses = tuple(Bolus(s.time_min, state, s.bolus_mg) for s in self.steps if s.bolus_mg > 0)
        infusions = []
        for i, s in enumerate(self.steps):
            end = self.steps[i + 1].time_min if i + 1 < len(self.steps) else self.duration_min
            if s.rate_ml_per_h > 0 and end > s.time_min:
                infusions.append(Infusion(s.time_min, end, state, s.rate_ml_per_h * conc / 60.0))
        return SystemInputs(boluses=boluses, infusions=tuple(infusions))

    def concentrations_at(
        self, times_min: FloatArray | Sequence[float], *, varying: bool = True
    ) -> dict[str, FloatArray]:
        """Concentrations (ng/mL) of every output at ``times_min`` (exact replay; ``varying``:
        also the outputs the time after the first dose changes, on the ODE path)."""
        system = self.reference.system
        times = np.asarray(times_min, dtype=float)
        conc = ExactSolver(system.K).solve(
            self.inputs(), times, project=system.output_matrix() * 1000.0
        )
        out = {o.name: np.ascontiguousarray(conc[:, i]) for i, o in enumerate(system.outputs)}
        if varying and (tv := self.reference.time_varying) is not None:  # Flint's S-NK
            out.update(tv.concentrations(self.inputs(), times))
        return out

    def cumulative_mg_at(self, times_min: FloatArray) -> FloatArray:
        """Drug given from 0 up to each time (mg), a bolus at that time included."""
        t = np.asarray(times_min, dtype=float)
        total = np.zeros(t.size)
        inputs = self.inputs()
        for b in inputs.boluses:
            total += np.where(t >= b.time_min, b.amount_mg, 0.0)
        for inf in inputs.infusions:
            total += inf.rate_mg_per_min * np.clip(
                t - inf.start_min, 0.0, inf.end_min - inf.start_min
            )
        return total

    def output_times(self) -> FloatArray:
        """The rows of :meth:`to_dataframe`: a regular grid plus every step and target change."""
        every = 1.0 if self.duration_min <= 360.0 else 5.0
        grid = np.arange(0.0, self.duration_min + 1e-9, every)
        extra = [s.time_min for s in self.steps] + [s.time_min for s in self.targets.steps]
        times = np.unique(np.round(np.concatenate([grid, extra, [self.duration_min]]), 9))
        return np.asarray(times[times <= self.duration_min + 1e-9], dtype=float)

    def actions(self) -> list[dict[str, Any]]:
        """One row per bedside action: time, what to do, rate, bolus and the predicted levels."""
        times = [s.time_min for s in self.steps]
        conc = self.concentrations_at(times, varying=False) if times else {}
        plasma = conc.get(f"{self.analyte}_plasma")
        effect = conc.get(f"{self.analyte}_effect")
        syringe = self.pump.syringe_mg_per_ml
        rows = []
        for i, s in enumerate(self.steps):
            actions = []
            if s.bolus_mg > 0:
                actions.append(f"give {s.bolus_mg:g} mg ({s.bolus_mg / syringe:.3g} mL) by hand")
            if self.settings.mode == "infusion":
                actions.append(
                    f"set pump to {s.rate_ml_per_h:g} mL/h" if s.rate_ml_per_h > 0 else "stop pump"
                )
            rows.append(
                {
                    "time_min": s.time_min,
                    "action": "; ".join(actions),
                    "rate_ml_per_h": s.rate_ml_per_h,
                    "rate_mg_per_h": s.rate_ml_per_h * syringe,
                    "bolus_mg": s.bolus_mg,
                    "target_ng_per_ml": self.targets.at(s.time_min),
                    "plasma_ng_per_ml": None if plasma is None else float(plasma[i]),
                    "effect_ng_per_ml": None if effect is None else float(effect[i]),
                }
            )
        return rows

    def to_dataframe(self) -> pd.DataFrame:
        """The TCI columns (``time_min``, ``rate_ml_per_h`` from that time on,
        ``cumulative_mg``, ``<analyte>_plasma_ng_per_ml``, ``<analyte>_effect_ng_per_ml``, other
        analytes' plasma), then ``bolus_mg``, ``bolus_ml`` (given at that time) and
        ``target_ng_per_ml``. Rows where the rate changes or a bolus is given are the scheme."""
        import pandas as pd

        times = self.output_times()
        rate = np.zeros(times.size)
        bolus = np.zeros(times.size)
        for s in self.steps:
            rate[times >= s.time_min - 1e-9] = s.rate_ml_per_h
            bolus[np.isclose(times, s.time_min, atol=1e-9)] = s.bolus_mg
        rate[-1] = 0.0 if times[-1] >= self.duration_min - 1e-9 else rate[-1]
        conc = self.concentrations_at(times)
        data: dict[str, FloatArray] = {
            "time_min": times,
            "rate_ml_per_h": rate,
            "cumulative_mg": self.cumulative_mg_at(times),
        }
        first = [f"{self.analyte}_plasma", f"{self.analyte}_effect"]
        names = [n for n in first if n in conc]
        names += [n for n in conc if n not in names and n.endswith("_plasma")]
        for name in names:
            data[f"{name}_ng_per_ml"] = conc[name]
        data["bolus_mg"] = bolus
        data["bolus_ml"] = bolus / self.pump.syringe_mg_per_ml
        data["target_ng_per_ml"] = np.array([self.targets.at(float(t)) for t in times])
        return pd.DataFrame(data)
