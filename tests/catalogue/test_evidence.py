"""Findings when a run leaves the regimens a model was built on (issue 10, ``[[studied]]``)."""

from __future__ import annotations

from typer.testing import CliRunner

from ketasim.catalogue import available_models, resolve_model
from ketasim.catalogue.evidence import evidence_findings
from ketasim.cli import app
from ketasim.pk import Dose

runner = CliRunner()


def test_flint_bolus_is_outside_its_continuous_infusion_evidence() -> None:
    flint = resolve_model("flint")
    bolus = evidence_findings(flint, [Dose(1.0, "mg/kg")], 20.0)
    assert len(bolus) == 1 and bolus[0].severity == "warn"
    assert "S-norketamine" in bolus[0].message and "0.3 to 3.6 mg/kg/h" in bolus[0].message
    # 1 mg/kg/h for 2 h lies within 0.3-3.6 mg/kg/h: no finding
    assert evidence_findings(flint, [Dose(1.0, "mg/kg/h", duration_min=120.0)], 20.0) == []
    # 5 mg/kg/h is above the studied rates
    assert evidence_findings(flint, [Dose(5.0, "mg/kg/h", duration_min=120.0)], 20.0)


def test_dose_and_route_ranges() -> None:
    spravato = resolve_model("perez-ruixo")
    assert evidence_findings(spravato, [Dose(84.0, "mg", route="intranasal")], 70.0) == []
    high = evidence_findings(spravato, [Dose(200.0, "mg", route="intranasal")], 70.0)
    assert high and "14 to 112 mg" in high[0].message
    routes = resolve_model("kamp-routes")
    assert evidence_findings(routes, [Dose(0.75, "mg/kg", route="im")], 70.0) == []
    assert evidence_findings(routes, [Dose(2.0, "mg/kg", route="im")], 70.0)


def test_models_without_studied_entries_give_no_finding() -> None:
    for m in available_models():
        if not m.studied:
            assert evidence_findings(m, [Dose(1000.0, "mg")], 70.0) == []


def test_simulate_prints_the_finding() -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--model",
            "flint",
            "--weight",
            "20",
            "--age",
            "5",
            "--dose",
            "1 mg/kg",
            "--until",
            "10min",
            "--every",
            "5min",
        ],
    )
    assert result.exit_code == 0
    assert "warn" in result.output and "evidence.flint-2017.iv" in result.output
