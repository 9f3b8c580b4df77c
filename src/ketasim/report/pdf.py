"""Building blocks of printable PDF reports (fpdf2, with the DejaVu Sans font embedded).

Every ketasim PDF (plan, TCI or manual infusion chart, individual fit; later the clinic's) is
made of these: :func:`new_report` (A4 portrait, a running header saying what the document is
and that it is decision support, page numbers and the time it was made in the footer),
:func:`heading`, :func:`paragraph`, :func:`banner`, :func:`table`, :func:`findings_table`,
:func:`figure`, :func:`signature_lines` and :func:`save`.

The font is the DejaVu Sans TrueType file shipped with matplotlib (a core dependency), embedded
as a subset, so a printed or archived PDF looks the same everywhere and carries any character of
a patient's name or a source's title.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fpdf import FPDF
from fpdf.fonts import FontFace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ketasim.findings import Finding

__all__ = [
    "FONT",
    "ReportPDF",
    "banner",
    "figure",
    "findings_table",
    "heading",
    "new_report",
    "paragraph",
    "save",
    "signature_lines",
    "table",
]

FONT = "DejaVu"
_GREY = (84, 110, 122)
_SEVERITY_FILL = {"stop": (255, 205, 210), "warn": (255, 224, 178), "info": (236, 239, 241)}


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ketasim")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


class ReportPDF(FPDF):
    """An A4 report page with ketasim's running header and footer."""

    def __init__(self, title: str, *, landscape: bool = False) -> None:
        super().__init__(orientation="L" if landscape else "P", unit="mm", format="A4")
        self.report_title = title
        self.made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        fonts = _font_dir()
        self.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.add_font(FONT, "I", str(fonts / "DejaVuSans-Oblique.ttf"))
        self.set_margins(15, 16, 15)
        self.set_auto_page_break(True, margin=16)
        self.set_title(title)
        self.set_creator(f"ketasim {_version()}")
        self.set_author("ketasim")

    def header(self) -> None:
        self.set_font(FONT, "", 7)
        self.set_text_color(*_GREY)
        self.set_y(7)
        short = (
            self.report_title if len(self.report_title) <= 70 else (self.report_title[:69] + "…")
        )
        self.cell(
            0,
            4,
            f"{short}  ·  ketasim {_version()}: decision support for "
            "professionals, not a prescription",
            align="L",
        )
        self.set_y(16)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT, "", 7)
        self.set_text_color(*_GREY)
        self.cell(0, 4, f"made {self.made}", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, f"page {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def new_report(title: str, *, landscape: bool = False) -> ReportPDF:
    """A report with its first page and ``title`` as the page heading."""
    pdf = ReportPDF(title, landscape=landscape)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 7, title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    return pdf


def heading(pdf: FPDF, text: str) -> None:
    """A section heading (starts a new page when little room is left)."""
    if pdf.get_y() > pdf.h - 45:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT, "B", 11.5)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(207, 216, 220)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1.5)


def paragraph(
    pdf: FPDF, text: str, *, size: float = 9, bold: bool = False, grey: bool = False
) -> None:
    """A paragraph of wrapped text."""
    pdf.set_font(FONT, "B" if bold else "", size)
    if grey:
        pdf.set_text_color(*_GREY)
    pdf.multi_cell(0, size * 0.48, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(1)


def banner(pdf: FPDF, text: str, *, stop: bool) -> None:
    """A coloured box: red for a stop, green otherwise."""
    pdf.set_font(FONT, "B", 10)
    pdf.set_fill_color(*((255, 205, 210) if stop else (232, 245, 233)))
    pdf.set_text_color(*((183, 28, 28) if stop else (27, 94, 32)))
    pdf.multi_cell(0, 7, text, fill=True, padding=2, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)


def table(
    pdf: FPDF,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    widths: Sequence[float] | None = None,
    size: float = 8,
    fills: Sequence[tuple[int, int, int] | None] | None = None,
    line_height: float | None = None,
) -> None:
    """A table with a bold grey heading row repeated on each page; ``fills`` colours rows."""
    pdf.set_font(FONT, "", size)
    style = FontFace(emphasis="BOLD", fill_color=(236, 239, 241))
    kwargs: dict[str, Any] = {
        "headings_style": style,
        "line_height": line_height or size * 0.5,
        "text_align": "LEFT",
        "padding": 1,
    }
    if widths is not None:
        kwargs["col_widths"] = tuple(widths)
    with pdf.table(**kwargs) as t:
        head = t.row()
        for h in headers:
            head.cell(h)
        for i, values in enumerate(rows):
            fill = fills[i] if fills is not None else None
            row = t.row(style=FontFace(fill_color=fill) if fill else None)
            for v in values:
                row.cell(str(v))
    pdf.ln(2)


def findings_table(pdf: FPDF, findings: Sequence[Finding], *, size: float = 8) -> None:
    """Findings one block each, coloured by severity: severity and rule, the message, then its
    source (blocks rather than table columns, so the text reads and copies in order)."""
    if not findings:
        paragraph(pdf, "None.")
        return
    for f in findings:
        if pdf.get_y() > pdf.h - 30:
            pdf.add_page()
        pdf.set_fill_color(*_SEVERITY_FILL.get(f.severity, (255, 255, 255)))
        pdf.set_font(FONT, "B", size)
        pdf.multi_cell(
            0,
            size * 0.5,
            f"{f.severity.upper()}  {f.rule_id}",
            fill=True,
            padding=(1, 1, 0, 1),
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font(FONT, "", size)
        pdf.multi_cell(
            0,
            size * 0.5,
            f.message,
            fill=True,
            padding=(0, 1, 0, 1),
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_text_color(*_GREY)
        pdf.multi_cell(
            0,
            size * 0.5,
            f"Source: {f.source}",
            fill=True,
            padding=(0, 1, 1, 1),
            align="L",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_text_color(0, 0, 0)
        pdf.ln(1)


def figure(
    pdf: FPDF, image: Figure | bytes, *, caption: str | None = None, width_mm: float | None = None
) -> None:
    """A matplotlib figure (closed after use) or PNG bytes, scaled to ``width_mm`` (default:
    the text width), with an optional caption; starts a new page if it does not fit."""
    if isinstance(image, bytes):
        data = image
    else:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        image.savefig(buf, format="png", dpi=150)
        plt.close(image)
        data = buf.getvalue()
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        px_w, px_h = img.size
    width = width_mm or (pdf.w - pdf.l_margin - pdf.r_margin)
    height = width * px_h / px_w
    if pdf.get_y() + height + 8 > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.image(io.BytesIO(data), x=pdf.l_margin, w=width, h=height)
    if caption:
        paragraph(pdf, caption, size=7.5, grey=True)
    pdf.ln(1)


def signature_lines(pdf: FPDF, labels: Sequence[str]) -> None:
    """Lines to sign and date (e.g. prescribed by, checked by)."""
    if pdf.get_y() > pdf.h - 40:
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font(FONT, "", 9)
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / max(1, len(labels))
    y = pdf.get_y() + 8
    for i, label in enumerate(labels):
        x = pdf.l_margin + i * width
        pdf.line(x, y, x + width - 6, y)
        pdf.set_xy(x, y + 1)
        pdf.cell(width - 6, 4, f"{label}: name, signature, date/time")
    pdf.set_xy(pdf.l_margin, y + 8)


def save(pdf: FPDF, path: str | Path) -> Path:
    """Write the PDF to ``path``; returns the path."""
    out = Path(path)
    pdf.output(str(out))
    return out
