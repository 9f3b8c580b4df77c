"""The command line: public contracts (columns, JSON fields) and one-line errors (exit 2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.cli import app

runner = CliRunner()

DOMINO_ARGS = [
    "simulate",
    "--model",
    "domino",
    "--weight",
    "70",
    "--age",
    "40",
    "--dose",
    "0.5 mg/kg",
    "--over",
    "40min",
    "--until",
    "4h",
    "--every",
    "5min",
]


def test_simulate_csv_contract() -> None:
    result = runner.invoke(app, [*DOMINO_ARGS, "--output", "csv"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == [
        "time_min",
        "ketamine_plasma_ng_per_ml",
        "ketamine_effect_ng_per_ml",
    ]
    assert frame["time_min"].iloc[-1] == 240.0 and len(frame) == 49
    assert frame.loc[frame.time_min == 40, "ketamine_plasma_ng_per_ml"].item() > 200


def test_simulate_metabolite_columns_and_route() -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--model",
            "perez-ruixo",
            "--weight",
            "70",
            "--age",
            "45",
            "--dose",
            "84 mg",
            "--route",
            "intranasal",
            "--until",
            "2h",
            "--every",
            "30min",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == [
        "time_min",
        "esketamine_plasma_ng_per_ml",
        "noresketamine_plasma_ng_per_ml",
    ]


def test_simulate_repeat_table_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "fig.png"
    result = runner.invoke(
        app,
        [
            *DOMINO_ARGS[:-4],
            "--repeat",
            "every 2h x 2",
            "--until",
            "5h",
            "--every",
            "30min",
            "--output",
            "table",
            "--plot",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ketamine_plasma (ng/mL)" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_simulate_events_file(tmp_path: Path) -> None:
    path = tmp_path / "ev.csv"
    path.write_text(
        "ID,TIME,AMT,RATE,EVID,WT,AGE\n1,0,35,52.5,1,70,40\n1,0.5,.,.,0,70,40\n"
        "2,0,10,0,1,80,50\n2,1,.,.,0,80,50\n"
    )
    result = runner.invoke(app, ["simulate", "--model", "domino", "--events", str(path)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns)[:2] == ["ID", "time_min"]
    assert frame["ID"].tolist() == [1, 2]
    np.testing.assert_allclose(frame["time_min"], [30.0, 60.0])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dose", "-0.5 mg/kg"], "dose"),
        (["--dose", "0 mg"], "dose"),
        (["--dose", "1 mg/furlong"], "--dose"),
        (["--dose", "1 mg", "--over", "forty"], "--over"),
        (["--dose", "1 mg", "--route", "oral"], "route"),
        (["--dose", "1 mg", "--every", "0min"], "--every"),
        (["--dose", "1 mg", "--weight", "-3"], "weight_kg"),
    ],
)
def test_simulate_errors_are_one_line(args: list[str], needle: str) -> None:
    base = ["simulate", "--model", "domino", "--weight", "70"]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err.startswith("ketasim: error:") and "\n" not in err and needle in err
    assert "Traceback" not in result.output


def test_unknown_model() -> None:
    result = runner.invoke(app, ["simulate", "--model", "nope", "--weight", "70", "--dose", "1 mg"])
    assert result.exit_code == 2 and "unknown model 'nope'" in result.stderr


def test_out_of_range_weight_error_or_warning() -> None:
    args = [
        "simulate",
        "--model",
        "herd",
        "--weight",
        "90",
        "--age",
        "10",
        "--dose",
        "1 mg/kg",
        "--until",
        "1h",
        "--every",
        "30min",
    ]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert "--weight" in refused.stderr and "10.8 to 74.8" in refused.stderr
    allowed = runner.invoke(app, [*args, "--allow-extrapolation"])
    assert allowed.exit_code == 0
    assert "warn" in allowed.stderr and "outside the range" in allowed.stderr


def test_models_json_contract() -> None:
    result = runner.invoke(app, ["models", "--output", "json"])
    assert result.exit_code == 0
    models = json.loads(result.stdout)
    for m in models:
        for key in ("id", "drug", "analytes", "routes", "population", "citation", "validity"):
            assert key in m
        assert set(m["citation"]) >= {"text", "doi", "pmid"}
    herd = next(m for m in models if m["id"] == "herd-2007")
    assert herd["validity"]["weight_kg"]["min"] == 10.8


def test_models_table_and_show() -> None:
    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0 and "domino-1982" in listing.stdout
    card = runner.invoke(app, ["models", "show", "domino"])
    assert card.exit_code == 0
    assert "7198883" in card.stdout and "ASSUMED" in card.stdout
    card_json = json.loads(runner.invoke(app, ["models", "show", "herd", "-o", "json"]).stdout)
    assert card_json["parameters"]
    assert all(p["unit"] is not None and p["source"] for p in card_json["parameters"].values())
    bad = runner.invoke(app, ["models", "show", "nope"])
    assert bad.exit_code == 2
