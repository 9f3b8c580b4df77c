"""``ketasim effects`` and ``ketasim calibration``: contracts and one-line errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.pd import resolve_pd_model
from ketasim.pd.calibration.fit_cardiovascular import calibrate_cardiovascular

runner = CliRunner()


def test_effects_csv_columns() -> None:
    result = runner.invoke(
        app,
        [
            "effects",
            "--model",
            "otto",
            "--pd",
            "olofsen",
            "--weight",
            "70",
            "--age",
            "30",
            "--height",
            "175",
            "--sex",
            "male",
            "--dose",
            "20 mg",
            "--over",
            "30min",
            "--until",
            "2h",
            "--allow-extrapolation",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == [
        "time_min",
        "ketamine_effect_site_ng_per_ml",
        "antinociception_ce_over_c50",
        "external_perception_ce_over_c50",
    ]
    assert "Hill coefficient not found" in result.stderr


def test_effects_json_and_list() -> None:
    result = runner.invoke(
        app,
        [
            "effects",
            "--model",
            "herd",
            "--pd",
            "herd-2008",
            "--weight",
            "20",
            "--age",
            "6",
            "--dose",
            "1.5 mg/kg",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["pd_model"] == "herd-2008"
    assert payload["ke0_per_min"] == pytest.approx(3.7808, rel=1e-3)
    assert {"rule_id", "severity", "message", "source"} <= set(payload["findings"][0])
    listing = runner.invoke(app, ["effects", "--list", "-o", "json"])
    assert {m["id"] for m in json.loads(listing.stdout)} >= {"olofsen-2022", "dahan-2011"}


def test_effects_errors_are_one_line() -> None:
    result = runner.invoke(
        app, ["effects", "--model", "domino", "--pd", "nope", "--weight", "70", "--dose", "1 mg/kg"]
    )
    assert result.exit_code == 2 and "--pd" in result.stderr
    result = runner.invoke(
        app, ["effects", "--pd", "olofsen", "--weight", "70", "--dose", "1 mg/kg"]
    )
    assert result.exit_code == 2 and "--model" in result.stderr


def test_calibration_reports() -> None:
    result = runner.invoke(app, ["calibration", "antidepressant", "-o", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["points"]) >= 30
    assert all({"published", "predicted", "error", "source"} <= set(p) for p in payload["points"])
    text = runner.invoke(app, ["calibration", "antidepressant"]).stdout
    assert "NOT a published" in text and "RMSE" in text
    cv = runner.invoke(app, ["calibration", "cardiovascular"])
    assert cv.exit_code == 0 and "EMPIRICAL" in cv.stdout
    bad = runner.invoke(app, ["calibration", "x"])
    assert bad.exit_code == 2


def test_cardiovascular_data_file_matches_its_calibration() -> None:
    pd_model = resolve_pd_model("cardiovascular-iv-empirical")
    for cal in calibrate_cardiovascular():
        if cal.default:
            stored = pd_model.endpoint(cal.quantity).slopes[0].value
            assert stored == pytest.approx(cal.slope_per_ng_per_ml, rel=1e-3)


def test_effects_plot_and_antidepressant_figure(tmp_path: object) -> None:
    from pathlib import Path

    import numpy as np

    from ketasim.catalogue import resolve_model
    from ketasim.patient import Patient
    from ketasim.pd.antidepressant import simulate_antidepressant_course
    from ketasim.regimens import parse_regimen
    from ketasim.report.pd_plots import plot_antidepressant_course

    out = Path(str(tmp_path)) / "effects.png"
    result = runner.invoke(
        app,
        [
            "effects",
            "--model",
            "domino",
            "--pd",
            "cardiovascular",
            "--weight",
            "70",
            "--dose",
            "0.5 mg/kg",
            "--over",
            "40min",
            "--until",
            "2h",
            "--plot",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    course = simulate_antidepressant_course(
        resolve_model("domino"),
        Patient(weight_kg=70),
        parse_regimen("0.5 mg/kg", over="40min", repeat="every 48h x 3"),
        np.linspace(0, 24 * 14, 50),
    )
    fig = plot_antidepressant_course(course, Path(str(tmp_path)) / "madrs.png")
    assert fig.stat().st_size > 1000


def test_antidepressant_command() -> None:
    result = runner.invoke(
        app,
        [
            "antidepressant",
            "--model",
            "domino",
            "--weight",
            "70",
            "--dose",
            "0.5 mg/kg",
            "--over",
            "40min",
            "--until",
            "14d",
            "--every",
            "1d",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == [
        "time_h",
        "time_d",
        "madrs_change",
        "placebo_part",
        "drug_effect_fraction",
        "response_probability",
        "remission_probability",
        "placebo_change",
        "drug_change",
        "relapse_probability",
    ]
    assert len(frame) == 15 and "EMPIRICAL" in result.stderr
    assert frame["madrs_change"].iloc[0] == 0.0  # nothing before the first session
    # the drug part wears off after a single infusion (Kishimoto 2016: peak at day 1)
    drug = frame["drug_effect_fraction"].to_numpy()
    assert drug[1] > drug[-1] > 0
    bad = runner.invoke(
        app,
        [
            "antidepressant",
            "--model",
            "domino",
            "--weight",
            "70",
            "--dose",
            "0.5 mg/kg",
            "--background",
            "x",
        ],
    )
    assert bad.exit_code == 2 and "--background" in bad.stderr


def test_antidepressant_placebo_and_remission_cutoff() -> None:
    base = [
        "antidepressant",
        "--model",
        "domino",
        "--weight",
        "70",
        "--dose",
        "0.5 mg/kg",
        "--over",
        "40min",
        "--until",
        "2d",
        "--every",
        "1d",
    ]
    drug = pd.read_csv(io.StringIO(runner.invoke(app, base).stdout))
    pbo = pd.read_csv(io.StringIO(runner.invoke(app, [*base, "--placebo"]).stdout))
    # --placebo: the same sessions without drug = the drug run's placebo_change
    np.testing.assert_allclose(pbo["madrs_change"], drug["placebo_change"], atol=1e-5)
    assert drug["madrs_change"].iloc[1] < pbo["madrs_change"].iloc[1]
    r12 = pd.read_csv(io.StringIO(runner.invoke(app, [*base, "--remission-cutoff", "12"]).stdout))
    assert (r12["remission_probability"] >= drug["remission_probability"] - 1e-12).all()
    assert r12["remission_probability"].iloc[1] > drug["remission_probability"].iloc[1]


def test_antidepressant_ratings_and_optimise(tmp_path: object) -> None:
    from pathlib import Path

    f = Path(str(tmp_path)) / "r.csv"
    f.write_text("time_h,madrs\n0,34\n24,20\n96,19\n168,17\n", encoding="utf-8")
    out = runner.invoke(
        app,
        [
            "antidepressant",
            "--model",
            "domino",
            "--weight",
            "70",
            "--dose",
            "0.5 mg/kg",
            "--over",
            "40min",
            "--repeat",
            "every 84h x 8",
            "--ratings",
            str(f),
            "--until",
            "28d",
        ],
    )
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(io.StringIO(out.stdout))
    assert set(frame["schedule"]) == {"planned", "stop_now"}
    assert (frame["rating_p5"] <= frame["rating_p95"]).all()
    f.write_text("time_h,phq9\n0,20\n", encoding="utf-8")
    bad = runner.invoke(
        app,
        [
            "antidepressant",
            "--model",
            "domino",
            "--weight",
            "70",
            "--dose",
            "0.5 mg/kg",
            "--ratings",
            str(f),
        ],
    )
    assert bad.exit_code == 2 and "PHQ-9" in bad.stderr
    opt = runner.invoke(
        app,
        [
            "antidepressant",
            "--model",
            "domino",
            "--weight",
            "70",
            "--dose",
            "0.5 mg/kg",
            "--over",
            "40min",
            "--optimise",
            "--doses",
            "0.5,0.75",
            "--max-sessions-per-week",
            "2",
            "--max-sbp-rise",
            "15",
        ],
    )
    assert opt.exit_code == 0, opt.output
    ranked = pd.read_csv(io.StringIO(opt.stdout))
    feasible = ranked[ranked["feasible"]]
    assert not feasible.empty
    assert not feasible["course"].str.contains("3/week").any()
    assert (ranked.loc[~ranked["feasible"], "excluded_because"].str.len() > 0).all()
    assert feasible["response_day28"].iloc[0] == feasible["response_day28"].max()
