"""``ketasim simulate``: concentrations over time for one patient and a regimen or event table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from ketasim.catalogue import resolve_model
from ketasim.catalogue.evidence import evidence_findings
from ketasim.catalogue.schema import ModelSpec
from ketasim.cli.common import (
    OutputFormat,
    emit_frame,
    handle_errors,
    patient_for_individual,
    patient_from_options,
    print_findings,
    time_grid,
)
from ketasim.errors import InputError
from ketasim.io import read_event_table
from ketasim.io.individual import simulate_individual
from ketasim.pk import SimulationResult, simulate
from ketasim.regimens import parse_regimen
from ketasim.units import parse_duration_min


def _simulate_events(
    model: ModelSpec,
    path: Path,
    *,
    weight: float | None,
    age: float | None,
    height: float | None,
    sex: str | None,
    grid: np.ndarray | None,
    time_unit: str,
    amount_unit: str,
    allow_extrapolation: bool,
) -> pd.DataFrame:
    frames = []
    for ind in read_event_table(path, time_unit=time_unit, amount_unit=amount_unit):
        times = grid if grid is not None else ind.observation_times_min
        if times.size == 0:
            raise InputError(
                f"ID {ind.id}",
                "no observation rows (EVID 0/2) and no --every grid; nothing to report",
            )
        res = simulate_individual(
            model,
            ind,
            lambda part: patient_for_individual(part, weight, age, height, sex),
            times,
            allow_extrapolation=allow_extrapolation,
        )
        print_findings(res.findings)
        frame = res.to_dataframe()
        frame.insert(0, "ID", ind.id)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@handle_errors
def simulate_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="model id, short name (e.g. domino, herd, perez-ruixo) or a model file",
        ),
    ],
    weight: Annotated[float | None, typer.Option("--weight", help="body weight (kg)")] = None,
    age: Annotated[float | None, typer.Option("--age", help="age (years)")] = None,
    height: Annotated[float | None, typer.Option("--height", help="height (cm)")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="female or male")] = None,
    dose: Annotated[
        str | None,
        typer.Option(
            "--dose",
            help="e.g. '0.5 mg/kg', '2 mg/kg IV bolus', '84 mg intranasal'; "
            "several doses separated by ';'",
        ),
    ] = None,
    over: Annotated[
        str | None, typer.Option("--over", help="infusion duration, e.g. 40min")
    ] = None,
    route: Annotated[
        str,
        typer.Option(
            "--route", help="iv, im, intranasal, oral, sublingual, rectal (what the model supports)"
        ),
    ] = "iv",
    repeat: Annotated[str | None, typer.Option("--repeat", help="e.g. 'every 12h x 4'")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="end of output, e.g. 4h [default: 24h]")
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="output interval, e.g. 5min [default: 1min]")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", help="NONMEM-style event table (CSV: ID, TIME, AMT, RATE, CMT, EVID, ...)"
        ),
    ] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="TIME unit of --events")] = "h",
    amount_unit: Annotated[str, typer.Option("--amount-unit", help="AMT unit of --events")] = "mg",
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="csv, table or json")
    ] = OutputFormat.csv,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a figure (PNG)")] = None,
    allow_extrapolation: Annotated[
        bool,
        typer.Option(
            "--allow-extrapolation",
            help="simulate covariates outside the model's validated range, with a warning",
        ),
    ] = False,
) -> None:
    """Simulate plasma, effect-site and metabolite concentrations (ng/mL) over time.

    Output columns: time_min, then <analyte>_<site>_ng_per_ml (e.g. ketamine_plasma_ng_per_ml,
    ketamine_effect_ng_per_ml, norketamine_plasma_ng_per_ml); with --events, an ID column first.
    """
    m = resolve_model(model)
    if events is not None:
        if dose is not None:
            raise InputError("--dose", "give either --dose or --events, not both")
        grid = None  # default: predictions at the table's own observation rows
        if every is not None or until is not None:
            grid = time_grid(
                parse_duration_min(until or "24h", field="--until"),
                parse_duration_min(every or "1min", field="--every"),
            )
        frame = _simulate_events(
            m,
            events,
            weight=weight,
            age=age,
            height=height,
            sex=sex,
            grid=grid,
            time_unit=time_unit,
            amount_unit=amount_unit,
            allow_extrapolation=allow_extrapolation,
        )
        emit_frame(frame, output, f"{m.id}: {events}")
        return
    if dose is None:
        raise InputError("--dose", "required (or --events FILE)")
    patient = patient_from_options(weight, age, height, sex)
    regimen = parse_regimen(dose, route=route, over=over, repeat=repeat)
    times = time_grid(
        parse_duration_min(until or "24h", field="--until"),
        parse_duration_min(every or "1min", field="--every"),
    )
    result: SimulationResult = simulate(
        m, patient, regimen, times_min=times, allow_extrapolation=allow_extrapolation
    )
    print_findings([*result.findings, *evidence_findings(m, regimen, patient.weight_kg)])
    frame = result.to_dataframe()
    emit_frame(frame, output, f"{m.id}: " + "; ".join(d.describe() for d in regimen))
    if plot is not None:
        from ketasim.report.plots import plot_concentrations

        plot_concentrations(
            result, plot, title=f"{m.title}\n" + "; ".join(d.describe() for d in regimen)
        )
        print(f"ketasim: wrote {plot}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    """Add ``ketasim simulate`` to the root app."""
    root.command("simulate")(simulate_command)
