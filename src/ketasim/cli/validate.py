"""``ketasim validate``: the qualification report (published observations vs models)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

from ketasim.cli.common import handle_errors
from ketasim.report.validation_report import CSV_COLUMNS, csv_rows, render_html
from ketasim.validation.runner import run_validation


@handle_errors
def validate_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="only this model (id or short name)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="directory for validation.csv and validation.html")
    ] = None,
) -> None:
    """Run every applicable model against published observations stored in the package.

    Prints the CSV (case,model,quantity,predicted,observed,ratio,independent) unless --out is
    given; the summary (fractions within 0.8-1.25x and 0.67-1.5x) goes to stderr.
    """
    report = run_validation(model)
    rows = csv_rows(report)
    if out is None:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "validation.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        (out / "validation.html").write_text(render_html(report), encoding="utf-8")
        print(
            f"ketasim: wrote {out / 'validation.csv'} and {out / 'validation.html'}",
            file=sys.stderr,
        )
    for label, flag in (("independent", True), ("not independent", False)):
        f = report.fractions(independent=flag)
        if f.n:
            print(
                f"ketasim: {label}: {f.n} comparisons; within 0.8-1.25x "
                f"{100 * (f.narrow_fraction or 0):.0f}%, within 0.67-1.5x "
                f"{100 * (f.wide_fraction or 0):.0f}%",
                file=sys.stderr,
            )
    print(
        f"ketasim: {len(report.independent_cases())} of {len(report.cases)} observations "
        "compared independently",
        file=sys.stderr,
    )
    if report.exclusions:
        print(
            f"ketasim: {len(report.exclusions)} model-observation pairs not compared (the "
            "model's output is not what the study measured: sampling site, structure, ICU "
            "setting or sampling window); the HTML report lists each with its reason",
            file=sys.stderr,
        )
    if report.unmatched:
        print(
            f"ketasim: {len(report.unmatched)} observations no catalogue model can predict yet "
            "(e.g. racemic norketamine); the HTML report lists each with the reason",
            file=sys.stderr,
        )


def register(root: typer.Typer) -> None:
    """Add ``ketasim validate`` to the root app."""
    root.command("validate")(validate_command)
