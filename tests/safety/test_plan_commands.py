"""``ketasim protocols``, ``ketasim rules`` and ``ketasim plan``: JSON contracts and errors."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from ketasim.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).parents[2] / "examples" / "patients"


def test_protocols_json_contract() -> None:
    result = runner.invoke(app, ["protocols", "--output", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"id", "drug", "route", "indication", "dose_rules", "source"} <= set(data[0])
    by_id = {p["id"]: p for p in data}
    assert by_id["analgesia-bolus-iv"]["dose_rules"]["max"] == 0.35
    assert by_id["esketamine-trd-us"]["route"] == "intranasal"


def test_protocols_show_and_table() -> None:
    result = runner.invoke(app, ["protocols", "show", "depression-iv-course"])
    assert result.exit_code == 0 and json.loads(result.stdout)["dose_rules"]["duration_min"] == 40
    assert runner.invoke(app, ["protocols"]).exit_code == 0


def test_rules_json_contract() -> None:
    result = runner.invoke(app, ["rules", "--output", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"id", "severity", "condition", "message", "source"} <= set(data[0])
    bp = next(r for r in data if r["id"] == "bp.pre-dose-above-threshold")
    assert bp["condition"]["measurements"]["sbp_mmhg"] == {"above": 140.0}
    conditions = json.loads(runner.invoke(app, ["rules", "conditions", "-o", "json"]).stdout)
    assert "aortic-aneurysm" in {c["id"] for c in conditions}


def test_plan_json_aortic_aneurysm_esketamine() -> None:
    result = runner.invoke(
        app,
        [
            "plan",
            "--protocol",
            "esketamine-trd-us",
            "--patient",
            str(EXAMPLES / "aortic-aneurysm.json"),
            "--output",
            "json",
            "--samples",
            "10",
            "--weeks",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    stop = [f for f in data["findings"] if f["severity"] == "stop"]
    assert stop[0]["rule_id"] == "esketamine.contraindication.aneurysmal-vascular-disease"
    assert "SPRAVATO" in stop[0]["source"]
    assert len(data["doses"]) == 4 and data["doses"][0]["amount"] == 56


def test_plan_toml_patient_with_dose_override() -> None:
    result = runner.invoke(
        app,
        [
            "plan",
            "-p",
            "esketamine-trd-us",
            "--patient",
            str(EXAMPLES / "hypertensive-adult.toml"),
            "-o",
            "json",
            "--samples",
            "0",
            "--weeks",
            "1",
            "--dose",
            "112 mg",
        ],
    )
    assert result.exit_code == 0, result.output
    rule_ids = {f["rule_id"] for f in json.loads(result.stdout)["findings"]}
    assert {"bp.pre-dose-above-threshold", "dose.above-protocol-max"} <= rule_ids
    relaxed = runner.invoke(
        app,
        [
            "plan",
            "-p",
            "esketamine-trd-us",
            "--patient",
            str(EXAMPLES / "hypertensive-adult.toml"),
            "-o",
            "json",
            "--samples",
            "0",
            "--weeks",
            "1",
            "--bp-threshold",
            "160/100",
        ],
    )
    assert "bp.pre-dose-above-threshold" not in {
        f["rule_id"] for f in json.loads(relaxed.stdout)["findings"]
    }


def test_plan_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"age_years": 40, "weight_kg": 70, "conditions": ["aneurysm"]}))
    result = runner.invoke(app, ["plan", "-p", "esketamine-trd-us", "--patient", str(bad)])
    assert result.exit_code == 2
    assert "conditions" in result.stderr and "aneurysm" in result.stderr
    bad.write_text(json.dumps({"age_years": 40, "weight_kg": 70, "sbp_mmhg": 1200}))
    result = runner.invoke(app, ["plan", "-p", "esketamine-trd-us", "--patient", str(bad)])
    assert result.exit_code == 2 and "sbp_mmhg" in result.stderr
    result = runner.invoke(
        app,
        [
            "plan",
            "-p",
            "esketamine-trd-us",
            "--patient",
            str(EXAMPLES / "clean-adult.json"),
            "--dose",
            "2 mg/kg",
        ],
    )
    assert result.exit_code == 2 and "--dose" in result.stderr


def test_plan_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "plan.html"
    result = runner.invoke(
        app,
        [
            "plan",
            "-p",
            "esketamine-trd-us",
            "--patient",
            str(EXAMPLES / "clean-adult.json"),
            "--samples",
            "10",
            "--weeks",
            "2",
            "--report",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 4  # first session, course, effects, dose schedule
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "http://" not in text.split("<body>")[1].split("Protocol notes")[0]
    assert "Predicted effects" in text and "olofsen-2022" in text


def test_every_example_patient_is_valid() -> None:
    for path in sorted(EXAMPLES.iterdir()):
        result = runner.invoke(
            app,
            [
                "plan",
                "-p",
                "esketamine-trd-eu",
                "--patient",
                str(path),
                "-o",
                "json",
                "--samples",
                "0",
                "--weeks",
                "1",
            ],
        )
        assert result.exit_code == 0, (path, result.output)
