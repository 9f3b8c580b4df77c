"""A treatment plan: protocol + patient -> doses, predicted concentrations, monitoring, findings.

:func:`make_plan` is the front door used by ``ketasim plan``. It schedules the protocol's
sessions (:func:`~ketasim.regimens.protocols.schedule_doses`), runs the safety checker, builds
the monitoring timeline and predicts concentrations with the protocol's catalogue model through
:func:`ketasim.pk.simulate`. When the model has inter-individual variability, ``n_samples``
virtual patients with the same covariates are drawn (etas from the model's ``iiv`` and
``iiv_correlations``, with an explicit ``rng``) and a 5th-95th percentile band is reported.

Effects: for the protocol's ``pd_models`` the first session's effects are predicted for the
typical patient with :func:`ketasim.pd.simulate_effects` (the PD paper's ke0 added to the PK
system). Endpoints whose Hill coefficient was not found are given as Ce/C50. Protocols without a
PD model get concentrations only, and the plan says so (``Plan.effects_note``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.findings import Finding
from ketasim.pk import ExactSolver, Regimen, build_system, simulate
from ketasim.pk.simulate import check_validity
from ketasim.pk.variability import sample_etas
from ketasim.regimens.protocols import PlannedDose, Protocol, schedule_doses
from ketasim.safety.checker import MonitoringItem, check, monitoring_timeline
from ketasim.safety.record import PatientRecord
from ketasim.safety.rules import RuleSet, default_rules

__all__ = [
    "BAND_PERCENTILES",
    "ConcentrationPrediction",
    "EffectPrediction",
    "Plan",
    "make_plan",
    "sample_etas",
]

BAND_PERCENTILES = (5.0, 95.0)
EFFECTS_NOTE = (
    "Concentrations only: no PD model is attached to this protocol, so effects "
    "(sedation, dissociation, blood pressure, response) are not predicted."
)


@dataclass(frozen=True)
class ConcentrationPrediction:
    """Predicted concentrations (ng/mL) on one time grid (min from the first session).

    ``typical``: the model's typical patient with these covariates; ``lower``/``upper``: the
    ``BAND_PERCENTILES`` of ``n_samples`` virtual patients (empty when the model has no IIV).
    """

    label: str
    times_min: NDArray[np.float64]
    typical: Mapping[str, NDArray[np.float64]]
    lower: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    upper: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (lists rounded to 4 significant digits)."""

        def r(a: NDArray[np.float64]) -> list[float]:
            return [float(f"{v:.4g}") for v in a]

        out: dict[str, object] = {
            "label": self.label,
            "time_min": r(self.times_min),
            "typical": {k: r(v) for k, v in self.typical.items()},
        }
        if self.lower:
            out[f"p{BAND_PERCENTILES[0]:02.0f}"] = {k: r(v) for k, v in self.lower.items()}
            out[f"p{BAND_PERCENTILES[1]:02.0f}"] = {k: r(v) for k, v in self.upper.items()}
        return out


@dataclass(frozen=True)
class EffectPrediction:
    """One PD endpoint over the first session (typical patient).

    ``values`` in ``unit`` when the PD paper's Hill coefficient is known, else ``None`` and the
    effect is given as ``ce_over_c50`` (effect-site concentration / C50; 1 = half-maximal).
    """

    pd_model_id: str
    citation: str
    endpoint: str
    description: str
    unit: str
    times_min: NDArray[np.float64]
    values: NDArray[np.float64] | None
    ce_over_c50: NDArray[np.float64] | None
    c50_ng_per_ml: float | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (4 significant digits)."""

        def r(a: NDArray[np.float64] | None) -> list[float] | None:
            return None if a is None else [float(f"{v:.4g}") for v in a]

        return {
            "pd_model": self.pd_model_id,
            "citation": self.citation,
            "endpoint": self.endpoint,
            "description": self.description,
            "unit": self.unit,
            "c50_ng_per_ml": self.c50_ng_per_ml,
            "time_min": r(self.times_min),
            "values": r(self.values),
            "ce_over_c50": r(self.ce_over_c50),
        }


@dataclass(frozen=True)
class Plan:
    """A plan for one patient under one protocol.

    ``concentrations`` holds the first session (fine grid) and, for courses, the whole course
    (coarser grid); empty with ``concentration_note`` saying why when no model applies.
    """

    protocol: Protocol
    record: PatientRecord
    doses: tuple[PlannedDose, ...]
    findings: tuple[Finding, ...]
    monitoring: tuple[MonitoringItem, ...]
    discharge_not_before_min: float | None
    concentrations: tuple[ConcentrationPrediction, ...]
    model_id: str | None
    model_citation: str | None
    concentration_note: str
    n_samples: int
    seed: int | None
    rules_version: str
    effects: tuple[EffectPrediction, ...] = ()
    effects_note: str = EFFECTS_NOTE

    @property
    def has_stop(self) -> bool:
        """Whether any finding is a hard stop."""
        return any(f.severity == "stop" for f in self.findings)

    def as_dict(self) -> dict[str, object]:
        """The JSON form of ``ketasim plan --output json``."""
        p = self.protocol
        return {
            "protocol": {
                "id": p.id,
                "title": p.title,
                "drug": p.drug,
                "route": p.route,
                "indication": p.indication,
                "jurisdiction": p.jurisdiction,
                "source": p.source_text,
            },
            "patient": self.record.as_dict(),
            "stop": self.has_stop,
            "findings": [
                {
                    "rule_id": f.rule_id,
                    "severity": f.severity,
                    "message": f.message,
                    "source": f.source,
                }
                for f in self.findings
            ],
            "doses": [d.as_dict() for d in self.doses],
            "total_mg": sum(d.amount_mg for d in self.doses),
            "monitoring": {
                "per_session": [m.as_dict() for m in self.monitoring],
                "discharge_not_before_min": self.discharge_not_before_min,
                "session_start_min": [d.time_min for d in self.doses],
            },
            "concentrations": {
                "model": self.model_id,
                "citation": self.model_citation,
                "note": self.concentration_note,
                "n_samples": self.n_samples,
                "seed": self.seed,
                "band_percentiles": list(BAND_PERCENTILES),
                "unit": "ng/mL",
                "series": [c.as_dict() for c in self.concentrations],
            },
            "effects": [e.as_dict() for e in self.effects],
            "effects_note": self.effects_note,
            "rules_version": self.rules_version,
        }


def _grid(start: float, stop: float, step: float) -> NDArray[np.float64]:
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    return np.asarray(start + np.arange(n, dtype=float) * step, dtype=np.float64)


def _predict(
    model: ModelSpec,
    record: PatientRecord,
    doses: Sequence[PlannedDose],
    grids: Sequence[tuple[str, NDArray[np.float64]]],
    n_samples: int,
    rng: np.random.Generator,
) -> tuple[ConcentrationPrediction, ...]:
    regimen = Regimen(tuple(x for d in doses for x in d.to_doses()))
    patient = record.patient
    etas = sample_etas(model, n_samples, rng) if model.iiv else []
    typical: list[Mapping[str, NDArray[np.float64]]] = []
    stacks: list[dict[str, list[NDArray[np.float64]]]] = [{} for _ in grids]
    for k, eta in enumerate([{}, *etas]):
        # one system and solver per virtual patient, shared by the grids (propagator cache)
        system = build_system(model, patient, etas=eta)
        solver = ExactSolver(system.K)
        for g, (_, times) in enumerate(grids):
            res = simulate(
                model,
                patient,
                regimen,
                times_min=times,
                allow_extrapolation=True,
                system=system,
                solver=solver,
            )
            if k == 0:
                typical.append(dict(res.concentrations_ng_per_ml))
                continue
            for name, values in res.concentrations_ng_per_ml.items():
                stacks[g].setdefault(name, []).append(values)
    out = []
    for g, (label, times) in enumerate(grids):
        lower: dict[str, NDArray[np.float64]] = {}
        upper: dict[str, NDArray[np.float64]] = {}
        for name, rows in stacks[g].items():
            lo, hi = np.percentile(np.vstack(rows), BAND_PERCENTILES, axis=0)
            lower[name], upper[name] = lo, hi
        out.append(ConcentrationPrediction(label, times, typical[g], lower, upper))
    return tuple(out)


def _effects(
    protocol: Protocol,
    model: ModelSpec,
    record: PatientRecord,
    doses: Sequence[PlannedDose],
    times: NDArray[np.float64],
) -> tuple[tuple[EffectPrediction, ...], str]:
    from ketasim.pd import resolve_pd_model, simulate_effects

    regimen = Regimen(tuple(x for d in doses for x in d.to_doses()))
    out: list[EffectPrediction] = []
    notes: list[str] = []
    for pd_id in protocol.pd_models:
        pd_model = resolve_pd_model(pd_id)
        _, eff = simulate_effects(
            pd_model, model, record.patient, regimen, times_min=times, allow_extrapolation=True
        )
        for name, ep in eff.endpoints.items():
            if ep.values is None and ep.ce_over_c50 is None:
                continue
            out.append(
                EffectPrediction(
                    pd_model.id,
                    pd_model.citation.text,
                    name,
                    ep.description,
                    ep.unit,
                    eff.times_min,
                    ep.values,
                    ep.ce_over_c50,
                    ep.c50_ng_per_ml,
                )
            )
        notes += [f.message for f in eff.findings if f.rule_id.startswith("pd.")]
    if not out:
        return (), EFFECTS_NOTE if not protocol.pd_models else (
            "No effect predicted: the PD model(s) "
            + ", ".join(protocol.pd_models)
            + " have no endpoint for this drug ("
            + "; ".join(notes)
            + ")."
        )
    note = (
        "Effects (first session, typical patient) from "
        + ", ".join(protocol.pd_models)
        + "; the antidepressant response over the course is predicted by `ketasim "
        "antidepressant`, not in this plan." + (" Notes: " + "; ".join(notes) if notes else "")
    )
    return tuple(out), note


def make_plan(
    protocol: Protocol,
    record: PatientRecord,
    *,
    dose: float | None = None,
    duration_min: float | None = None,
    weeks: int | None = None,
    rules: RuleSet | None = None,
    bp_threshold: tuple[float, float] | None = None,
    n_samples: int = 100,
    rng: np.random.Generator | int | None = None,
    simulate_concentrations: bool = True,
) -> Plan:
    """Plan ``protocol`` for the patient in ``record``.

    Parameters
    ----------
    dose, duration_min, weeks:
        Overrides of the protocol's dose (protocol unit), administration time (min) and course
        length (weeks); see :func:`~ketasim.regimens.protocols.schedule_doses`.
    rules, bp_threshold:
        Rules (default: shipped) and a ``(systolic, diastolic)`` mmHg pre-dose threshold.
    n_samples:
        Virtual patients for the variability band (0: typical patient only).
    rng:
        Generator or seed for the variability band (the seed is kept in the plan when an int).
    simulate_concentrations:
        False to skip the PK prediction (findings, doses and monitoring only).
    """
    if n_samples < 0 or n_samples > 5000:
        raise InputError("n_samples", f"{n_samples} is out of range; accepted 0 to 5000")
    rules = rules if rules is not None else default_rules()
    seed = rng if isinstance(rng, int) else None
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    doses = schedule_doses(
        protocol,
        weight_kg=record.weight_kg,
        age_years=record.age_years,
        dose=dose,
        duration_min=duration_min,
        weeks=weeks,
    )
    findings = list(check(protocol, record, doses, rules=rules, bp_threshold=bp_threshold))
    monitoring, discharge = monitoring_timeline(protocol, doses, rules=rules)
    concentrations: tuple[ConcentrationPrediction, ...] = ()
    effects: tuple[EffectPrediction, ...] = ()
    effects_note = EFFECTS_NOTE
    model_id = citation = None
    used_samples = 0
    if protocol.model is None:
        note = f"No concentrations predicted: {protocol.model_note}"
    elif not simulate_concentrations:
        note = "Concentrations not requested."
    else:
        model = resolve_model(protocol.model)
        model_id, citation = model.id, model.citation.text
        if protocol.route not in model.route_names:
            note = (
                f"No concentrations predicted: model {model.id} does not support route "
                f"{protocol.route}."
            )
        else:
            findings += check_validity(model, record.patient)
            used_samples = n_samples if model.iiv else 0
            session_end = max(360.0, (discharge or 0.0) + 60.0, doses[0].duration_min + 240.0)
            grids: list[tuple[str, NDArray[np.float64]]] = [
                ("first session", _grid(0.0, session_end, 1.0))
            ]
            if len(doses) > 1:
                grids.append(("course", _grid(0.0, doses[-1].time_min + 1440.0, 30.0)))
            try:
                concentrations = _predict(model, record, doses, grids, used_samples, generator)
                if protocol.pd_models:
                    effects, effects_note = _effects(protocol, model, record, doses, grids[0][1])
            except InputError as exc:
                raise InputError("patient", f"model {model.id}: {exc}") from None
            band = (
                f"; band: {BAND_PERCENTILES[0]:g}th-{BAND_PERCENTILES[1]:g}th percentiles "
                f"of {used_samples} virtual patients with these covariates "
                f"(model IIV{', seed ' + str(seed) if seed is not None else ''})"
                if used_samples
                else "; the model has no IIV, so no band"
            )
            note = f"Predicted with {model.id} ({model.citation.text}){band}."
    order = {"stop": 0, "warn": 1, "info": 2}
    return Plan(
        protocol=protocol,
        record=record,
        doses=doses,
        findings=tuple(sorted(findings, key=lambda f: order[f.severity])),
        monitoring=monitoring,
        discharge_not_before_min=discharge,
        concentrations=concentrations,
        model_id=model_id,
        model_citation=citation,
        concentration_note=note,
        n_samples=used_samples,
        seed=seed,
        rules_version=rules.version,
        effects=effects,
        effects_note=effects_note,
    )
