"""Planning a target-controlled infusion: the pump rate for every update interval.

Algorithms (both computed with the exact propagators of :class:`ketasim.pk.ExactSolver`, cached
for the pump's update interval ``h``; ``x`` is the model state at the start of an interval):

- **Plasma targeting** (Jacobs, IEEE Trans Biomed Eng 1990;37:107-109): the rate ``r`` for the
  next interval makes the predicted plasma concentration equal the target at its end,
  ``c_p (Phi(h) x + Gamma(h) e r) = target``, i.e.
  ``r = (target - c_p Phi(h) x) / (c_p Gamma(h) e)``.
- **Effect-site targeting** (Shafer & Gregg, J Pharmacokinet Biopharm 1992;20:147-169,
  DOI 10.1007/BF01070999): the rate for the next interval is the largest whose predicted
  effect-site peak, with the pump stopped afterwards, does not exceed the target. With
  ``Ce_free(t)`` the effect-site course without further drug and ``U(t)`` the course after a
  unit-rate infusion over one interval, ``r = min_t (target - Ce_free(t)) / U(t)`` over a
  horizon sampled at ``h / 5`` (the closed form of Shafer & Gregg's iteration on the peak time).

  Once the effect site is within 1% below (or 0.5% above) the target, the plasma is held at
  the target by the plasma rule (plasma and effect site then agree at steady state, as in
  opentiva's maintenance infusions); this avoids the on/off chatter the peak rule shows at
  equilibrium. More than 0.5% above the target the pump is off.

Both rates are clipped to ``[0, pump maximum]``: after a step down the pump stops until the
targeted site has fallen to the new target, and a rate-limited pump reaches it later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk.events import Infusion, SystemInputs
from ketasim.pk.simulate import check_validity, refuse_extrapolation
from ketasim.pk.solve import ExactSolver
from ketasim.pk.system import LinearSystem, build_system
from ketasim.pk.time_varying import check_fixed_target
from ketasim.tci.effect import EffectSiteInfo, _iv_state, resolve_effect_site
from ketasim.tci.pump import Pump
from ketasim.tci.schedule import TargetSchedule
from ketasim.tci.time_varying import TimeVaryingReplay, rate_inputs
from ketasim.types import FloatArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TciPlan", "plan_tci", "replay_rates"]

Site = Literal["plasma", "effect"]
_SUBSTEPS = 5
_HOLD_BAND = 0.01  # effect site within 1% below target: hold the plasma at the target
_STOP_BAND = 0.005  # effect site more than 0.5% above target: pump off
_MAX_INTERVALS = 200_000


@dataclass(frozen=True)
class TciPlan:
    """A TCI rate schedule and the concentrations it produces in the model's patient.

    Attributes
    ----------
    interval_start_min:
        Start of each pump interval (min); the rate is constant over ``update_interval``.
    rate_mg_per_min:
        Drug rate in each interval (mg/min).
    times_min:
        Output times: every interval start, then the end of the plan (min).
    concentrations_ng_per_ml:
        ``<analyte>_<site>`` -> predicted concentration (ng/mL) at ``times_min``.
    effect_site:
        The effect site used and where its ke0 came from (``None`` in plasma mode on a model
        without an effect site).
    """

    model_id: str
    citation: str
    patient: Patient
    site: Site
    analyte: str
    pump: Pump
    targets: TargetSchedule
    effect_site: EffectSiteInfo | None
    interval_start_min: FloatArray
    rate_mg_per_min: FloatArray
    times_min: FloatArray
    concentrations_ng_per_ml: Mapping[str, FloatArray]
    system: LinearSystem
    input_state: int
    findings: tuple[Finding, ...] = ()
    provenance: Mapping[str, str] = field(default_factory=dict)
    time_varying: TimeVaryingReplay | None = None
    """Outputs that change with the time after the first dose (a ``TAFD_MIN`` model), replayed
    on the ODE path; ``system`` is exact for every other output."""

    @property
    def rate_ml_per_h(self) -> FloatArray:
        """Pump rate in each interval (mL/h)."""
        return self.rate_mg_per_min * 60.0 / self.pump.syringe_mg_per_ml

    @property
    def cumulative_mg(self) -> FloatArray:
        """Drug delivered from 0 up to each of ``times_min`` (mg)."""
        h = self.pump.update_interval_min
        delivered = np.concatenate([[0.0], np.cumsum(self.rate_mg_per_min * h)])
        return np.asarray(delivered[: self.times_min.size], dtype=float)

    @property
    def total_mg(self) -> float:
        """Total drug delivered (mg)."""
        return float(np.sum(self.rate_mg_per_min) * self.pump.update_interval_min)

    def target_at(self, times_min: FloatArray) -> FloatArray:
        """The target (ng/mL) in force at each time."""
        return np.array([self.targets.at(float(t)) for t in np.atleast_1d(times_min)])

    def inputs(self) -> SystemInputs:
        """The schedule as infusions into the model's IV state (equal neighbours merged)."""
        return SystemInputs(
            infusions=tuple(
                _infusions(
                    self.interval_start_min,
                    self.rate_mg_per_min,
                    self.pump.update_interval_min,
                    self.input_state,
                )
            )
        )

    def concentrations_at(
        self, times_min: FloatArray | list[float], system: LinearSystem | None = None
    ) -> dict[str, FloatArray]:
        """Concentrations (ng/mL) at any ``times_min`` under this schedule.

        ``system`` (same states as the plan's) replays the rates into another patient, e.g. a
        "true" patient drawn from the model's variability. Without it, outputs that change with
        the time after the first dose (:attr:`time_varying`) are replayed on the ODE path.
        """
        sys_ = system if system is not None else self.system
        times = np.asarray(times_min, dtype=float)
        states = ExactSolver(sys_.K).solve(self.inputs(), times)
        conc = states @ sys_.output_matrix().T * 1000.0
        out = {o.name: conc[:, i] for i, o in enumerate(sys_.outputs)}
        if system is None and self.time_varying is not None:  # the plan's own patient
            out.update(self.time_varying.concentrations(self.inputs(), times))
        return out

    def to_dataframe(self) -> pd.DataFrame:
        """Columns ``time_min``, ``rate_ml_per_h``, ``cumulative_mg``, then the targeted
        analyte's ``<analyte>_plasma_ng_per_ml`` and ``<analyte>_effect_ng_per_ml`` (if any)
        and the other analytes' plasma concentrations.

        The rate on a row is the rate running from that time to the next row (0 on the last).
        """
        import pandas as pd

        rate = np.zeros(self.times_min.size)
        rate[: self.rate_mg_per_min.size] = self.rate_ml_per_h
        data: dict[str, FloatArray] = {
            "time_min": self.times_min,
            "rate_ml_per_h": rate,
            "cumulative_mg": self.cumulative_mg,
        }
        first = [f"{self.analyte}_plasma", f"{self.analyte}_effect"]
        names = [n for n in first if n in self.concentrations_ng_per_ml]
        names += [
            n for n in self.concentrations_ng_per_ml if n not in names and n.endswith("_plasma")
        ]
        for name in names:
            data[f"{name}_ng_per_ml"] = self.concentrations_ng_per_ml[name]
        return pd.DataFrame(data)


def _infusions(starts: FloatArray, rates: FloatArray, h: float, state: int) -> list[Infusion]:
    out: list[Infusion] = []
    k = 0
    while k < rates.size:
        j = k
        while j + 1 < rates.size and rates[j + 1] == rates[k]:
            j += 1
        if rates[k] > 0:
            out.append(Infusion(float(starts[k]), float(starts[j] + h), state, float(rates[k])))
        k = j + 1
    return out


def _row(system: LinearSystem, name: str) -> FloatArray:
    out = next((o for o in system.outputs if o.name == name), None)
    if out is None:
        raise InputError("site", f"model {system.model_id} has no output {name}")
    return np.asarray(out.row, dtype=float)


class _EffectHorizon:
    """Free and unit-infusion responses of the effect site over a look-ahead horizon."""

    def __init__(self, solver: ExactSolver, row: FloatArray, e: FloatArray, h: float) -> None:
        delta = h / _SUBSTEPS
        phi_d, gamma_d = solver.propagator(delta)
        count = int(np.ceil(60.0 / delta))  # look at most 60 min ahead
        free = np.empty((count, row.size))
        unit = np.empty(count)
        r = row.copy()
        z = np.zeros(row.size)
        drive = gamma_d @ e
        for j in range(count):
            r = r @ phi_d
            free[j] = r
            z = phi_d @ z + (drive if j < _SUBSTEPS else 0.0)
            unit[j] = row @ z
        peak = int(np.argmax(unit))
        horizon = min(count, max(int(np.ceil(5.0 / delta)), 4 * (peak + 1)))
        keep = unit[:horizon] > 1e-9 * unit[peak]
        self.free = free[:horizon][keep]
        self.unit = unit[:horizon][keep]

    def rate(self, x: FloatArray, target: float) -> float:
        return float(np.min((target - self.free @ x) / self.unit))


def plan_tci(
    model: ModelSpec,
    patient: Patient,
    targets: TargetSchedule | float,
    *,
    duration_min: float,
    site: Site = "effect",
    pump: Pump | None = None,
    ke0_per_min: float | None = None,
    tpeak_min: float | None = None,
    analyte: str | None = None,
    etas: Mapping[str, float] | None = None,
    allow_extrapolation: bool = False,
) -> TciPlan:
    """Plan a plasma- or effect-site-targeted infusion over ``duration_min`` minutes.

    Parameters
    ----------
    model, patient:
        The model (it needs an IV route) and the patient's covariates.
    targets:
        A :class:`TargetSchedule`, or one target concentration (ng/mL) held throughout.
    duration_min:
        Length of the plan (min).
    site:
        ``"effect"`` (Shafer & Gregg) or ``"plasma"`` (Jacobs).
    pump:
        Syringe concentration, maximum rate and update interval (default 10 mg/mL,
        1200 mL/h, 10 s).
    ke0_per_min, tpeak_min:
        Override the model's effect site (or supply one) by ke0 (1/min) or by the time to peak
        effect after a bolus (min); see :mod:`ketasim.tci.effect`.
    analyte:
        The analyte targeted (default: the model's parent drug).
    etas:
        Random effects of the patient (default: typical values).
    allow_extrapolation:
        Covariates outside the model's ranges become warnings instead of errors.
    """
    pump = pump or Pump()
    schedule = (
        targets if isinstance(targets, TargetSchedule) else TargetSchedule.constant(float(targets))
    )
    if not np.isfinite(duration_min) or duration_min <= 0:
        raise InputError("plan_duration_min", f"{duration_min:g} min must be > 0")
    if site not in ("plasma", "effect"):
        raise InputError("site", f"{site!r} is not one of plasma, effect")
    findings = check_validity(model, patient)
    refuse_extrapolation(findings, allow=allow_extrapolation)
    analyte = analyte or model.analyte_names[0]
    if analyte not in model.analyte_names:
        raise InputError(
            "analyte",
            f"{analyte!r} is not an analyte of {model.id} ({', '.join(model.analyte_names)})",
        )
    varying = check_fixed_target(model, patient, analyte, etas=etas)
    system = build_system(model, patient, etas=etas)
    state = _iv_state(system)
    info: EffectSiteInfo | None = None
    has_site = any(e.analyte == analyte for e in model.effect_sites)
    if site == "effect" or has_site or ke0_per_min is not None or tpeak_min is not None:
        system, info = resolve_effect_site(
            model, system, analyte, ke0_per_min=ke0_per_min, tpeak_min=tpeak_min
        )
        findings.append(
            Finding(
                "tci.effect_site", "info", f"effect site: {info.description}", "ketasim.tci.effect"
            )
        )
    h = pump.update_interval_min
    n_intervals = int(np.ceil(duration_min / h - 1e-9))
    if n_intervals > _MAX_INTERVALS:
        raise InputError(
            "plan_duration_min",
            f"{n_intervals} pump intervals; accepted at most "
            f"{_MAX_INTERVALS} (shorten --duration or lengthen the interval)",
        )
    rates = _rates(
        system,
        state,
        _row(system, f"{analyte}_{site}"),
        _row(system, f"{analyte}_plasma"),
        schedule,
        pump,
        site,
        n_intervals,
    )
    starts = np.arange(n_intervals, dtype=float) * h
    times = np.append(starts, n_intervals * h)
    states = replay_rates(system, state, rates, h)
    conc = states @ system.output_matrix().T * 1000.0
    concentrations = {o.name: conc[:, i] for i, o in enumerate(system.outputs)}
    replay = TimeVaryingReplay(model, patient, varying, dict(etas or {})) if varying else None
    if replay is not None:
        concentrations.update(replay.concentrations(rate_inputs(state, rates, h), times))
        findings.append(replay.finding())
    if np.any(rates >= pump.max_rate_mg_per_min * (1 - 1e-12)):
        seconds = float(np.sum(rates >= pump.max_rate_mg_per_min * (1 - 1e-12)) * h * 60)
        findings.append(
            Finding(
                "tci.max_rate",
                "info",
                f"the pump ran at its maximum rate "
                f"({pump.max_rate_ml_per_h:g} mL/h) for {seconds:g} s",
                "ketasim.tci.pump",
            )
        )
    from ketasim.pk.simulate import _version

    return TciPlan(
        model_id=model.id,
        citation=model.citation.text,
        patient=patient,
        site=site,
        analyte=analyte,
        pump=pump,
        targets=schedule,
        effect_site=info,
        interval_start_min=starts,
        rate_mg_per_min=rates,
        times_min=times,
        concentrations_ng_per_ml=concentrations,
        system=system,
        input_state=state,
        findings=tuple(findings),
        time_varying=replay,
        provenance={
            "model_id": model.id,
            "doi": model.citation.doi or "",
            "pmid": model.citation.pmid or "",
            "ketasim_version": _version(),
            "algorithm": "Jacobs 1990" if site == "plasma" else "Shafer & Gregg 1992",
        },
    )


def _rates(
    system: LinearSystem,
    state: int,
    row: FloatArray,
    plasma_row: FloatArray,
    schedule: TargetSchedule,
    pump: Pump,
    site: Site,
    n_intervals: int,
) -> FloatArray:
    h = pump.update_interval_min
    solver = ExactSolver(system.K)
    phi, gamma = solver.propagator(h)
    e = np.zeros(system.n_states)
    e[state] = 1.0
    g = gamma @ e
    plasma_gain = float(row @ g)
    horizon = _EffectHorizon(solver, row, e, h) if site == "effect" else None
    rmax = pump.max_rate_mg_per_min
    rates = np.zeros(n_intervals)
    x = np.zeros(system.n_states)
    for k in range(n_intervals):
        target = schedule.at(k * h) / 1000.0  # ng/mL -> mg/L
        if target <= 0:
            r = 0.0
        elif horizon is None:
            r = (target - float(row @ (phi @ x))) / plasma_gain
        else:
            ce = float(row @ x)
            if ce > (1.0 + _STOP_BAND) * target:
                r = 0.0  # stopped until the effect site has fallen to the target
            elif ce >= (1.0 - _HOLD_BAND) * target:
                r = (target - float(plasma_row @ (phi @ x))) / float(plasma_row @ g)
            else:
                r = horizon.rate(x, target)
        r = min(max(r, 0.0), rmax)
        rates[k] = r
        x = phi @ x + g * r
    return rates


def replay_rates(
    system: LinearSystem, state: int, rates_mg_per_min: FloatArray, interval_min: float
) -> FloatArray:
    """States at every interval boundary (shape (len(rates) + 1, n)) for a rate schedule."""
    phi, gamma = ExactSolver(system.K).propagator(interval_min)
    g = gamma[:, state]
    out = np.zeros((rates_mg_per_min.size + 1, system.n_states))
    for k, r in enumerate(rates_mg_per_min):
        out[k + 1] = phi @ out[k] + g * r
    return out
