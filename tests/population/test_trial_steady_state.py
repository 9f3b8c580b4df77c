"""Steady state in virtual trials (``arms[].steady_state`` with ``interval_h``, NONMEM SS = 1).

Reference, independent of the steady-state algebra: the same patients (arms on one model share
their etas) given the same dose 40 times, every II from time 0, in another arm of the same trial;
the interval after the 40th dose must equal the steady-state arm's first interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.errors import InputError
from ketasim.population import kernel, parse_trial_spec, run_trial

ROOT = Path(__file__).resolve().parents[2]
II_H = 12
N_REPEAT = 40
EVERY_MIN = 20
COLUMNS = ("ketamine_plasma_ng_per_ml", "norketamine_plasma_ng_per_ml")


def _spec(regimen: str, **arm: Any) -> dict[str, Any]:
    return {
        "title": "steady state",
        "n": 12,
        "seed": 5,
        "chunk_size": 12,
        "population": {"kind": "fixed", "weight_kg": 70, "age_years": 40},
        "outputs": {"until": f"{N_REPEAT * II_H}h", "every": f"{EVERY_MIN}min"},
        "arms": [
            {
                "name": "ss",
                "model": "otto-2021",
                "regimen": regimen,
                "steady_state": True,
                "interval_h": II_H,
                **arm,
            },
            {
                "name": "repeated",
                "model": "otto-2021",
                "regimen": regimen,
                "repeat": f"every {II_H}h x {N_REPEAT}",
            },
        ],
    }


def _assert_ss_is_last_interval(prof: pd.DataFrame, patients: int, per_interval: int) -> None:
    """Each patient's first interval in the SS arm equals the interval after the 40th dose of
    the repeated arm, to 1e-9."""
    for pid in range(patients):
        ss = prof[(prof["arm"] == "ss") & (prof["id"] == pid)]
        rep = prof[(prof["arm"] == "repeated") & (prof["id"] == pid)]
        for col in COLUMNS:
            got = ss[col].to_numpy()[: per_interval + 1]
            want = rep[col].to_numpy()[(N_REPEAT - 1) * per_interval : N_REPEAT * per_interval + 1]
            assert np.max(want) > 1.0
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.max(want))


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize(
    "regimen",
    [
        "0.5 mg/kg",  # bolus
        "0.5 mg/kg over 2h",  # infusion
        "0.5 mg/kg over 14h",  # infusion longer than II: consecutive doses overlap
    ],
)
def test_ss_arm_equals_the_dose_repeated_40_times(regimen: str, compiled: bool) -> None:
    if compiled and not kernel.HAVE_NUMBA:
        pytest.skip("numba not installed")
    result = run_trial(parse_trial_spec(_spec(regimen)), individuals=4, compiled=compiled)
    prof = result.individuals
    assert prof is not None
    _assert_ss_is_last_interval(prof, 4, II_H * 60 // EVERY_MIN)
    # patients differ (etas): the comparison is per patient, not of one typical profile
    first = prof[(prof["arm"] == "ss") & (prof["id"] == 0)][COLUMNS[0]].to_numpy()
    second = prof[(prof["arm"] == "ss") & (prof["id"] == 1)][COLUMNS[0]].to_numpy()
    assert not np.allclose(first, second)


def test_ss_unit_is_every_dose_of_the_first_interval() -> None:
    # two doses 6 h apart at steady state every 24 h = the pair repeated 40 times
    spec = _spec("0.25 mg/kg; 0.25 mg/kg at 6h", interval_h=24)
    spec["arms"][1]["regimen"] = "; ".join(
        f"0.25 mg/kg at {24 * k}h; 0.25 mg/kg at {24 * k + 6}h" for k in range(N_REPEAT)
    )
    spec["arms"][1].pop("repeat")
    spec["outputs"]["until"] = f"{24 * N_REPEAT}h"
    prof = run_trial(parse_trial_spec(spec), individuals=2, compiled=False).individuals
    assert prof is not None
    _assert_ss_is_last_interval(prof, 2, 24 * 60 // EVERY_MIN)


@pytest.mark.parametrize(
    ("arm", "field"),
    [
        ({"steady_state": True}, "arms[0]"),
        ({"interval_h": 12}, "arms[0]"),
        ({"steady_state": True, "interval_h": -1}, "arms[0].interval_h"),
    ],
)
def test_bad_steady_state_fields_are_named(arm: dict[str, Any], field: str) -> None:
    spec = _spec("0.5 mg/kg")
    spec["arms"][0] = {"name": "ss", "model": "otto-2021", "regimen": "0.5 mg/kg", **arm}
    with pytest.raises(InputError) as info:
        parse_trial_spec(spec)
    assert info.value.field == field


def test_cli_runs_the_example_with_steady_state_and_a_weight_change(tmp_path: Path) -> None:
    example = ROOT / "examples" / "trials" / "weekly-maintenance-steady-state.toml"
    text = example.read_text(encoding="utf-8").replace("n = 10000", "n = 200")
    text = text.replace("chunk_size = 10000", "chunk_size = 100")
    spec = tmp_path / "spec.toml"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["trial", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    ends = pd.read_csv(out / "endpoints.csv")
    cmax = ends[ends["endpoint"] == "cmax_ketamine_week2"].set_index("arm")["mean"]
    # same patients and etas, week 2 dosed and solved at 90% of their weight: a different Cmax
    assert cmax["steady state"] > 10.0
    assert abs(cmax["weight -10% from day 3"] / cmax["steady state"] - 1.0) > 1e-3
