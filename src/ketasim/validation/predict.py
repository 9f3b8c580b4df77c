"""Model predictions of the quantities published studies report (Cmax, AUC, clearance, ...).

Every quantity is computed from an exact simulation of the case's regimen (or, for the
dose-independent clearance, Vss and half-life, of a unit IV bolus), in the canonical units of
:data:`ketasim.validation.observations.CANONICAL`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.catalogue.select import covers
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, build_system, simulate
from ketasim.pk.events import resolve_inputs
from ketasim.regimens import parse_regimen
from ketasim.validation.compare import parent_output, with_totals
from ketasim.validation.observations import Case, icu_models

__all__ = [
    "SITE_DEPENDENT",
    "applicability",
    "disposition_compartments",
    "predict",
    "runnable",
    "unlike",
]

FloatArray = NDArray[np.float64]

_TOTAL_PARTS = {"ketamine_plasma": ("s_ketamine_plasma", "r_ketamine_plasma")}
_DRUGS = {
    "racemic ketamine": ("racemic ketamine",),
    "S-ketamine": ("S-ketamine", "esketamine"),
    "R-ketamine": ("racemic ketamine",),
}
_UNIT_DOSE_MG = 10.0
#: names of the N-demethylated metabolite's plasma output in catalogue models
_NORKETAMINE = ("norketamine", "noresketamine", "s_norketamine")
#: quantities that differ between arterial and venous plasma: early concentrations (Henthorn
#: 2018: arterial above venous during and soon after an infusion) and the volumes fitted to them
#: (Persson 2002: volumes and mean residence times 40% smaller from arterial than venous data)
SITE_DEPENDENT = frozenset({"cmax", "tmax", "v_central", "vss"})


def _output(case: Case, model: ModelSpec) -> str | None:
    if case.analyte == "parent":
        name = parent_output(model, "ketamine")
        if model.drug == "racemic ketamine" and name != "ketamine_plasma":
            return None
        return name
    if case.analyte == "norketamine":
        if model.drug == "racemic ketamine" and "norketamine" not in model.analyte_names:
            return None  # an S-norketamine output is not the racemic total
        found = next((n for n in _NORKETAMINE if n in model.analyte_names), None)
        return f"{found}_plasma" if found else None
    name = f"{case.analyte}_plasma"
    return name if case.analyte in model.analyte_names else None


def disposition_compartments(model: ModelSpec, output: str) -> int | None:
    """Compartments of the analyte observed as ``output``: its central compartment and those
    exchanging with it both ways (depots, transit chains and metabolites excluded)."""
    central = next(
        (c.name for c in model.compartments if f"{c.analyte}_{c.observed}" == output), None
    )
    if central is None:
        return None
    pairs = {(f.from_, f.to) for f in model.flows}
    return 1 + sum(
        1 for c in model.compartments if (central, c.name) in pairs and (c.name, central) in pairs
    )


def _regimen(case: Case) -> Regimen:
    return parse_regimen(case.regimen or f"{_UNIT_DOSE_MG:g} mg IV bolus", field=f"case {case.id}")


def applicability(case: Case, model: ModelSpec) -> str | None:
    """``None`` if ``model`` can be run for ``case`` and its output is what the study measured,
    else why not (:func:`runnable`, then :func:`unlike`)."""
    return runnable(case, model) or unlike(case, model)


def runnable(case: Case, model: ModelSpec) -> str | None:
    """``None`` if ``model`` can be run for ``case`` (drug, analyte, route, patient), else why
    not."""
    if model.drug not in _DRUGS[case.drug]:
        return "another drug"
    if _output(case, model) is None:
        if case.analyte == "norketamine" and case.drug == "racemic ketamine":
            return "no total (R + S) norketamine output"
        return f"no {case.analyte} output"
    routes = {d.route for d in _regimen(case)}
    if case.quantity == "bioavailability":
        routes.add("iv")
    if not routes <= set(model.route_names):
        return "route not in the model"
    if not covers(model, case.weight_kg, case.age_years):
        return "patient outside the model's validated ranges"
    age = model.validity.get("age_years")
    if case.paediatric and (age is None or age.max is None or age.max > 18):
        return "a paediatric value; not a paediatric model"
    return None


def unlike(case: Case, model: ModelSpec) -> str | None:
    """Why the model's output is not the quantity the study measured (compare like with like:
    population setting, sampling site, model structure, sampling window), else ``None``."""
    if case.icu and model.id not in icu_models():
        return "an observation in ICU patients; the model was not built on ICU patients"
    if model.id in icu_models() and not case.icu:
        return "a model of ICU patients; the observation is not from ICU patients"
    sites = {case.sampling, model.sampling}
    if case.quantity in SITE_DEPENDENT and "not stated" not in sites and len(sites) == 2:
        return (
            f"sampling site differs (study {case.sampling}, model {model.sampling}) for a "
            f"site-dependent quantity ({case.quantity})"
        )
    if case.quantity == "half_life" and case.sampling_until_assumed:
        return (
            "the study's sampling window was not read: its apparent half-life cannot be "
            "reproduced (it depends on how long the study sampled)"
        )
    if case.quantity == "v_central" and case.source_compartments is not None:
        output = _output(case, model)
        n = disposition_compartments(model, output) if output else None
        if n != case.source_compartments:
            return (
                f"central volume of a {n}-compartment model vs that of the study's "
                f"{case.source_compartments}-compartment model: structures differ"
            )
    return None


def _patient(case: Case, model: ModelSpec) -> Patient:
    extra = {k: v for k, v in case.covariates.items() if k in model.covariate_defaults}
    return Patient(weight_kg=case.weight_kg, age_years=case.age_years, extra=extra)


def _curve(
    model: ModelSpec, patient: Patient, regimen: Regimen, output: str, times: FloatArray
) -> FloatArray:
    res = simulate(model, patient, regimen, times_min=times)
    return with_totals(res.concentrations_ng_per_ml)[output]


def _moments(
    model: ModelSpec, patient: Patient, regimen: Regimen, output: str
) -> tuple[float, float]:
    """Exact AUC(0-inf) (ng*h/mL) and AUMC (ng*h^2/mL) of ``output``: with every input given
    at time 0, AUC = c (-K)^-1 a and AUMC = c K^-2 a (a: input amounts by state, c: output row).
    The AUC does not depend on when or how fast the amounts enter; the AUMC assumes time 0."""
    system = build_system(model, patient)
    inputs = resolve_inputs(system, regimen, patient.weight_kg)
    amounts = np.zeros(system.K.shape[0])
    for b in inputs.boluses:
        amounts[b.state] += b.amount_mg
    for i in inputs.infusions:
        amounts[i.state] += i.rate_mg_per_min * (i.end_min - i.start_min)
    rows = {o.name: o.row for o in system.outputs}
    parts = _TOTAL_PARTS.get(output, (output,)) if output not in rows else (output,)
    row = np.sum([rows[p] for p in parts], axis=0)
    y = np.linalg.solve(-system.K, amounts)  # mg*min per state
    auc_mg_min_per_l = float(row @ y)
    aumc_mg_min2_per_l = float(row @ np.linalg.solve(-system.K, y))
    return auc_mg_min_per_l * 1000.0 / 60.0, aumc_mg_min2_per_l * 1000.0 / 3600.0


def _analyte_share(case: Case, model: ModelSpec) -> float:
    """Fraction of a racemic dose that is this enantiomer (0.5), else 1."""
    return 0.5 if case.analyte in ("s_ketamine", "r_ketamine") else 1.0


def predict(case: Case, model: ModelSpec) -> float:
    """The model's value of ``case.quantity`` for the case's patient and regimen."""
    output = _output(case, model)
    assert output is not None
    patient = _patient(case, model)
    regimen = _regimen(case)
    q = case.quantity
    if q in ("cmax", "tmax"):
        end = regimen.last_time_min + 6 * 60.0
        times = np.arange(0.0, end + 0.05, 0.25)
        conc = _curve(model, patient, regimen, output, times)
        i = int(np.argmax(conc))
        return float(conc[i]) if q == "cmax" else float(times[i])
    if q == "auc":
        return _moments(model, patient, regimen, output)[0]
    if q == "css":
        dose = next(iter(regimen))
        rate_mg_per_min = dose.amount_mg(patient.weight_kg) / dose.duration_min
        # steady state = the AUC of one minute's input (a linear system's Css = rate x AUC/dose)
        one_minute = Regimen.of(Dose(rate_mg_per_min, "mg"))
        return _moments(model, patient, one_minute, output)[0] * 60.0
    if q == "bioavailability":
        dose = next(iter(regimen))
        iv = Regimen.of(Dose(dose.amount, dose.unit))
        return (
            _moments(model, patient, regimen, output)[0] / _moments(model, patient, iv, output)[0]
        )
    bolus = Regimen.of(Dose(_UNIT_DOSE_MG, "mg"))
    if q == "v_central":
        system = build_system(model, patient)
        row = next(o.row for o in system.outputs if o.name == output)
        return float(1.0 / row.max())  # the observed compartment's volume (L)
    if q == "half_life":
        until = case.sampling_until_min or 48 * 60.0
        start = until / 2 if case.sampling_until_min else 24 * 60.0
        times = np.linspace(start, until, 61)
        conc = _curve(model, patient, bolus, output, times)
        slope = np.polyfit(times, np.log(conc), 1)[0]
        return float(np.log(2.0) / -slope)
    auc, aumc = _moments(model, patient, bolus, output)
    clearance = _UNIT_DOSE_MG * _analyte_share(case, model) * 1000.0 / auc  # L/h
    if q == "clearance":
        return clearance
    return clearance * aumc / auc  # vss (L) = CL x MRT
