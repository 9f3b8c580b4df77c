"""``ketasim compare`` and :func:`ketasim.validation.compare_models` (issue 10)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.catalogue import resolve_model
from ketasim.cli import app
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate
from ketasim.validation import compare_models

runner = CliRunner()
ADULT = ["--weight", "70", "--age", "40"]
ISSUE_RUN = ["compare", "--all", *ADULT, "--dose", "0.5 mg/kg", "--over", "40min"]


def test_all_runs_at_least_three_models_as_a_long_csv() -> None:
    result = runner.invoke(app, [*ISSUE_RUN, "--until", "4h", "--every", "10min"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns[:2]) == ["model", "time_min"]
    assert all(c.endswith("_ng_per_ml") for c in frame.columns[2:])
    assert frame["model"].nunique() >= 3
    assert (frame.groupby("model").size() == 25).all()  # 0..240 min every 10 min
    assert frame["ketamine_plasma_ng_per_ml"].notna().all()  # incl. the S + R total


def test_summary_matches_each_model_run_alone() -> None:
    result = runner.invoke(app, [*ISSUE_RUN, "--summary", "-o", "json", "--every", "0.5min"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    times = np.arange(0.0, 24 * 60 + 0.25, 0.5)
    patient = Patient(weight_kg=70, age_years=40)
    cmaxes = []
    for row in summary["models"]:
        model = resolve_model(row["model"])
        res = simulate(
            model, patient, Regimen.of(Dose(0.5, "mg/kg", duration_min=40.0)), times_min=times
        )
        c = res.concentrations_ng_per_ml
        conc = c.get("ketamine_plasma")
        if conc is None:  # the enantiomer composite: total = S + R
            conc = c["s_ketamine_plasma"] + c["r_ketamine_plasma"]
        assert row["cmax_ng_per_ml"] == pytest.approx(conc.max(), rel=1e-9)
        assert row["tmax_min"] == pytest.approx(40.0)
        assert row["auc_0_last_ng_h_per_ml"] == pytest.approx(
            np.sum((conc[1:] + conc[:-1]) / 2 * 0.5) / 60, rel=1e-9
        )
        cmaxes.append(conc.max())
    assert summary["max_min_ratio"]["cmax_ng_per_ml"] == pytest.approx(max(cmaxes) / min(cmaxes))


def test_summary_table_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "overlay.png"
    result = runner.invoke(
        app,
        [
            "compare",
            "--models",
            "kamp,domino,racemic-enantiomers",
            *ADULT,
            "--dose",
            "0.5 mg/kg",
            "--over",
            "40min",
            "--summary",
            "--plot",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "max/min ratio" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_api_compares_a_route_and_sums_enantiomers() -> None:
    models = [resolve_model("kamp-routes"), resolve_model("kamp")]
    with pytest.raises(Exception, match="does not support route"):
        compare_models(
            models,
            Patient(weight_kg=70, age_years=40),
            Regimen.of(Dose(25.0, "mg", route="oral")),
            times_min=[0.0, 60.0],
        )
    comp = compare_models(
        [resolve_model("racemic-enantiomers")],
        Patient(weight_kg=70, age_years=40),
        Regimen.of(Dose(35.0, "mg", duration_min=40.0)),
        times_min=np.arange(0.0, 120.0, 1.0),
    )
    c = comp.curves[0].concentrations_ng_per_ml
    np.testing.assert_allclose(
        c["ketamine_plasma"], c["s_ketamine_plasma"] + c["r_ketamine_plasma"]
    )


@pytest.mark.parametrize(
    "args",
    [
        ["compare", *ADULT, "--dose", "1 mg/kg"],  # neither --models nor --all
        ["compare", "--models", "kamp", *ADULT],  # no dose
        ["compare", "--models", "domino", *ADULT, "--dose", "25 mg", "--route", "oral"],
    ],
)
def test_bad_input_is_a_one_line_error(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "error" in result.output


def test_all_leaves_out_icu_models_unless_asked() -> None:
    general = runner.invoke(app, [*ISSUE_RUN, "--until", "1h", "--every", "30min"])
    assert general.exit_code == 0, general.output
    assert "hijazi-2003" not in set(pd.read_csv(io.StringIO(general.stdout))["model"])
    icu = runner.invoke(
        app, [*ISSUE_RUN, "--until", "1h", "--every", "30min", "--population", "icu"]
    )
    assert icu.exit_code == 0, icu.output
    assert set(pd.read_csv(io.StringIO(icu.stdout))["model"]) == {"hijazi-2003"}
