"""The exact engine against scipy's ODE solver, over every catalogue model and route."""

from __future__ import annotations

import numpy as np
import pytest
from reference_ode import ode_concentrations

from ketasim.catalogue import available_models
from ketasim.catalogue.schema import ModelSpec
from ketasim.expressions import Expression
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate
from ketasim.pk.system import individual_parameters


def _patient(model: ModelSpec) -> Patient:
    """A patient inside the model's validated ranges (midpoints where ranges exist)."""
    w = model.validity.get("weight_kg")
    a = model.validity.get("age_years")
    weight = (
        70.0
        if w is None or w.contains(70.0)
        else (
            (w.min + w.max) / 2
            if w.min is not None and w.max is not None
            else (w.min or w.max or 70)
        )
    )
    age = (
        40.0
        if a is None or a.contains(40.0)
        else (
            (a.min + a.max) / 2
            if a.min is not None and a.max is not None
            else (a.min or a.max or 40)
        )
    )
    return Patient(weight_kg=float(weight), age_years=float(age), sex="female")


CASES = [(m, r.name) for m in available_models() for r in m.routes]


@pytest.mark.parametrize(("model", "route"), CASES, ids=[f"{m.id}-{r}" for m, r in CASES])
def test_engine_matches_ode(model: ModelSpec, route: str) -> None:
    patient = _patient(model)
    dose_mg = 20.0
    if route == "iv":
        # a bolus, then an infusion overlapping the distribution phase
        regimen = Regimen.of(
            Dose(dose_mg, "mg", 0.0, "iv"), Dose(dose_mg, "mg", 45.0, "iv", duration_min=30.0)
        )
    else:
        regimen = Regimen.of(Dose(dose_mg, "mg", 0.0, route), Dose(dose_mg, "mg", 180.0, route))
    times = np.linspace(0.0, 720.0, 721)
    res = simulate(model, patient, regimen, times_min=times)

    # the same inputs, derived independently from the route definitions
    values = individual_parameters(model, patient.covariates())
    boluses: list[tuple[float, str, float]] = []
    infusions: list[tuple[float, float, str, float]] = []
    for d in regimen:
        values["DOSE_MG"] = dose_mg
        for inp in model.route(d.route).inputs:
            f = float(Expression(inp.fraction).evaluate(values))
            lag = float(Expression(inp.lag).evaluate(values)) if inp.lag else 0.0
            start = d.time_min + lag
            if inp.duration:
                dur = float(Expression(inp.duration).evaluate(values))
                infusions.append((start, start + dur, inp.compartment, f * dose_mg / dur))
            elif d.duration_min > 0 and inp.split:  # a part of the drug: same duration
                infusions.append(
                    (start, start + d.duration_min, inp.compartment, f * dose_mg / d.duration_min)
                )
            elif d.duration_min > 0:
                rate = dose_mg / d.duration_min
                infusions.append((start, start + f * dose_mg / rate, inp.compartment, rate))
            else:
                boluses.append((start, inp.compartment, f * dose_mg))
    ref = ode_concentrations(model, patient, boluses, infusions, times)
    assert set(ref) == set(res.concentrations_ng_per_ml)
    for name, expected in ref.items():
        got = res.concentrations_ng_per_ml[name]
        peak = float(np.max(np.abs(expected)))
        assert peak > 0, name
        mask = np.abs(expected) > 1e-3 * peak
        rel = np.abs(got[mask] - expected[mask]) / np.abs(expected[mask])
        assert rel.max() < 1e-6, f"{name}: max relative difference {rel.max():.2e}"
