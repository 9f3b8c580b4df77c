"""``ketasim antidepressant`` with an esketamine model warns how far the stored model's
esketamine-minus-placebo differences are from the phase-3 trials it is tested on (never fitted);
the caution follows the model (it goes once every difference is within 1.5x of the published)."""

from __future__ import annotations

from dataclasses import replace

from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.pd.antidepressant import default_antidepressant_params
from ketasim.pd.calibration.antidepressant_test_gap import (
    esketamine_test_caution,
    esketamine_test_differences,
)

ESK = ["antidepressant", "--model", "perez-ruixo", "--weight", "70", "--age", "45"]
ESK += ["--route", "intranasal", "--dose", "84 mg", "--until", "1d"]


def test_published_test_values_are_the_trials() -> None:
    diffs = {(d.study, d.time_h): d.published_madrs for d in esketamine_test_differences()}
    # TRANSFORM-2 day 28; ASPIRE I 24 h; ASPIRE II 4 h and 24 h (LS mean differences)
    assert diffs == {
        ("TRANSFORM-2", 648.0): -4.0,
        ("ASPIRE I", 24.0): -3.8,
        ("ASPIRE II", 4.0): -4.2,
        ("ASPIRE II", 24.0): -3.9,
    }


def test_esketamine_run_warns_with_the_model_and_published_differences() -> None:
    diffs = esketamine_test_differences()
    far = any(abs(d.model_madrs) > 1.5 * abs(d.published_madrs) for d in diffs)
    result = CliRunner().invoke(app, ESK)
    assert result.exit_code == 0
    assert ("warning: esketamine: on its phase-3 test" in result.output) is far
    if far:
        worst = min(d.model_madrs for d in diffs)
        assert f"{worst:.1f}" in result.output and "-3.8" in result.output


def test_no_caution_for_racemic_ketamine_or_placebo() -> None:
    racemic = ["antidepressant", "--model", "domino", "--weight", "70", "--dose", "0.5 mg/kg"]
    result = CliRunner().invoke(app, [*racemic, "--over", "40min", "--until", "1d"])
    assert result.exit_code == 0 and "phase-3 test" not in result.output
    placebo = CliRunner().invoke(app, [*ESK, "--placebo"])
    assert placebo.exit_code == 0 and "phase-3 test" not in placebo.output


def test_caution_goes_when_the_model_is_within_the_ratio() -> None:
    p = default_antidepressant_params()
    small = replace(p, emax=p.emax * 0.05)  # a drug part a twentieth of the stored one
    diffs = esketamine_test_differences(small)
    assert all(abs(d.model_madrs) <= 1.5 * abs(d.published_madrs) for d in diffs)
    assert esketamine_test_caution(small) is None


def test_trial_arm_driven_by_esketamine_carries_the_caution() -> None:
    """The same caution as a trial finding, for the esketamine arm with antidepressant
    endpoints only (not its placebo arm, not racemic ketamine)."""
    from ketasim.population import parse_trial_spec, run_trial

    arms = [
        {"name": "esk", "model": "perez-ruixo", "regimen": "56 mg intranasal"},
        {"name": "pbo", "model": "perez-ruixo", "regimen": "56 mg intranasal", "placebo": True},
        {"name": "ket", "model": "domino", "regimen": "0.5 mg/kg over 40 min"},
    ]
    for arm in arms:
        arm["assumed_iiv"] = {"k10": {"cv_percent": 20, "source": "ASSUMED for a test"}}
    arms[0]["assumed_iiv"] = {}
    arms[1]["assumed_iiv"] = {}
    spec = parse_trial_spec(
        {
            "n": 200,
            "seed": 5,
            "population": {"kind": "fixed", "weight_kg": 70.0, "age_years": 45.0},
            "outputs": {"until": "1h", "every": "10min"},
            "arms": arms,
            "endpoints": [{"name": "resp", "kind": "response_rate", "at": "24h"}],
        }
    )
    found = run_trial(spec, scheduler="local:1").findings
    cautions = [f for f in found if f.rule_id == "antidepressant.esketamine_test"]
    expected = esketamine_test_caution()
    if expected is None:
        assert cautions == []
    else:
        assert [f.message for f in cautions] == [f"arm 'esk': {expected}"]
