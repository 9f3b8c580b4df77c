"""``ketasim tci`` command-line contract."""

from __future__ import annotations

import io
import json

import pandas as pd
from typer.testing import CliRunner

from ketasim.cli import app

RUNNER = CliRunner()
ARGS = [
    "tci",
    "--model",
    "domino",
    "--weight",
    "70",
    "--age",
    "40",
    "--target",
    "1 ug/mL",
    "--site",
    "effect",
    "--duration",
    "60min",
    "--syringe",
    "10 mg/mL",
    "--max-rate",
    "1200 mL/h",
]


def test_csv_columns_and_ke0_origin() -> None:
    result = RUNNER.invoke(app, [*ARGS, "--output", "csv"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == [
        "time_min",
        "rate_ml_per_h",
        "cumulative_mg",
        "ketamine_plasma_ng_per_ml",
        "ketamine_effect_ng_per_ml",
    ]
    assert frame["time_min"].iloc[-1] == 60.0
    assert frame["ketamine_effect_ng_per_ml"].max() <= 1010.0
    assert "from the model file domino-1982 (assumed" in result.stderr


def test_json_user_tpeak_and_performance() -> None:
    result = RUNNER.invoke(
        app,
        [
            "tci",
            "--model",
            "otto",
            "--weight",
            "70",
            "--target",
            "300 ng/mL",
            "--duration",
            "20min",
            "--tpeak",
            "2min",
            "--output",
            "json",
            "--performance",
            "20",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["effect_site"]["origin"] == "user tpeak"
    assert set(doc["performance"]["summary"]) == {
        "mdpe_percent",
        "mdape_percent",
        "divergence_percent_per_h",
        "wobble_percent",
    }
    assert doc["rows"][0]["time_min"] == 0.0


def test_bad_input_is_one_line_error() -> None:
    result = RUNNER.invoke(app, [*ARGS[:-2], "--max-rate", "fast"])
    assert result.exit_code == 2
    assert "--max-rate" in result.stderr
    result = RUNNER.invoke(
        app,
        [
            "tci",
            "--model",
            "otto",
            "--weight",
            "70",
            "--target",
            "300 ng/mL",
            "--duration",
            "20min",
        ],
    )
    assert result.exit_code == 2
    assert "--ke0" in result.stderr


def test_figures_are_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    plan_png, perf_png = tmp_path / "tci.png", tmp_path / "varvel.png"
    result = RUNNER.invoke(
        app,
        [
            "tci",
            "--model",
            "herd",
            "--weight",
            "30",
            "--age",
            "8",
            "--target",
            "1 ug/mL",
            "--duration",
            "20min",
            "--plot",
            str(plan_png),
            "--performance",
            "30",
            "--seed",
            "3",
            "--performance-plot",
            str(perf_png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert plan_png.stat().st_size > 10_000 and perf_png.stat().st_size > 10_000
    assert "MDAPE" in result.stderr
