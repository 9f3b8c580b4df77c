"""``ketasim protocols``: the protocol library (dosing protocols as data, with sources)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ketasim.cli.common import OutputFormat, handle_errors
from ketasim.regimens.protocols import Protocol, available_protocols, get_protocol

app = typer.Typer(
    help="The protocol library: dosing protocols with their sources.", invoke_without_command=True
)


def _dose_text(p: Protocol) -> str:
    d = p.dose
    limits = []
    if d.min is not None or d.max is not None:
        lo = f"{d.min:g}" if d.min is not None else ""
        hi = f"{d.max:g}" if d.max is not None else ""
        limits.append(f"range {lo}-{hi}".replace("range -", "up to "))
    if d.allowed:
        limits.append("allowed " + "/".join(f"{x:g}" for x in d.allowed))
    if d.first_dose is not None:
        limits.append(f"first {d.first_dose:g}")
    over = f" over {d.duration_min:g} min" if d.duration_min > 0 else ""
    return (
        f"{d.default:g} {d.unit}{over} ({'; '.join(limits)})"
        if limits
        else f"{d.default:g} {d.unit}{over}"
    )


def _schedule_text(p: Protocol) -> str:
    if not p.phases:
        return "single session"
    parts = []
    for ph in p.phases:
        per = (
            f"{len(ph.session_days)}x/week"
            if ph.every_weeks == 1
            else f"every {ph.every_weeks} weeks"
        )
        end = "+" if ph.open_ended else f"-{ph.end_week}"
        parts.append(f"wk {ph.start_week}{end}: {per}")
    return "; ".join(parts)


@app.callback()
@handle_errors
def protocols(
    ctx: typer.Context,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or csv")
    ] = OutputFormat.table,
) -> None:
    """List the dosing protocols: id, drug, route, indication, dose rules and source."""
    if ctx.invoked_subcommand is not None:
        return
    ps = available_protocols()
    if output is OutputFormat.json:
        typer.echo(json.dumps([p.summary() for p in ps], indent=2, ensure_ascii=False))
        return
    if output is OutputFormat.csv:
        typer.echo("id,drug,route,indication,dose_unit,default,min,max,model")
        for p in ps:
            d = p.dose
            typer.echo(
                ",".join(
                    str(x if x is not None else "")
                    for x in (
                        p.id,
                        p.drug,
                        p.route,
                        p.indication,
                        d.unit,
                        d.default,
                        d.min,
                        d.max,
                        p.model,
                    )
                )
            )
        return
    table = Table(title="ketasim protocol library")
    for col in ("id", "drug", "route", "indication", "dose", "schedule", "model", "source"):
        table.add_column(col, overflow="fold")
    for p in ps:
        table.add_row(
            p.id,
            p.drug,
            p.route,
            p.indication,
            _dose_text(p),
            _schedule_text(p),
            p.model or "-",
            escape(p.sources[0].text),
        )
    Console(width=200).print(table)


@app.command("show")
@handle_errors
def show(
    protocol_id: Annotated[str, typer.Argument(help="protocol id or a protocol file (.toml)")],
) -> None:
    """Print one protocol (JSON) with its dose rules, schedule, notes and sources."""
    p = get_protocol(protocol_id)
    data = p.summary()
    data["notes"] = p.notes
    data["model_note"] = p.model_note
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def register(root: typer.Typer) -> None:
    """Add ``ketasim protocols`` to the root app."""
    root.add_typer(app, name="protocols")
