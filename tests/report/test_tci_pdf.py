"""``ketasim tci --report file.pdf``: the bedside chart of a manual scheme and of a TCI plan."""

from __future__ import annotations

from pathlib import Path

from pdf_support import fonts_embedded, ink_fraction, need_poppler, pdf_pages, pdf_text
from typer.testing import CliRunner

from ketasim.cli import app

RUNNER = CliRunner()
BASE = [
    "tci",
    "--model",
    "domino",
    "--weight",
    "70",
    "--age",
    "40",
    "--target",
    "1 ug/mL",
    "--duration",
    "30min",
    "--output",
    "json",
]


def test_manual_scheme_pdf_is_a_readable_bedside_chart(tmp_path: Path) -> None:
    need_poppler()
    import json

    pdf = tmp_path / "scheme.pdf"
    result = RUNNER.invoke(app, [*BASE, "--manual", "--loading-bolus", "--report", str(pdf)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    text = pdf_text(pdf)
    assert "Bedside chart" in text and "domino-1982" in text
    for row in doc["scheme"]:  # every action of the scheme is on the chart
        assert f"SET PUMP {row['rate_ml_per_h']:g} mL/h" in text
        assert f"{row['time_min']:g} min" in text
    assert f"GIVE {doc['scheme'][0]['bolus_mg']:g} mg" in text
    assert all(
        name.endswith(("DejaVuSansBook", "DejaVuSansBold")) or "DejaVu" in name
        for name in fonts_embedded(pdf)
    )
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 2
    assert all(ink_fraction(p) > 0.01 for p in pages)


def test_tci_pdf_and_bad_suffix(tmp_path: Path) -> None:
    need_poppler()
    pdf = tmp_path / "tci.pdf"
    result = RUNNER.invoke(app, [*BASE, "--report", str(pdf)])
    assert result.exit_code == 0, result.output
    text = pdf_text(pdf)
    assert "Shafer & Gregg 1992" in text and "Pump rate by minute" in text
    assert fonts_embedded(pdf)
    bad = RUNNER.invoke(app, [*BASE, "--report", str(tmp_path / "tci.docx")])
    assert bad.exit_code != 0 and "--report" in bad.output
