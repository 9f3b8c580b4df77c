"""``ketasim fit --report fit.pdf``: parameters, levels and the figure in a printable PDF."""

from __future__ import annotations

import json
from pathlib import Path

from pdf_support import fonts_embedded, ink_fraction, need_poppler, pdf_pages, pdf_text
from typer.testing import CliRunner

from ketasim.cli import app

RUNNER = CliRunner()
DATA = Path(__file__).resolve().parents[2] / "examples" / "fit" / "levels.csv"


def test_fit_pdf(tmp_path: Path) -> None:
    need_poppler()
    pdf = tmp_path / "fit.pdf"
    result = RUNNER.invoke(
        app,
        [
            "fit",
            "--model",
            "otto",
            "--data",
            str(DATA),
            "--target",
            "300 ng/mL",
            "--output",
            "json",
            "--report",
            str(pdf),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    text = pdf_text(pdf)
    for ind in doc["individuals"]:
        assert f"ID {ind['id']}: parameters" in text
        for name, p in ind["parameters"].items():
            assert f"{name} {p['value']:.4g}" in text
        assert " ".join(ind["recommendation"]["text"].split()) in text
    assert fonts_embedded(pdf)
    pages = pdf_pages(pdf, tmp_path)
    ink = [ink_fraction(p) for p in pages]
    assert min(ink) > 0.001 and max(ink) > 0.02  # no blank page; the figure page is drawn
    bad = RUNNER.invoke(
        app, ["fit", "--model", "otto", "--data", str(DATA), "--report", str(tmp_path / "fit.png")]
    )
    assert bad.exit_code != 0 and "--report" in bad.output
