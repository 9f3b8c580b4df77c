"""``ketasim antidepressant`` refuses a patient under 18 (the empirical model is calibrated on
adults), naming --age, unless --allow-extrapolation, which warns."""

from __future__ import annotations

from typer.testing import CliRunner

from ketasim.cli import app

ARGS = ["antidepressant", "--model", "domino", "--weight", "50", "--dose", "0.5 mg/kg"]
ARGS += ["--over", "40min", "--until", "2d"]


def test_minor_refused_then_allowed_with_a_warning() -> None:
    refused = CliRunner().invoke(app, [*ARGS, "--age", "16"])
    assert refused.exit_code == 2 and "--age" in refused.output and "adults" in refused.output
    allowed = CliRunner().invoke(app, [*ARGS, "--age", "16", "--allow-extrapolation"])
    assert allowed.exit_code == 0 and "warning: 16 years" in allowed.output
    adult = CliRunner().invoke(app, [*ARGS, "--age", "18"])
    assert adult.exit_code == 0 and "warning" not in adult.output
