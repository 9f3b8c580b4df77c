"""``ketasim fit``: JSON contract, assumed residual error, bad files, dose recommendation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketasim.cli import app

RUNNER = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fit" / "levels.csv"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "levels.csv"
    path.write_text(text)
    return path


def test_json_contract_has_a_row_per_record() -> None:
    result = RUNNER.invoke(
        app, ["fit", "--model", "otto", "--data", str(EXAMPLE), "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    records = EXAMPLE.read_text().strip().splitlines()[1:]
    assert [i["id"] for i in doc["individuals"]] == ["1", "2"]
    rows = [r for i in doc["individuals"] for r in i["rows"]]
    assert len(rows) == len(records)  # dose and MDV=1 rows included
    for r in rows:
        assert {"time", "analyte", "dv", "mdv", "pred", "ipred"} <= set(r)
    first = doc["individuals"][0]
    assert set(first["parameters"]) == {"V1_70", "CL_70", "V_nk_70", "CL_nk_70"}
    cl = first["parameters"]["CL_70"]
    assert cl["unit"] == "L/h" and cl["ci90"][0] < cl["value"] < cl["ci90"][1]
    prediction_rows = [r for r in first["rows"] if r["mdv"] == 1 and r["time"] == 8.0]
    assert {r["analyte"] for r in prediction_rows} == {"ketamine", "norketamine"}
    assert all(r["dv"] is None and r["ipred"] > 0 for r in prediction_rows)
    assert first["residual_error"]["ketamine"]["assumed"] is False


def test_typical_patient_rate_is_target_times_clearance() -> None:
    """Steady state: rate = Css x CL. Otto typical CL = 95.2 L/h x (68/70)^0.75 for ID 1."""
    result = RUNNER.invoke(
        app,
        [
            "fit",
            "--model",
            "otto",
            "--data",
            str(EXAMPLE),
            "--output",
            "json",
            "--target",
            "300 ng/mL",
        ],
    )
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)["individuals"][0]["recommendation"]
    assert rec["typical_patient"] == pytest.approx(0.3 * 95.2 * (68 / 70) ** 0.75, rel=1e-6)
    assert rec["ci90"][0] < rec["value"] < rec["ci90"][1]


def test_assumed_residual_error_is_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "ID,TIME,AMT,EVID,MDV,DV,WT,AGE\n1,0,30,1,1,.,30,8\n"
        "1,0.25,0,0,0,900,30,8\n1,1,0,0,0,300,30,8\n1,2,0,0,1,.,30,8\n",
    )
    result = RUNNER.invoke(app, ["fit", "--model", "herd", "--data", str(path)])
    assert result.exit_code == 2
    assert "--residual-error" in result.stderr
    result = RUNNER.invoke(
        app,
        [
            "fit",
            "--model",
            "herd",
            "--data",
            str(path),
            "--residual-error",
            "proportional 15% + additive 5 ng/mL",
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    error = json.loads(result.stdout)["individuals"][0]["residual_error"]["ketamine"]
    assert (
        error["assumed"] is True and "proportional 15% + additive 5 ng/mL" in error["description"]
    )
    assert "assumed" in result.stderr


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("ID,TIME,DV\n1,0,5\n", "column AMT"),
        ("ID,TIME,AMT,DV\n1,0,30,.\n1,-1,0,5\n", "row 2, column TIME"),
        ("ID,TIME,AMT,DV,MDV\n1,0.5,0,5,0\n1,1,30,.,1\n", "row 1, column TIME"),
        ("ID,TIME,AMT,DV\n1,0,30,.\n1,1,0,high\n", "row 2, column DV"),
    ],
)
def test_bad_files_name_row_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text)
    result = RUNNER.invoke(
        app,
        [
            "fit",
            "--model",
            "herd",
            "--data",
            str(path),
            "--weight",
            "30",
            "--age",
            "8",
            "--residual-error",
            "proportional 15%",
        ],
    )
    assert result.exit_code == 2
    assert where in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_plot_is_written(tmp_path: Path) -> None:
    out = tmp_path / "fit.png"
    result = RUNNER.invoke(
        app,
        ["fit", "--model", "otto", "--data", str(EXAMPLE), "--output", "csv", "--plot", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    assert result.stdout.splitlines()[0].startswith("ID,row,time,analyte")
