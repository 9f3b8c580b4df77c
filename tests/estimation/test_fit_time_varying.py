"""``ketasim fit`` on a model whose parameters change with the time after the first dose
(Flint 2017: S-norketamine clearance +0.87% per hour): predictions follow K(t), checked against
Flint's equations written out by hand and solved by scipy (tests/support/flint_reference.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flint_reference import flint_reference
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.patient import Patient

PATIENT = Patient(7.0, 0.5)
LOAD_MG = 7.0  # 1 mg/kg bolus at 0
RATE_MG_PER_H = 7.0  # 1 mg/kg/h for 48 h
INFUSION_END_H = 48.0
OBS_H = (6.0, 24.0, 40.0, 47.5, 50.0, 60.0)
CL_NK_ETA = 0.4  # the data's S-norketamine clearance: exp(0.4) x typical


def _table(path: Path) -> np.ndarray:
    times_min = np.array(OBS_H) * 60.0
    dv = flint_reference(
        PATIENT,
        LOAD_MG,
        RATE_MG_PER_H / 60.0,
        INFUSION_END_H * 60.0,
        times_min,
        cl_nk_factor=float(np.exp(CL_NK_ETA)),
    )
    lines = [
        "ID,TIME,AMT,RATE,EVID,MDV,DV,ANALYTE,WT,AGE",
        f"1,0,{LOAD_MG},0,1,1,.,,7,0.5",
        f"1,0,{RATE_MG_PER_H * INFUSION_END_H},{RATE_MG_PER_H},1,1,.,,7,0.5",
    ]
    for t, (ket, nk) in zip(OBS_H, dv, strict=True):
        lines.append(f"1,{t},0,0,0,0,{float(ket)!r},ketamine,7,0.5")
        lines.append(f"1,{t},0,0,0,0,{float(nk)!r},norketamine,7,0.5")
    path.write_text("\n".join(lines) + "\n")
    return dv


def _fit(path: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["fit", "--model", "flint-2017", "--data", str(path), "--output", "json", *extra],
    )
    assert result.exit_code == 0, result.output
    ind: dict[str, Any] = json.loads(result.stdout)["individuals"][0]
    return ind


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], np.ndarray]:
    """One fit (about 15 s): levels made with CL_nk x exp(0.4), small assumed residual error."""
    path = tmp_path_factory.mktemp("flint") / "flint.csv"
    dv = _table(path)
    return _fit(path, "--residual-error", "proportional 2%"), dv


def test_fit_predictions_follow_time_varying_clearance(
    fitted: tuple[dict[str, Any], np.ndarray],
) -> None:
    """PRED (the typical patient) equals Flint's hand-written equations to 1e-6."""
    ind, _ = fitted
    rows = [r for r in ind["rows"] if r["mdv"] == 0]
    typical = flint_reference(
        PATIENT, LOAD_MG, RATE_MG_PER_H / 60.0, INFUSION_END_H * 60.0, np.array(OBS_H) * 60.0
    )
    want = {(t, a): typical[i, j] for i, t in enumerate(OBS_H) for j, a in enumerate("kn")}
    assert len(rows) == 2 * len(OBS_H)
    for r in rows:
        key = (r["time"], "n" if "nor" in r["analyte"] else "k")
        # before: the system at the first dose, S-norketamine 21-52% high at 24-60 h
        assert r["pred"] == pytest.approx(want[key], rel=1e-6), r


def test_fit_recovers_the_data_clearance(fitted: tuple[dict[str, Any], np.ndarray]) -> None:
    """The MAP eta of CL_nk lands near the data's 0.4 and the individual predictions
    reproduce the levels."""
    ind, dv = fitted
    assert ind["parameters"]["CL_nk_70"]["eta"] == pytest.approx(CL_NK_ETA, abs=0.05)
    rows = [r for r in ind["rows"] if r["mdv"] == 0]
    ipred = np.array([r["ipred"] for r in rows])
    np.testing.assert_allclose(ipred, dv.ravel(), rtol=0.03)
