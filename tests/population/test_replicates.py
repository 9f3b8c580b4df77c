"""Replicate trials with parameter uncertainty (``replicates = K``): between-trial bands.

Independent references: a one-compartment model with an IV bolus, where Cmax = dose / V does not
depend on clearance (fixed V: no between-trial spread) and AUC = dose / CL does (CL with a 20%
RSE: the band of the mean AUC follows 1 / CL_r, CL_r ~ N(CL, (0.2 CL)^2)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.catalogue import load_model_file, resolve_model
from ketasim.cli import app
from ketasim.errors import InputError
from ketasim.pk.variability import sample_thetas

RSE_CL_PERCENT = 20.0


def _model_file(onecomp_path: Path) -> Path:
    text = onecomp_path.read_text().replace(
        'unit = "L/min"\nsource = "test value"',
        f'unit = "L/min"\nsource = "test value"\nrse_percent = {RSE_CL_PERCENT}',
    )
    path = onecomp_path.with_name("onecomp-rse.toml")
    path.write_text(text)
    return path


def test_thetas_follow_the_published_rse(onecomp_path: Path) -> None:
    model = load_model_file(_model_file(onecomp_path))
    gen = np.random.default_rng(5)
    cl = np.array([sample_thetas(model, gen).parameters["CL"].value for _ in range(4000)])
    assert cl.mean() == pytest.approx(0.2, rel=0.01)
    assert cl.std() / 0.2 == pytest.approx(RSE_CL_PERCENT / 100.0, rel=0.05)
    v = {sample_thetas(model, gen).parameters["V"].value for _ in range(20)}
    assert v == {20.0}  # no RSE: the estimate is kept


def test_model_without_rse_is_refused() -> None:
    with pytest.raises(InputError, match="replicates"):
        sample_thetas(resolve_model("domino"), 1)


def test_replicates_20_writes_between_trial_bands(tmp_path: Path, onecomp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
title = "replicates"
n = 200
seed = 11
chunk_size = 200
replicates = 20
[population]
kind = "fixed"
weight_kg = 70
[outputs]
until = "12h"
every = "2min"
[[arms]]
name = "bolus"
model = "{_model_file(onecomp_path)}"
regimen = "10 mg"
[[endpoints]]
name = "cmax"
kind = "cmax"
output = "ketamine_plasma"
[[endpoints]]
name = "auc"
kind = "auc"
output = "ketamine_plasma"
[[endpoints]]
name = "p_above"
kind = "probability_above"
output = "ketamine_plasma"
threshold_ng_per_ml = 450
""")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["trial", str(spec), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    bands = pd.read_csv(out / "replicate_bands.csv")
    assert set(bands["endpoint"]) == {"cmax", "auc", "p_above"}
    assert (bands["replicates"] == 20).all()
    assert {"p5", "p50", "p95"} <= set(bands.columns)
    cmax = bands[(bands.endpoint == "cmax") & (bands.statistic == "mean")].iloc[0]
    assert cmax["p5"] == pytest.approx(500.0, rel=1e-6)  # 10 mg / 20 L, whatever CL
    assert cmax["p95"] == pytest.approx(500.0, rel=1e-6)
    auc = bands[(bands.endpoint == "auc") & (bands.statistic == "mean")].iloc[0]
    # 1/CL_r at the 5th and 95th percentiles of CL_r: ratio (1 + 1.645 x 0.2)/(1 - 1.645 x 0.2)
    # = 1.98; 20 replicates estimate it loosely
    assert 1.3 < auc["p95"] / auc["p5"] < 3.2
    p_above = bands[(bands.endpoint == "p_above") & (bands.statistic == "probability")]
    assert len(p_above) == 1
