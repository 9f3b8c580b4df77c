"""Regimen search on the one-compartment model, where Cmax = dose / V exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketasim.errors import InputError
from ketasim.population import parse_trial_spec
from ketasim.population.optimise import optimise_regimen, parse_optimise_spec

from .conftest import V_L, base_spec


def _spec(path: Path, **optimise: object) -> dict[str, object]:
    opt = {
        "arm": "bolus",
        "regimen": "{dose} mg",
        "maximise": "auc",
        "n": 300,
        "parameters": {"dose": [50.0, 100.0, 200.0]},
        "constraints": [{"endpoint": "cmax", "statistic": "p95", "max": 6000.0}],
    }
    opt.update(optimise)
    return base_spec(
        str(path),
        endpoints=[
            {"name": "auc", "kind": "auc", "output": "ketamine_plasma"},
            {"name": "cmax", "kind": "cmax", "output": "ketamine_plasma"},
        ],
        optimise=opt,
    )


def test_best_feasible_and_frontier(onecomp_path: Path) -> None:
    spec = parse_trial_spec(_spec(onecomp_path))
    result = optimise_regimen(spec, parse_optimise_spec(spec.optimise), scheduler="local:1")
    table = result.table.set_index("dose")
    # Cmax of an IV bolus at t = 0 is dose / V for every patient (V has no variability)
    for dose in (50.0, 100.0, 200.0):
        assert table.loc[dose, "cmax:p95"] == pytest.approx(dose / V_L * 1000.0, rel=0.008)
    assert table["feasible"].tolist() == [True, True, False]
    assert result.best is not None and result.best["regimen"] == "100 mg"
    # AUC is proportional to the dose (linear model, same patients in every candidate)
    assert table.loc[200.0, "objective"] == pytest.approx(
        4 * table.loc[50.0, "objective"], rel=1e-9
    )
    assert table["frontier"].all()  # more exposure always costs a higher Cmax here


def test_bad_optimise_tables(onecomp_path: Path) -> None:
    spec = parse_trial_spec(base_spec(str(onecomp_path)))
    with pytest.raises(InputError) as info:
        parse_optimise_spec(spec.optimise)
    assert info.value.field == "optimise"
    bad = parse_trial_spec(_spec(onecomp_path, regimen="100 mg"))
    with pytest.raises(InputError) as info:
        parse_optimise_spec(bad.optimise)
    assert info.value.field == "optimise.parameters"
    spec = parse_trial_spec(_spec(onecomp_path, maximise="nope"))
    with pytest.raises(InputError) as info:
        optimise_regimen(spec, parse_optimise_spec(spec.optimise))
    assert info.value.field == "optimise.maximise"


def test_constraint_on_peak_blood_pressure_rise() -> None:
    """--optimise with a constraint on the simulated peak SBP rise (cardiovascular-iv-empirical,
    EMPIRICAL: 0.03079 mmHg per ng/mL of plasma ketamine). Near-identical patients (ASSUMED CV
    1e-9 %), so the reference is the typical patient simulated by ketasim.pk.simulate."""
    import numpy as np

    from ketasim.catalogue import resolve_model
    from ketasim.patient import Patient
    from ketasim.pk import simulate
    from ketasim.regimens import parse_regimen

    doses = [0.25, 0.5, 0.75]
    grid = np.arange(0.0, 121.0)
    ref = {}
    for dose in doses:
        sim = simulate(
            resolve_model("domino"),
            Patient(70.0),
            parse_regimen(f"{dose:g} mg/kg over 40 min"),
            times_min=grid,
        )
        ref[dose] = 0.03079 * float(sim.concentrations_ng_per_ml["ketamine_plasma"].max())
    limit = 0.5 * (ref[0.5] + ref[0.75])
    spec = parse_trial_spec(
        {
            "n": 20,
            "seed": 4,
            "population": {"kind": "fixed", "weight_kg": 70.0},
            "outputs": {"until": "2h", "every": "1min"},
            "arms": [
                {
                    "name": "iv",
                    "model": "domino",
                    "regimen": "0.5 mg/kg over 40 min",
                    "assumed_iiv": {"k10": {"cv_percent": 1e-9, "source": "ASSUMED ~0"}},
                }
            ],
            "endpoints": [
                {"name": "auc", "kind": "auc", "output": "ketamine_plasma"},
                {
                    "name": "sbp_peak",
                    "kind": "pd_peak",
                    "pd_model": "cardiovascular-iv-empirical",
                    "pd_endpoint": "sbp_change",
                },
            ],
            "optimise": {
                "arm": "iv",
                "regimen": "{dose} mg/kg over 40 min",
                "maximise": "auc",
                "parameters": {"dose": doses},
                "constraints": [{"endpoint": "sbp_peak", "statistic": "p95", "max": limit}],
            },
        }
    )
    result = optimise_regimen(spec, parse_optimise_spec(spec.optimise), scheduler="local:1")
    table = result.table.set_index("dose")
    for dose in doses:  # p95 from the histogram: within one bin (0.78%)
        assert table.loc[dose, "sbp_peak:p95"] == pytest.approx(ref[dose], rel=0.008)
    assert table["feasible"].tolist() == [True, True, False]
    assert result.best is not None and result.best["regimen"] == "0.5 mg/kg over 40 min"
    assert result.constraints == ("sbp_peak:p95",)
