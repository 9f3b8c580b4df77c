"""Inter-occasion variability in trials (Simons 2022, one occasion per dosing day).

References: each kept patient's profile against ``simulate`` with that patient's etas and
occasion kappas (the occasion path, itself checked against an independent scipy ODE in
tests/pk/test_occasions.py); the sampled kappas against their stated variances.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import simulate
from ketasim.pk.occasions import Occasion
from ketasim.population import parse_trial_spec, run_trial
from ketasim.regimens import parse_regimen

REGIMEN = "50 mg sublingual"
REPEAT = "every 24h x 2"


def _spec(n: int, keep_until: str = "36h") -> dict[str, object]:
    return {
        "title": "film on two days",
        "n": n,
        "seed": 20261204,
        "chunk_size": n,
        "population": {"kind": "fixed", "weight_kg": 70, "age_years": 25},
        "outputs": {"until": keep_until, "every": "20min"},
        "arms": [
            {
                "name": "film",
                "model": "simons",
                "regimen": REGIMEN,
                "route": "sublingual",
                "repeat": REPEAT,
            }
        ],
        "endpoints": [{"name": "cmax", "kind": "cmax", "output": "ketamine_plasma"}],
    }


@pytest.mark.parametrize("compiled", [False, True])
def test_profiles_match_simulate_with_the_patients_occasions(compiled: bool) -> None:
    from ketasim.population import kernel

    if compiled and not kernel.HAVE_NUMBA:
        pytest.skip("numba not installed")
    spec = parse_trial_spec(_spec(40))
    result = run_trial(spec, individuals=3, compiled=compiled)
    assert any(f.rule_id == "population.iov" for f in result.findings)
    model = resolve_model("simons-2022")
    regimen = parse_regimen(REGIMEN, route="sublingual", repeat=REPEAT)
    prof, params = result.individuals, result.individual_parameters
    assert prof is not None and params is not None
    for pid in range(3):
        row = params[params["id"] == pid].iloc[0]
        etas = {n: float(row[f"eta_{n}"]) for n in model.iiv}
        occasions = [
            Occasion(start, {n: float(row[f"kappa_{n}_occ{k + 1}"]) for n in model.iov})
            for k, start in enumerate((0.0, 1440.0))
        ]
        mine = prof[prof["id"] == pid]
        times = mine["time_min"].to_numpy()
        ref = simulate(
            model, Patient(70.0, 25.0), regimen, times_min=times, etas=etas, occasions=occasions
        )
        for name in ("ketamine_plasma", "norketamine_plasma", "hydroxynorketamine_plasma"):
            got = mine[f"{name}_ng_per_ml"].to_numpy()
            want = ref.concentrations_ng_per_ml[name]
            assert np.max(np.abs(got - want)) <= 1e-6 * np.max(want), name
        k1, k2 = row["kappa_F1_occ1"], row["kappa_F1_occ2"]
        assert k1 != k2  # a new draw on the second day


def test_sampled_occasion_effects_have_the_stated_variance() -> None:
    n = 1000
    spec = parse_trial_spec(_spec(n, keep_until="1h"))
    params = run_trial(spec, individuals=n, compiled=False).individual_parameters
    assert params is not None
    model = resolve_model("simons-2022")
    for name in ("F1", "D2", "MTTG"):
        var = model.iov[name].variance()
        for k in (1, 2):
            sample = params[f"kappa_{name}_occ{k}"].to_numpy()
            se = var * np.sqrt(2.0 / (n - 1))
            assert abs(sample.var(ddof=1) - var) < 5 * se
        r = np.corrcoef(params[f"kappa_{name}_occ1"], params[f"kappa_{name}_occ2"])[0, 1]
        assert abs(r) < 5 / np.sqrt(n)
