"""``ketasim compare``: one patient and regimen through several published models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from ketasim.catalogue import resolve_model
from ketasim.catalogue.select import select_models
from ketasim.cli.common import (
    OutputFormat,
    emit_frame,
    handle_errors,
    patient_from_options,
    print_findings,
    time_grid,
)
from ketasim.errors import InputError
from ketasim.regimens import parse_regimen
from ketasim.units import parse_duration_min
from ketasim.validation.compare import compare_models


@handle_errors
def compare_command(
    models: Annotated[
        str | None,
        typer.Option(
            "--models", help="comma-separated model ids or short names, e.g. kamp,domino,clements"
        ),
    ] = None,
    all_models: Annotated[
        bool,
        typer.Option(
            "--all",
            help="every catalogue model for --drug and --route whose validated ranges "
            "cover the patient",
        ),
    ] = False,
    drug: Annotated[
        str,
        typer.Option("--drug", help="with --all: racemic, S-ketamine, esketamine or R-ketamine"),
    ] = "racemic",
    population: Annotated[
        str,
        typer.Option(
            "--population",
            help="with --all: general (leaves out models built on ICU patients), icu or any",
        ),
    ] = "general",
    weight: Annotated[float | None, typer.Option("--weight", help="body weight (kg)")] = None,
    age: Annotated[float | None, typer.Option("--age", help="age (years)")] = None,
    height: Annotated[float | None, typer.Option("--height", help="height (cm)")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="female or male")] = None,
    dose: Annotated[
        str | None,
        typer.Option(
            "--dose", help="e.g. '0.5 mg/kg', '50 mg intranasal'; several separated by ';'"
        ),
    ] = None,
    over: Annotated[
        str | None, typer.Option("--over", help="infusion duration, e.g. 40min")
    ] = None,
    route: Annotated[str, typer.Option("--route", help="iv, im, intranasal, oral, ...")] = "iv",
    repeat: Annotated[str | None, typer.Option("--repeat", help="e.g. 'every 12h x 4'")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="end of output, e.g. 4h [default: 24h]")
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="output interval, e.g. 5min [default: 1min]")
    ] = None,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help="per model Cmax, Tmax, AUC(0-last) and the max/min ratio across "
            "models, instead of the curves",
        ),
    ] = False,
    analyte: Annotated[
        str,
        typer.Option(
            "--analyte", help="analyte summarised and plotted (a model without it: its parent drug)"
        ),
    ] = "ketamine",
    output: Annotated[
        OutputFormat | None,
        typer.Option(
            "--output", "-o", help="csv, table or json [default: csv; table with --summary]"
        ),
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="write the overlay (PNG)")] = None,
    allow_extrapolation: Annotated[
        bool,
        typer.Option(
            "--allow-extrapolation",
            help="run --models outside their validated covariate ranges, with a warning",
        ),
    ] = False,
) -> None:
    """Compare published models for one patient and regimen (typical values).

    Output: long CSV ``model,time_min,<analyte>_<site>_ng_per_ml``; an enantiomer model also
    gets ``ketamine_plasma`` = S + R. The spread between models is model uncertainty.
    """
    if (models is None) == (not all_models):
        raise InputError("--models", "give either --models a,b,c or --all")
    if dose is None:
        raise InputError("--dose", "required, e.g. '0.5 mg/kg'")
    patient = patient_from_options(weight, age, height, sex)
    regimen = parse_regimen(dose, route=route, over=over, repeat=repeat)
    if all_models:
        routes = sorted({d.route for d in regimen})
        chosen = [
            m
            for m in select_models(
                drug=drug,
                weight_kg=patient.weight_kg,
                age_years=patient.age_years,
                population=population.strip().lower(),
            )
            if set(routes) <= set(m.route_names)
        ]
        if not chosen:
            raise InputError(
                "--all", f"no {drug} model supports {', '.join(routes)} for this patient"
            )
    else:
        assert models is not None
        names = [n.strip() for n in models.split(",") if n.strip()]
        chosen = [resolve_model(n) for n in names]
    times = time_grid(
        parse_duration_min(until or "24h", field="--until"),
        parse_duration_min(every or "1min", field="--every"),
    )
    comparison = compare_models(
        chosen, patient, regimen, times_min=times, allow_extrapolation=allow_extrapolation
    )
    print_findings(comparison.findings)
    title = "; ".join(d.describe() for d in regimen)
    print(
        f"ketasim: compared {len(chosen)} models: {', '.join(m.id for m in chosen)}",
        file=sys.stderr,
    )
    if summary:
        result = comparison.summary(analyte)
        fmt = output or OutputFormat.table
        if fmt is OutputFormat.json:
            typer.echo(json.dumps(result, indent=2))
        else:
            rows = list(result["models"])  # type: ignore[call-overload]
            ratio = dict(result["max_min_ratio"])  # type: ignore[call-overload]
            rows.append({"model": "max/min ratio", "output": "", **ratio})
            emit_frame(pd.DataFrame(rows), fmt, f"{title} ({analyte})")
    else:
        emit_frame(comparison.long_frame(), output or OutputFormat.csv, title)
    if plot is not None:
        from ketasim.report.compare_plots import plot_comparison

        plot_comparison(comparison, plot, analyte=analyte, title=title)
        print(f"ketasim: wrote {plot}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    """Add ``ketasim compare`` to the root app."""
    root.command("compare")(compare_command)
