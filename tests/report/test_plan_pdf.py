"""``ketasim plan --report plan.pdf``: a printable plan carrying every finding and its source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pdf_support import fonts_embedded, ink_fraction, need_poppler, pdf_pages, pdf_text
from typer.testing import CliRunner

from ketasim.cli import app

RUNNER = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "patients"


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("protocol", "patient"),
    [
        ("esketamine-trd-us", "hypertensive-adult.toml"),
        ("paediatric-sedation-iv", "child-sedation.toml"),
    ],
)
def test_plan_pdf_carries_every_finding_and_source(
    tmp_path: Path, protocol: str, patient: str
) -> None:
    need_poppler()
    pdf = tmp_path / "plan.pdf"
    args = [
        "plan",
        "-p",
        protocol,
        "--patient",
        str(EXAMPLES / patient),
        "--samples",
        "10",
        "--weeks",
        "2",
        "--output",
        "json",
        "--report",
        str(pdf),
    ]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    text = pdf_text(pdf)
    assert doc["findings"]
    for f in doc["findings"]:  # every finding, its rule and its source, as printed
        assert _squash(f["message"]) in text, f["message"]
        assert _squash(f["source"]) in text, f["source"]
    for d in doc["doses"]:
        assert f"{d['amount_mg']:.1f}" in text
    for m in doc["monitoring"]["per_session"]:  # table cells wrap: the start of each action
        assert " ".join(m["action"].split()[:3]) in text
    assert "Dose schedule" in text and "Monitoring timeline" in text
    assert fonts_embedded(pdf)
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 2 and all(ink_fraction(p) > 0.005 for p in pages)


def test_html_report_kept_and_unknown_suffix_refused(tmp_path: Path) -> None:
    base = [
        "plan",
        "-p",
        "esketamine-trd-us",
        "--patient",
        str(EXAMPLES / "clean-adult.json"),
        "--samples",
        "0",
        "--weeks",
        "1",
    ]
    html = tmp_path / "plan.html"
    assert RUNNER.invoke(app, [*base, "--report", str(html)]).exit_code == 0
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    bad = RUNNER.invoke(app, [*base, "--report", str(tmp_path / "plan.txt")])
    assert bad.exit_code != 0 and "--report" in bad.output
