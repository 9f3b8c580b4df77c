"""Dose recommendations against closed forms (steady state: R = Css x CL; AUC = D / CL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ketasim.catalogue import resolve_model
from ketasim.cli import app
from ketasim.estimation import fit_individual, parse_residual_error, recommend_infusion_rate
from ketasim.patient import Patient
from ketasim.pk import Dose, build_system
from ketasim.pk.events import resolve_inputs


@dataclass(frozen=True)
class Rec:
    row: int
    time_min: float
    evid: int
    dv_ng_per_ml: float | None
    mdv: int
    analyte: str | None = None
    cmt: int | None = None


def test_a_priori_recommendations_match_clearance() -> None:
    """Without levels the posterior is the prior, so the MAP is the typical patient."""
    model = resolve_model("herd")
    patient = Patient(weight_kg=30.0, age_years=8.0)
    inputs = resolve_inputs(build_system(model, patient), [Dose(30.0, "mg")], 30.0)
    fit = fit_individual(
        model,
        patient,
        inputs,
        [Rec(1, 0.0, 1, None, 1)],
        residual_error=parse_residual_error("proportional 15%"),
    )
    assert fit.n_observations == 0 and np.all(fit.eta_map == 0)
    assert any(f.rule_id == "fit.no_levels" for f in fit.findings)
    cl_l_per_h = 90.0 * (30.0 / 70.0) ** 0.75  # Herd 2007: CL 90 L/h/70 kg, exponent 0.75
    rate = recommend_infusion_rate(fit, 1000.0)  # 1 ug/mL = 1 mg/L at steady state
    assert rate.value == pytest.approx(1.0 * cl_l_per_h, rel=1e-9)
    assert rate.unit == "mg/h"
    dose = recommend_infusion_rate(fit, 2000.0, kind="dose")  # AUC 2000 ng.h/mL = 2 mg.h/L
    assert dose.value == pytest.approx(2.0 * cl_l_per_h, rel=1e-9)
    # the prior interval reflects CL's 38.1% CV: exp(+-1.645 sqrt(log(1 + 0.381^2)))
    omega = np.sqrt(np.log1p(0.381**2))
    assert dose.ci90_high / dose.value == pytest.approx(np.exp(1.6449 * omega), rel=1e-3)


def test_intranasal_parent_metabolite_fit_on_log_scale(tmp_path: Path) -> None:
    """Perez-Ruixo 2021: intranasal route (bioavailability carries a random effect, so the
    inputs are rebuilt per evaluation), esketamine + noresketamine, log-scale residuals."""
    path = tmp_path / "levels.csv"
    path.write_text(
        "ID,TIME,AMT,EVID,MDV,DV,ANALYTE,ROUTE,WT,AGE\n"
        "1,0,56,1,1,.,,intranasal,70,45\n"
        "1,0.5,0,0,0,80,esketamine,,70,45\n"
        "1,0.5,0,0,0,40,noresketamine,,70,45\n"
        "1,2,0,0,0,35,esketamine,,70,45\n"
        "1,2,0,0,0,60,noresketamine,,70,45\n"
        "1,6,0,0,1,.,esketamine,,70,45\n"
    )
    import json

    result = CliRunner().invoke(
        app, ["fit", "--model", "perez-ruixo", "--data", str(path), "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    ind = json.loads(result.stdout)["individuals"][0]
    assert "log scale" in ind["residual_error"]["esketamine"]["description"]
    obs = [r for r in ind["rows"] if r["mdv"] == 0]
    # the individual fit is closer to the levels than the typical patient (log distance)
    d_ipred = sum(abs(np.log(r["ipred"] / r["dv"])) for r in obs)
    d_pred = sum(abs(np.log(r["pred"] / r["dv"])) for r in obs)
    assert d_ipred < d_pred
    assert ind["rows"][0]["ipred"] == 0.0 and ind["rows"][-1]["ipred"] > 0
