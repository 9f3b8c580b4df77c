"""Below-limit observations in ``ketasim fit``: the M3 likelihood (Beal 2001).

Independent reference: a one-compartment model after an IV bolus has the closed form
C(t) = D/V exp(-CL/V t); the posterior is written out by hand with scipy.stats.norm and
minimised on a fine grid of the one random effect (on clearance).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm
from synthetic_models import ONE_COMPARTMENT_LOGNORMAL_CL
from typer.testing import CliRunner

from ketasim.catalogue import load_model_file
from ketasim.cli import app
from ketasim.estimation import IndividualFit, fit_individual, parse_residual_error
from ketasim.io import individual_inputs, read_event_table
from ketasim.patient import Patient
from ketasim.pk import build_system

MODEL = ONE_COMPARTMENT_LOGNORMAL_CL  # V 20 L, CL 0.2 L/min, omega^2 0.09 on CL
# 10 mg at 0; a level at 1 h, two below 50 ng/mL at 3 h and 5 h (TIME h, DV ng/mL)
TABLE = "ID,TIME,AMT,EVID,DV,LLOQ\n1,0,10,1,.,.\n1,1,.,0,330,50\n1,3,.,0,.,50\n1,5,.,0,12,50\n"
PROP = 0.2
OMEGA_SQ = 0.09


def _reference_map() -> tuple[float, float]:
    etas = np.linspace(-1.5, 1.5, 60001)
    cl = 0.2 * np.exp(etas)

    def conc(t_min: float) -> np.ndarray:
        return 10.0 / 20.0 * np.exp(-cl / 20.0 * t_min) * 1000.0

    f1, f3, f5 = conc(60.0), conc(180.0), conc(300.0)
    sd1 = PROP * f1
    ofv = ((330.0 - f1) / sd1) ** 2 + 2 * np.log(sd1)
    for f in (f3, f5):  # both censored: DV missing, or DV 12 < LLOQ 50
        ofv = ofv - 2.0 * norm.logcdf((50.0 - f) / (PROP * f))
    ofv = ofv + etas**2 / OMEGA_SQ
    k = int(np.argmin(ofv))
    return float(etas[k]), float(ofv[k])


def _fit(tmp_path: Path) -> IndividualFit:
    model_path = tmp_path / "m3.toml"
    model_path.write_text(MODEL)
    data = tmp_path / "levels.csv"
    data.write_text(TABLE)
    model = load_model_file(model_path)
    (ind,) = read_event_table(data)
    assert [r.censored for r in ind.records] == [False, False, True, True]
    patient = Patient(70.0, 40.0)
    inputs = individual_inputs(
        build_system(model, patient), ind, compartments=[c.name for c in model.compartments]
    )
    return fit_individual(
        model, patient, inputs, ind.records, residual_error=parse_residual_error("proportional 20%")
    )


def test_m3_map_matches_a_hand_written_posterior(tmp_path: Path) -> None:
    fit = _fit(tmp_path)
    eta_ref, ofv_ref = _reference_map()
    assert fit.n_observations == 3
    assert fit.eta_map[0] == pytest.approx(eta_ref, abs=2e-3)
    # same objective up to the constant the hand-written one leaves out (none: both omit
    # log(2 pi)); the grid minimum is within a grid step of the optimum
    assert fit.ofv == pytest.approx(ofv_ref, abs=1e-3)
    assert any(f.rule_id == "fit.m3" for f in fit.findings)


def test_censoring_pulls_clearance_up_against_dropping_the_rows(tmp_path: Path) -> None:
    # below-limit levels at 3 h and 5 h say the drug is mostly gone: a higher clearance than
    # the single measured level alone suggests
    fit = _fit(tmp_path)
    model_path = tmp_path / "m3.toml"
    data = tmp_path / "only.csv"
    data.write_text("ID,TIME,AMT,EVID,DV\n1,0,10,1,.\n1,1,.,0,330\n")
    model = load_model_file(model_path)
    (ind,) = read_event_table(data)
    patient = Patient(70.0, 40.0)
    inputs = individual_inputs(
        build_system(model, patient), ind, compartments=[c.name for c in model.compartments]
    )
    dropped = fit_individual(
        model, patient, inputs, ind.records, residual_error=parse_residual_error("proportional 20%")
    )
    assert fit.eta_map[0] > dropped.eta_map[0]


def test_cli_fit_reads_the_lloq_column(tmp_path: Path) -> None:
    model_path = tmp_path / "m3.toml"
    model_path.write_text(MODEL)
    data = tmp_path / "levels.csv"
    data.write_text(TABLE)
    result = CliRunner().invoke(
        app,
        [
            "fit",
            "--model",
            str(model_path),
            "--data",
            str(data),
            "--weight",
            "70",
            "--age",
            "40",
            "--residual-error",
            "proportional 20%",
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["individuals"][0]["n_observations"] == 3
    eta_ref, _ = _reference_map()
    cl = doc["individuals"][0]["parameters"]["CL"]["value"]
    assert cl == pytest.approx(0.2 * np.exp(eta_ref), rel=3e-3)
