"""``ketasim occupancy``: which receptors ketamine engages at a concentration or after a regimen.

Occupancy = Cu / (Cu + Ki), Cu = fu x total plasma concentration (sourced protein binding),
Ki per target and compound from shared/reference/receptors.md. Give one or more
``--concentration`` values (e.g. antidepressant 185 ng/mL vs anaesthetic 2000 ng/mL), or a
``--model``/``--dose`` regimen, whose peak (or ``--at`` time) concentrations are used.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ketasim.catalogue import resolve_model
from ketasim.cli.common import OutputFormat, handle_errors, print_findings
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.effects import analyte_role
from ketasim.pd.occupancy import (
    OccupancyRow,
    normalise_drug,
    occupancy_assumptions,
    occupancy_panel,
)
from ketasim.pk import simulate
from ketasim.regimens import parse_regimen
from ketasim.units import MOLECULAR_WEIGHT_G_PER_MOL, convert, parse_duration_min, parse_quantity


def _ng_per_ml(text: str, field: str, analyte: str) -> float:
    q = parse_quantity(text, field=field, expect=("concentration", "molar_concentration"))
    value = convert(
        q.value, q.unit, "ng/mL", molecular_weight_g_per_mol=MOLECULAR_WEIGHT_G_PER_MOL[analyte]
    )
    if value < 0:
        raise InputError(field, f"{text!r} is negative; must be >= 0")
    return value


def _scenario_from_regimen(
    model_name: str,
    dose: str,
    over: str | None,
    route: str,
    repeat: str | None,
    weight: float | None,
    age: float | None,
    at: str | None,
) -> tuple[str, str, float, dict[str, float]]:
    if weight is None:
        raise InputError("--weight", "required with --model (kg)")
    m = resolve_model(model_name)
    regimen = parse_regimen(dose, route=route, over=over, repeat=repeat)
    last = max(d.time_min + d.duration_min for d in regimen)
    times = np.arange(0.0, last + 24 * 60.0, 0.5)
    res = simulate(
        m,
        Patient(weight_kg=weight, age_years=age),
        regimen,
        times_min=times,
        allow_extrapolation=True,
    )
    print_findings(res.findings)
    conc = res.concentrations_ng_per_ml
    parent = next(
        k
        for k in conc
        if k.endswith("_plasma") and analyte_role(k.removesuffix("_plasma")) == "ketamine"
    )
    if at is not None:
        t_at = parse_duration_min(at, field="--at")
        i = int(np.argmin(np.abs(times - t_at)))
        label = f"{m.id}, {'; '.join(d.describe() for d in regimen)}, at {times[i]:g} min"
    else:
        i = int(np.argmax(conc[parent]))
        label = f"{m.id}, {'; '.join(d.describe() for d in regimen)}, at peak ({times[i]:g} min)"
    metabolites = {
        k.removesuffix("_plasma"): float(v[i])
        for k, v in conc.items()
        if k.endswith("_plasma") and analyte_role(k.removesuffix("_plasma")) == "norketamine"
    }
    drug = "S-ketamine" if "S" in m.drug or "esketamine" in m.drug else "racemic ketamine"
    return label, drug, float(conc[parent][i]), metabolites


@handle_errors
def occupancy_command(
    concentration: Annotated[
        list[str] | None,
        typer.Option(
            "--concentration",
            "-c",
            help="total plasma concentration, e.g. '185 ng/mL', '1 uM'; "
            "repeat to compare (e.g. antidepressant vs anaesthetic)",
        ),
    ] = None,
    drug: Annotated[
        str,
        typer.Option(
            "--drug", help="racemic, S-ketamine (esketamine) or R-ketamine (with --concentration)"
        ),
    ] = "racemic",
    norketamine: Annotated[
        str | None,
        typer.Option("--norketamine", help="norketamine plasma concentration, e.g. '60 ng/mL'"),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="PK model for a regimen")
    ] = None,
    dose: Annotated[
        str | None, typer.Option("--dose", help="e.g. '0.5 mg/kg' (with --model)")
    ] = None,
    over: Annotated[
        str | None, typer.Option("--over", help="infusion duration, e.g. 40min")
    ] = None,
    route: Annotated[str, typer.Option("--route", help="route (with --model)")] = "iv",
    repeat: Annotated[str | None, typer.Option("--repeat", help="e.g. 'every 12h x 4'")] = None,
    weight: Annotated[float | None, typer.Option("--weight", help="body weight (kg)")] = None,
    age: Annotated[float | None, typer.Option("--age", help="age (years)")] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="time after the first dose (default: at the peak parent concentration)"
        ),
    ] = None,
    include_disputed: Annotated[
        bool,
        typer.Option(
            "--include-disputed", help="also show disputed targets (D2High, Seeman lab only)"
        ),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or csv")
    ] = OutputFormat.table,
) -> None:
    """Receptor occupancy of every target with a sourced Ki, at given concentrations or a regimen.

    Levels: high >= 50%, moderate 20-50%, low 5-20%, negligible < 5%.
    """
    scenarios: list[tuple[str, str, float, dict[str, float]]] = []
    if model is not None:
        if dose is None:
            raise InputError("--dose", "required with --model")
        scenarios.append(_scenario_from_regimen(model, dose, over, route, repeat, weight, age, at))
    elif dose is not None:
        raise InputError("--model", "required with --dose")
    mets: dict[str, float] = {}
    if norketamine is not None:
        mets["norketamine"] = _ng_per_ml(norketamine, "--norketamine", "norketamine")
    for text in concentration or []:
        value = _ng_per_ml(text, "--concentration", "ketamine")
        d = normalise_drug(drug)
        scenarios.append((f"{d} {value:g} ng/mL", d, value, dict(mets)))
    if not scenarios:
        raise InputError(
            "--concentration", "give a concentration (e.g. '185 ng/mL') or --model with --dose"
        )
    results = [
        (
            label,
            d,
            c,
            occupancy_panel(c, drug=d, metabolites_ng_per_ml=m, include_disputed=include_disputed),
        )
        for label, d, c, m in scenarios
    ]
    _emit(results, output)


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.0f}%"


def _emit(results: list[tuple[str, str, float, list[OccupancyRow]]], output: OutputFormat) -> None:
    if output is OutputFormat.json:
        payload = {
            "assumptions": occupancy_assumptions(),
            "scenarios": [
                {
                    "label": label,
                    "drug": d,
                    "total_ng_per_ml": c,
                    "rows": [
                        {
                            k: (None if isinstance(v, float) and math.isnan(v) else v)
                            for k, v in asdict(r).items()
                        }
                        for r in rows
                    ],
                }
                for label, d, c, rows in results
            ],
        }
        typer.echo(json.dumps(payload))
        return
    if output is OutputFormat.csv:
        import pandas as pd

        frames = []
        for label, _, _, rows in results:
            f = pd.DataFrame([asdict(r) for r in rows])
            f.insert(0, "scenario", label)
            frames.append(f)
        sys.stdout.write(pd.concat(frames).to_csv(index=False, float_format="%.6g"))
        return
    first_rows = results[0][3]
    table = Table(title="Receptor occupancy = Cu/(Cu+Ki); Cu = fu x total plasma", width=200)
    for col in ("target", "compound", "Ki/IC50 (uM)", "kind", "confidence"):
        table.add_column(col)
    for label, _, _, _ in results:
        table.add_column(label, justify="right")
    keyed = [{(r.target, r.compound): r for r in rows} for _, _, _, rows in results]
    seen: list[tuple[str, str]] = []
    for rows in [first_rows] + [r for _, _, _, r in results[1:]]:
        for r in rows:
            if (r.target, r.compound) not in seen:
                seen.append((r.target, r.compound))
    for key in seen:
        ref = next(k[key] for k in keyed if key in k)
        cells = []
        for k in keyed:
            hit = k.get(key)
            if hit is None:
                cells.append("")
                continue
            spread = ""
            if hit.occupancy_range is not None:
                lo, hi = hit.occupancy_range
                spread = f" ({_pct(lo)}-{_pct(hi)})"
            cells.append(f"{_pct(hit.occupancy)}{spread} {hit.level}")
        ki = "-" if math.isnan(ref.ki_um) else f"{ref.ki_um:g}"
        table.add_row(ref.target, ref.compound, ki, ref.kind, ref.confidence, *cells)
    console = Console(width=200)
    console.print(table)
    for a in occupancy_assumptions():
        console.print(f"- {a}", soft_wrap=True)
    console.print(
        "(a-b): occupancy over the published Ki range. Sources per row: --output json.",
        soft_wrap=True,
    )


def register(root: typer.Typer) -> None:
    """Add ``ketasim occupancy`` to the root app."""
    root.command("occupancy")(occupancy_command)
