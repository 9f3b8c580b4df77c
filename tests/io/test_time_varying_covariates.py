"""Covariates that change during an event table (NONMEM convention: from that record on).

Reference: a hand-built two-segment solution with scipy's matrix exponential, the state carried
across the change; the engine's propagator tables are not used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import expm
from typer.testing import CliRunner

from ketasim.catalogue import resolve_model
from ketasim.cli import app
from ketasim.io import read_event_table
from ketasim.io.individual import simulate_individual
from ketasim.patient import Patient
from ketasim.pk import build_system

HEADER = "ID,TIME,AMT,RATE,CMT,EVID,WT,AGE\n"
# 35 mg over 3 h (11.667 mg/h) from 0; weight 70 kg until the record at 2 h says 90 kg
TABLE = (
    "1,0,35,11.6666666666666667,1,1,70,40\n1,1,.,.,1,2,70,40\n1,2,.,.,1,2,90,40\n"
    "1,2.5,.,.,1,2,.,40\n1,4,.,.,1,2,.,40\n1,8,.,.,1,2,.,40\n"
)
T_CHANGE_MIN = 120.0
RATE_MG_PER_MIN = 35.0 / 180.0


def _hand_built(times_min: np.ndarray) -> np.ndarray:
    model = resolve_model("domino")
    s1 = build_system(model, Patient(70.0, 40.0))
    s2 = build_system(model, Patient(90.0, 40.0))
    n = s1.K.shape[0]
    u = np.zeros(n)
    u[0] = RATE_MG_PER_MIN

    def step(K: np.ndarray, x: np.ndarray, rate: np.ndarray, h: float) -> np.ndarray:
        # d/dt [x; 1] = [[K, rate], [0, 0]] [x; 1]
        aug = np.zeros((n + 1, n + 1))
        aug[:n, :n] = K
        aug[:n, n] = rate
        return (expm(aug * h) @ np.append(x, 1.0))[:n]

    out = []
    for t in times_min:
        x = np.zeros(n)
        if t < T_CHANGE_MIN:
            x = step(s1.K, x, u, t)
            out.append(s1.output_matrix() @ x)
            continue
        x = step(s1.K, x, u, T_CHANGE_MIN)
        x = step(s2.K, x, u, min(t, 180.0) - T_CHANGE_MIN)
        if t > 180.0:
            x = step(s2.K, x, np.zeros(n), t - 180.0)
        out.append(s2.output_matrix() @ x)
    return np.array(out) * 1000.0


def test_reader_lists_the_change_from_that_record(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + TABLE)
    (ind,) = read_event_table(path)
    assert ind.covariates == {"WT": 70.0, "AGE": 40.0}
    assert ind.covariate_changes == ((T_CHANGE_MIN, {"WT": 90.0, "AGE": 40.0}),)


def test_mid_table_weight_change_matches_hand_built_two_segments(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + TABLE)
    (ind,) = read_event_table(path)
    model = resolve_model("domino")
    times = ind.observation_times_min
    res = simulate_individual(
        model, ind, lambda p: Patient(p.covariates["WT"], p.covariates["AGE"]), times
    )
    ref = _hand_built(times)
    got = np.column_stack([res.concentrations_ng_per_ml[o] for o in ("ketamine_plasma",)])
    np.testing.assert_allclose(got[:, 0], ref[:, 0], rtol=1e-9)
    # before the change the prediction is that of 70 kg throughout; from it on it is not
    constant = _hand_built(np.array([60.0]))
    assert got[0, 0] == pytest.approx(constant[0, 0], rel=1e-9)
    s1 = build_system(model, Patient(70.0, 40.0))
    assert not np.allclose(s1.K, build_system(model, Patient(90.0, 40.0)).K)


def test_cli_simulate_events_uses_the_changing_covariate(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + TABLE)
    result = CliRunner().invoke(
        app, ["simulate", "--model", "domino", "--events", str(path), "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    import json

    rows = json.loads(result.stdout)
    times = np.array([r["time_min"] for r in rows])
    got = np.array([r["ketamine_plasma_ng_per_ml"] for r in rows])
    np.testing.assert_allclose(got, _hand_built(times)[:, 0], rtol=1e-6)
