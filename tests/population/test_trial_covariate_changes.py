"""Covariates that change during a trial arm (``arms[].covariate_changes``).

Reference: a two-segment solution built by hand for each kept patient: the patient's rate matrix
before and after the change (their etas, 70 kg then 56 kg), the state propagated by the matrix
exponential of the augmented system over each piece of constant input, carried across the
change; concentrations read with each segment's own volumes. A mg/kg dose after the change uses
the new weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.linalg import expm

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pk import build_system, simulate
from ketasim.pk.occasions import Occasion
from ketasim.population import kernel, parse_trial_spec, run_trial
from ketasim.regimens import parse_regimen

DATA = Path(__file__).resolve().parents[2] / "src" / "ketasim" / "catalogue" / "data"
CHANGE_MIN = 360.0  # 6 h, during the 8-h infusion
INFUSION_MIN = 480.0
BOLUS_MIN = 720.0
COLUMNS = ("ketamine_plasma", "norketamine_plasma")


def _spec(change: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "weight change",
        "n": 10,
        "seed": 11,
        "chunk_size": 10,
        "population": {"kind": "fixed", "weight_kg": 70, "age_years": 40},
        "outputs": {"until": "24h", "every": "30min"},
        "arms": [
            {
                "name": "changing",
                "model": "otto-2021",
                "regimen": "0.5 mg/kg over 8h; 1 mg/kg at 12h",
                "covariate_changes": [{"at": "6h", **change}],
            }
        ],
    }


def _step(K: np.ndarray, x: np.ndarray, u: np.ndarray, h: float) -> np.ndarray:
    n = K.shape[0]
    A = np.zeros((n + 1, n + 1))
    A[:n, :n] = K
    A[:n, n] = u
    return (expm(A * h) @ np.append(x, 1.0))[:n]


def _reference(etas: dict[str, float], times: np.ndarray) -> np.ndarray:
    model = resolve_model("otto-2021")
    before = build_system(model, Patient(70.0, 40.0), etas=etas)
    after = build_system(model, Patient(56.0, 40.0), etas=etas)
    central = before.state_index("central")
    rate = 0.5 * 70.0 / INFUSION_MIN  # mg/min, dosed with the weight at the dose (70 kg)
    # pieces of constant system and input: (start, end, system, input mg/min)
    pieces = [
        (0.0, CHANGE_MIN, before, rate),
        (CHANGE_MIN, INFUSION_MIN, after, rate),
        (INFUSION_MIN, BOLUS_MIN, after, 0.0),
        (BOLUS_MIN, np.inf, after, 0.0),
    ]
    out = np.zeros((times.size, len(COLUMNS)))
    x = np.zeros(before.K.shape[0])
    for start, end, system, r in pieces:
        if start == BOLUS_MIN:
            x[central] += 1.0 * 56.0  # 1 mg/kg with the weight after the change
        u = np.zeros_like(x)
        u[central] = r
        C = system.output_matrix() * 1000.0
        names = [o.name for o in system.outputs]
        for i, t in enumerate(times):
            if start <= t < end:
                y = C @ _step(system.K, x, u, t - start)
                out[i] = [y[names.index(c)] for c in COLUMNS]
        if np.isfinite(end):
            x = _step(system.K, x, u, end - start)
    return out


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("change", [{"scale": {"WT": 0.8}}, {"set": {"WT": 56}}])
def test_weight_change_matches_a_hand_built_two_segment_solution(
    change: dict[str, Any], compiled: bool
) -> None:
    if compiled and not kernel.HAVE_NUMBA:
        pytest.skip("numba not installed")
    result = run_trial(parse_trial_spec(_spec(change)), individuals=3, compiled=compiled)
    prof, params = result.individuals, result.individual_parameters
    assert prof is not None and params is not None
    model = resolve_model("otto-2021")
    for pid in range(3):
        row = params[params["id"] == pid].iloc[0]
        etas = {n: float(row[f"eta_{n}"]) for n in model.iiv}
        mine = prof[prof["id"] == pid]
        times = mine["time_min"].to_numpy()
        want = _reference(etas, times)
        got = np.column_stack([mine[f"{c}_ng_per_ml"].to_numpy() for c in COLUMNS])
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.max(want))
        # the change matters: at the change the concentration jumps by the volume ratio
        at = int(np.flatnonzero(times == CHANGE_MIN)[0])
        assert got[at, 0] / got[at - 1, 0] > 1.1


def test_no_change_before_it_happens() -> None:
    plain = _spec({"scale": {"WT": 0.8}})
    plain["arms"][0].pop("covariate_changes")
    a = run_trial(parse_trial_spec(_spec({"scale": {"WT": 0.8}})), individuals=2, compiled=False)
    b = run_trial(parse_trial_spec(plain), individuals=2, compiled=False)
    assert a.individuals is not None and b.individuals is not None
    early = a.individuals["time_min"] < CHANGE_MIN
    col = "ketamine_plasma_ng_per_ml"
    np.testing.assert_allclose(
        a.individuals[col][early], b.individuals[col][early], rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ([{"at": "6h", "set": {"XYZ": 1}}], "arms[0].covariate_changes[0].set.XYZ"),
        (
            [{"at": "6h", "scale": {"WT": 0.9}}, {"at": "2h", "scale": {"WT": 0.9}}],
            "arms[0].covariate_changes[1].at",
        ),
        ([{"at": "6h"}], "arms[0].covariate_changes[0]"),
        ([{"at": "6h", "scale": {"WT": -1}}], "arms[0].covariate_changes[0]"),
    ],
)
def test_bad_covariate_changes_are_named(changes: list[dict[str, Any]], field: str) -> None:
    spec = _spec({"scale": {"WT": 0.8}})
    spec["arms"][0]["covariate_changes"] = changes
    with pytest.raises(InputError) as info:
        run_trial(parse_trial_spec(spec), compiled=False)
    assert info.value.field == field


@pytest.mark.parametrize("compiled", [False, True])
def test_iov_on_the_observed_volume_matches_simulate_with_occasions(
    tmp_path: Path, compiled: bool
) -> None:
    # refused in trials before (one output matrix); now run on the scaled state
    if compiled and not kernel.HAVE_NUMBA:
        pytest.skip("numba not installed")
    text = (DATA / "otto-2021.toml").read_text(encoding="utf-8")
    text = text.replace('id = "otto-2021"', 'id = "otto-2021-iov-test"')
    text += '\n[iov.V1_70]\nomega_sq = 0.2\nsource = "test only: not a published value"\n'
    path = tmp_path / "otto-iov.toml"
    path.write_text(text, encoding="utf-8")
    spec = _spec({"scale": {"WT": 1.0}})
    arm = spec["arms"][0]
    arm.pop("covariate_changes")
    arm.update(model=str(path), regimen="0.5 mg/kg over 40min", repeat="every 24h x 2")
    spec["outputs"] = {"until": "36h", "every": "30min"}
    result = run_trial(parse_trial_spec(spec), individuals=3, compiled=compiled)
    prof, params = result.individuals, result.individual_parameters
    assert prof is not None and params is not None
    model = resolve_model(str(path))
    regimen = parse_regimen("0.5 mg/kg over 40min", repeat="every 24h x 2")
    for pid in range(3):
        row = params[params["id"] == pid].iloc[0]
        etas = {n: float(row[f"eta_{n}"]) for n in model.iiv}
        occasions = [
            Occasion(start, {"V1_70": float(row[f"kappa_V1_70_occ{k + 1}"])})
            for k, start in enumerate((0.0, 1440.0))
        ]
        mine = prof[prof["id"] == pid]
        times = mine["time_min"].to_numpy()
        ref = simulate(
            model, Patient(70.0, 40.0), regimen, times_min=times, etas=etas, occasions=occasions
        )
        for name in COLUMNS:
            want = ref.concentrations_ng_per_ml[name]
            got = mine[f"{name}_ng_per_ml"].to_numpy()
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.max(want))


def _herd_spec(at: str) -> dict[str, Any]:
    """Herd 2007 (weights 10.8-74.8 kg): children of 70 kg whose weight is set to 80 kg."""
    return {
        "title": "weight leaves the model's range",
        "n": 20,
        "seed": 3,
        "chunk_size": 10,
        "population": {"kind": "fixed", "weight_kg": 70, "age_years": 10},
        "outputs": {"until": "12h", "every": "30min"},
        "arms": [
            {
                "name": "growing",
                "model": "herd-2007",
                "regimen": "1 mg/kg",
                "covariate_changes": [{"at": at, "set": {"WT": 80}}],
            }
        ],
    }


def _validity_messages(at: str) -> list[str]:
    result = run_trial(parse_trial_spec(_herd_spec(at)), compiled=False)
    return [f.message for f in result.findings if f.rule_id == "population.validity"]


def test_validity_counts_covariates_after_a_change() -> None:
    """A weight set outside the model's range mid-trial is counted (it was judged at t0 only);
    a change after the end of the outputs is not."""
    inside = _validity_messages("20h")
    assert inside == []
    outside = _validity_messages("6h")
    assert len(outside) == 1 and "20 of 20 virtual patients" in outside[0]
