"""``ketasim rules``: the safety rules (versioned data with sources) and condition ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ketasim.cli.common import OutputFormat, handle_errors
from ketasim.safety.rules import load_rules

app = typer.Typer(
    help="Safety rules: id, severity, what they match, message and source.",
    invoke_without_command=True,
)

RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="a rules file (default: the rules shipped with ketasim)"),
]


@app.callback()
@handle_errors
def rules(
    ctx: typer.Context,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or csv")
    ] = OutputFormat.table,
    rules_file: RulesOption = None,
) -> None:
    """List the safety rules (stop / warn / info) with the condition or measurement they match."""
    if ctx.invoked_subcommand is not None:
        return
    rs = load_rules(rules_file)
    if output is OutputFormat.json:
        typer.echo(json.dumps([r.as_dict() for r in rs.rules], indent=2, ensure_ascii=False))
        return
    if output is OutputFormat.csv:
        typer.echo("id,severity,kind,status,source")
        for r in rs.rules:
            typer.echo(f'{r.id},{r.severity},{r.kind},{r.status},"{r.source}"')
        return
    table = Table(title=f"ketasim safety rules, version {rs.version} ({rs.date})")
    for col in ("id", "severity", "matches", "message", "source"):
        table.add_column(col, overflow="fold")
    for r in rs.rules:
        cond = r.as_dict()["condition"]
        table.add_row(
            r.id,
            r.severity,
            escape(json.dumps(cond, ensure_ascii=False)),
            escape(r.message),
            escape(r.cited_source),
        )
    Console(width=220).print(table)


@app.command("conditions")
@handle_errors
def conditions(
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or csv")
    ] = OutputFormat.table,
    rules_file: RulesOption = None,
) -> None:
    """List the condition ids a patient file may use under ``conditions``."""
    rs = load_rules(rules_file)
    rows = [{"id": c.id, "label": c.label, "implies": c.implies} for c in rs.conditions]
    if output is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if output is OutputFormat.csv:
        typer.echo("id,label,implies")
        for row in rs.conditions:
            typer.echo(f'{row.id},"{row.label}",{"|".join(row.implies)}')
        return
    table = Table(title="condition ids for patient files")
    for col in ("id", "label", "implies"):
        table.add_column(col, overflow="fold")
    for c in rs.conditions:
        table.add_row(c.id, escape(c.label), ", ".join(c.implies))
    Console(width=160).print(table)


def register(root: typer.Typer) -> None:
    """Add ``ketasim rules`` to the root app."""
    root.add_typer(app, name="rules")
