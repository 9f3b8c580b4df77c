"""``ketasim trial`` end to end on a small spec."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from ketasim.cli import app


def _spec(tmp_path: Path, model: str, extra: str = "") -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(f"""
title = "cli test"
n = 120
seed = 3
chunk_size = 50
[population]
kind = "fixed"
weight_kg = 70
[outputs]
until = "2h"
every = "5min"
[[arms]]
name = "a"
model = "{model}"
regimen = "0.5 mg/kg over 40 min"
[arms.assumed_iiv.k10]
cv_percent = 30
source = "ASSUMED for the test"
[[endpoints]]
name = "p_ce"
kind = "probability_above"
output = "ketamine_effect"
threshold_ng_per_ml = 200
{extra}
""")
    return path


def test_trial_writes_summaries_figure_spec_and_seed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "trial",
            str(_spec(tmp_path, "domino")),
            "--out",
            str(out),
            "--individuals",
            "3",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in (
        "bands.parquet",
        "bands.csv",
        "endpoints.parquet",
        "endpoints.csv",
        "bands.png",
        "spec.toml",
        "run.json",
        "individuals.csv",
        "individual_parameters.csv",
    ):
        assert (out / name).is_file(), name
    bands = pd.read_parquet(out / "bands.parquet")
    assert set(bands["output"]) == {"ketamine_plasma", "ketamine_effect"}
    assert (bands["n"] == 120).all()
    record = json.loads((out / "run.json").read_text())
    assert record["seed"] == 3
    assert record["variability"]["a"].startswith("ASSUMED")
    ends = pd.read_csv(out / "endpoints.csv")
    assert 0 < ends.loc[0, "probability"] < 1
    assert len(pd.read_csv(out / "individuals.csv")) == 3 * 25


def test_bad_spec_exits_2_with_the_field(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["trial", str(_spec(tmp_path, "no-such-model")), "--out", str(tmp_path / "o"), "--quiet"],
    )
    assert result.exit_code == 2
    assert "arms[0].model" in result.output


def test_optimise_writes_candidates_and_frontier(tmp_path: Path) -> None:
    spec = Path(__file__).resolve().parents[2] / "examples" / "trials" / "dissociation-search.toml"
    out = tmp_path / "opt"
    result = CliRunner().invoke(
        app, ["trial", str(spec), "--out", str(out), "--optimise", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "candidates.csv")
    assert len(table) == 12
    assert (out / "frontier.png").is_file()
    feasible = table[table["feasible"]]
    assert (feasible["cmax_plasma:p95"] <= 300).all()
    best = json.loads((out / "run.json").read_text())["best"]
    assert best["objective"] == feasible["objective"].max()
