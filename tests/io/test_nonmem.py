"""NONMEM-style event tables: conventions and errors naming row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import DataFileError
from ketasim.io import individual_inputs, read_event_table
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, build_system, simulate

HEADER = "ID,TIME,AMT,RATE,CMT,EVID,DV,MDV,WT,AGE\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(header + body)
    return path


def test_infusion_record_matches_regimen(tmp_path: Path) -> None:
    # 35 mg at 52.5 mg/h = 0.5 mg/kg over 40 min for 70 kg; TIME in hours
    path = _write(
        tmp_path, "1,0,35,52.5,1,1,.,1,70,40\n1,0.5,.,.,1,0,210,0,70,40\n1,2,.,.,1,2,.,.,70,40\n"
    )
    (ind,) = read_event_table(path)
    assert ind.covariates == {"WT": 70.0, "AGE": 40.0}
    assert [r.mdv for r in ind.records] == [1, 0, 1]
    assert ind.records[1].dv_ng_per_ml == 210.0
    model = resolve_model("domino")
    patient = Patient(70.0, 40.0)
    system = build_system(model, patient)
    inputs = individual_inputs(system, ind, compartments=[c.name for c in model.compartments])
    from_table = simulate(
        model, patient, None, times_min=ind.observation_times_min, extra_inputs=inputs
    )
    from_regimen = simulate(
        model,
        patient,
        Regimen.of(Dose(0.5, "mg/kg", duration_min=40.0)),
        times_min=np.array([30.0, 120.0]),
    )
    np.testing.assert_allclose(
        from_table.concentrations_ng_per_ml["ketamine_plasma"],
        from_regimen.concentrations_ng_per_ml["ketamine_plasma"],
        rtol=1e-12,
    )


def test_addl_ii_and_reset(tmp_path: Path) -> None:
    path = _write(tmp_path, "1,0,10,0,1,1,.,1,70,40\n", header=HEADER)
    text = path.read_text().replace(
        "ID,TIME,AMT,RATE,CMT,EVID,DV,MDV,WT,AGE", "ID,TIME,AMT,RATE,CMT,EVID,DV,MDV,WT,AGE,ADDL,II"
    )
    text = text.replace("70,40\n", "70,40,2,12\n")
    path.write_text(text + "1,30,.,.,1,3,.,.,70,40,0,0\n1,31,.,.,1,2,.,.,70,40,0,0\n")
    (ind,) = read_event_table(path)
    doses = [r.time_min for r in ind.records if r.evid == 1]
    assert doses == [0.0, 720.0, 1440.0]
    model = resolve_model("domino")
    system = build_system(model, Patient(70.0, 40.0))
    inputs = individual_inputs(system, ind, compartments=[c.name for c in model.compartments])
    res = simulate(
        model, Patient(70.0, 40.0), None, times_min=np.array([1860.0]), extra_inputs=inputs
    )
    assert res.concentrations_ng_per_ml["ketamine_plasma"][0] == 0.0  # reset at 30 h


def test_route_column_applies_whole_route(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "1,0,56,0,,1,.,1,70,40,intranasal\n1,1,.,.,,0,.,1,70,40,\n",
        header=HEADER.replace("AGE\n", "AGE,ROUTE\n"),
    )
    (ind,) = read_event_table(path)
    model = resolve_model("perez-ruixo")
    patient = Patient(70.0, 40.0)
    system = build_system(model, patient)
    inputs = individual_inputs(system, ind, compartments=[c.name for c in model.compartments])
    got = simulate(model, patient, None, times_min=np.array([60.0]), extra_inputs=inputs)
    want = simulate(
        model, patient, Regimen.of(Dose(56.0, "mg", route="intranasal")), times_min=np.array([60.0])
    )
    for name, value in want.concentrations_ng_per_ml.items():
        np.testing.assert_allclose(got.concentrations_ng_per_ml[name], value, rtol=1e-12)


@pytest.mark.parametrize(
    ("header", "body", "row", "column"),
    [
        ("ID,TIME\n", "1,0\n", None, "AMT"),
        (HEADER, "1,-1,10,0,1,1,.,1,70,40\n", 1, "TIME"),
        (HEADER, "1,0,10,0,1,1,.,1,70,40\n1,1,.,.,1,0,abc,0,70,40\n", 2, "DV"),
        (HEADER, "1,0,-5,0,1,1,.,1,70,40\n", 1, "AMT"),
        (HEADER, "1,0,10,0,1,7,.,1,70,40\n", 1, "EVID"),
        (HEADER, "1,2,10,0,1,1,.,1,70,40\n1,1,.,.,1,0,5,0,70,40\n", 2, "TIME"),
        (HEADER, "1,0,10,-3,1,1,.,1,70,40\n", 1, "RATE"),
        (HEADER, "1,0,0,0,1,1,.,1,70,40\n", 1, "AMT"),
    ],
)
def test_bad_tables_name_row_and_column(
    tmp_path: Path, header: str, body: str, row: int | None, column: str
) -> None:
    with pytest.raises(DataFileError) as info:
        read_event_table(_write(tmp_path, body, header=header))
    assert info.value.column == column
    assert info.value.row == row


def test_cmt_out_of_range(tmp_path: Path) -> None:
    (ind,) = read_event_table(_write(tmp_path, "1,0,10,0,9,1,.,1,70,40\n"))
    model = resolve_model("domino")
    system = build_system(model, Patient(70.0, 40.0))
    with pytest.raises(DataFileError, match="CMT 9"):
        individual_inputs(system, ind, compartments=[c.name for c in model.compartments])
