"""``ketasim effects`` and ``ketasim calibration``: contracts and one-line errors."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.pd import resolve_pd_model
from ketasim.pd.calibration.fit_cardiovascular import calibrate_cardiovascular

runner = CliRunner()


def test_effects_csv_columns() -> None:
    result = runner.invoke(app, ["effects", "--model", "otto", "--pd", "olofsen", "--weight",
                                 "70", "--age", "30", "--height", "175", "--sex", "male",
                                 "--dose", "20 mg", "--over", "30min", "--until", "2h",
                                 "--allow-extrapolation"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["time_min", "ketamine_effect_site_ng_per_ml",
                                   "antinociception_ce_over_c50",
                                   "external_perception_ce_over_c50"]
    assert "Hill coefficient not found" in result.stderr


def test_effects_json_and_list() -> None:
    result = runner.invoke(app, ["effects", "--model", "herd", "--pd", "herd-2008", "--weight",
                                 "20", "--age", "6", "--dose", "1.5 mg/kg", "-o", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["pd_model"] == "herd-2008"
    assert payload["ke0_per_min"] == pytest.approx(3.7808, rel=1e-3)
    assert {"rule_id", "severity", "message", "source"} <= set(payload["findings"][0])
    listing = runner.invoke(app, ["effects", "--list", "-o", "json"])
    assert {m["id"] for m in json.loads(listing.stdout)} >= {"olofsen-2022", "dahan-2011"}


def test_effects_errors_are_one_line() -> None:
    result = runner.invoke(app, ["effects", "--model", "domino", "--pd", "nope", "--weight",
                                 "70", "--dose", "1 mg/kg"])
    assert result.exit_code == 2 and "--pd" in result.stderr
    result = runner.invoke(app, ["effects", "--pd", "olofsen", "--weight", "70",
                                 "--dose", "1 mg/kg"])
    assert result.exit_code == 2 and "--model" in result.stderr


def test_calibration_reports() -> None:
    result = runner.invoke(app, ["calibration", "antidepressant", "-o", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["points"]) >= 30
    assert all({"published", "predicted", "error", "source"} <= set(p)
               for p in payload["points"])
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
    result = runner.invoke(app, ["effects", "--model", "domino", "--pd", "cardiovascular",
                                 "--weight", "70", "--dose", "0.5 mg/kg", "--over", "40min",
                                 "--until", "2h", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    course = simulate_antidepressant_course(
        resolve_model("domino"), Patient(weight_kg=70),
        parse_regimen("0.5 mg/kg", over="40min", repeat="every 48h x 3"),
        np.linspace(0, 24 * 14, 50))
    fig = plot_antidepressant_course(course, Path(str(tmp_path)) / "madrs.png")
    assert fig.stat().st_size > 1000


def test_antidepressant_command() -> None:
    result = runner.invoke(app, ["antidepressant", "--model", "domino", "--weight", "70",
                                 "--dose", "0.5 mg/kg", "--over", "40min", "--until", "14d",
                                 "--every", "1d"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["time_h", "time_d", "madrs_change", "placebo_part",
                                   "drug_effect_fraction", "response_probability"]
    assert len(frame) == 15 and "EMPIRICAL" in result.stderr
    # the drug part wears off after a single infusion (Kishimoto 2016: peak at day 1)
    drug = frame["drug_effect_fraction"].to_numpy()
    assert drug[1] > drug[-1] > 0
    bad = runner.invoke(app, ["antidepressant", "--model", "domino", "--weight", "70",
                              "--dose", "0.5 mg/kg", "--background", "x"])
    assert bad.exit_code == 2 and "--background" in bad.stderr
