"""``ketasim plan``: a patient file and a protocol in; doses, findings, monitoring and predicted
concentrations out (table, JSON, and an HTML report)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ketasim.cli.common import OutputFormat, handle_errors
from ketasim.errors import InputError
from ketasim.regimens.protocols import Protocol, get_protocol
from ketasim.safety import (
    Plan,
    load_rules,
    make_plan,
    parse_bp_threshold,
    parse_patient_record,
)
from ketasim.units import convert, parse_duration_min, parse_quantity


def read_patient_file(path: Path) -> dict[str, Any]:
    """Read a patient file: JSON (``.json``) or TOML (``.toml``); errors name the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("--patient", f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError("--patient", f"{path}: not valid TOML: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("--patient", f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("--patient", f"{path}: must hold one JSON object")
    return data


def _dose_in_protocol_unit(text: str, protocol: Protocol) -> float:
    unit = protocol.dose.unit
    try:
        value = float(text)
    except ValueError:
        q = parse_quantity(
            text,
            field="--dose",
            expect=("amount", "amount_per_kg", "dose_rate", "dose_rate_per_kg"),
        )
        try:
            value = convert(q.value, q.unit, unit)
        except InputError:
            raise InputError(
                "--dose", f"{text!r}: protocol {protocol.id} doses are in {unit}"
            ) from None
    if not value > 0:
        raise InputError("--dose", f"{text!r} must be > 0 {unit}")
    return value


def _print_table(plan: Plan) -> None:
    console = Console(width=180)
    t = Table(title=f"{plan.protocol.id}: findings (rules {plan.rules_version})")
    for col in ("severity", "rule", "message", "source"):
        t.add_column(col, overflow="fold")
    for f in plan.findings:
        style = {"stop": "bold red", "warn": "yellow", "info": ""}[f.severity]
        t.add_row(f.severity, f.rule_id, escape(f.message), escape(f.source), style=style)
    console.print(t)
    d = Table(title="dose schedule")
    for col in ("session", "phase", "day", "dose", "mg"):
        d.add_column(col)
    for x in plan.doses:
        over = f" over {x.duration_min:g} min" if x.duration_min > 0 else ""
        d.add_row(
            str(x.session),
            x.phase,
            f"{x.day:g}",
            f"{x.amount:g} {x.unit}{over}",
            f"{x.amount_mg:.1f}",
        )
    console.print(d)
    m = Table(title="monitoring (each session)")
    for col in ("min", "when", "action"):
        m.add_column(col, overflow="fold")
    for item in plan.monitoring:
        m.add_row(
            "-" if item.time_min is None else f"{item.time_min:g}",
            escape(item.when),
            escape(item.action),
        )
    console.print(m)
    console.print(escape(plan.concentration_note))
    console.print(escape(plan.effects_note))


@handle_errors
def plan_command(
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol", "-p", help="protocol id (see `ketasim protocols`) or a protocol file"
        ),
    ],
    patient: Annotated[
        Path,
        typer.Option(
            "--patient",
            help="patient file (JSON or TOML): "
            "age_years, weight_kg, sbp_mmhg, dbp_mmhg, "
            "conditions, medications, pregnant, ...",
        ),
    ],
    dose: Annotated[
        str | None,
        typer.Option(
            "--dose", help="dose per session instead of the protocol's, e.g. 84, '3 mg/kg'"
        ),
    ] = None,
    over: Annotated[
        str | None, typer.Option("--over", help="administration time, e.g. 40min")
    ] = None,
    weeks: Annotated[
        int | None, typer.Option("--weeks", help="plan this many weeks of the course")
    ] = None,
    bp_threshold: Annotated[
        str | None,
        typer.Option(
            "--bp-threshold",
            help="pre-dose BP threshold SYS/DIA mmHg (default: rules file, label example 140/90)",
        ),
    ] = None,
    rules_file: Annotated[Path | None, typer.Option("--rules", help="a rules file")] = None,
    samples: Annotated[
        int, typer.Option("--samples", help="virtual patients for the variability band (0 = none)")
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", help="random seed of the band")] = 1,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table or json")
    ] = OutputFormat.table,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="write a report: HTML (plan.html) or a printable PDF (plan.pdf)"
        ),
    ] = None,
) -> None:
    """Plan a protocol for a patient: dose schedule, safety findings with sources, monitoring
    timeline, predicted concentrations (with the model's variability band) and effects where
    the protocol names a PD model."""
    rules = load_rules(rules_file)
    proto = get_protocol(protocol)
    record = parse_patient_record(read_patient_file(patient), rules)
    dose_value = _dose_in_protocol_unit(dose, proto) if dose is not None else None
    duration = parse_duration_min(over, field="--over") if over is not None else None
    threshold = parse_bp_threshold(bp_threshold) if bp_threshold is not None else None
    if output is OutputFormat.csv:
        raise InputError("--output", "csv is not available for plans; use table or json")
    if report is not None and report.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise InputError("--report", f"{report.name}: name the report .html or .pdf")
    result = make_plan(
        proto,
        record,
        dose=dose_value,
        duration_min=duration,
        weeks=weeks,
        rules=rules,
        bp_threshold=threshold,
        n_samples=samples,
        rng=seed,
    )
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        _print_table(result)
    if report is not None and report.suffix.lower() == ".pdf":
        from ketasim.report.plan_pdf import write_plan_pdf

        write_plan_pdf(result, report)
        print(f"ketasim: wrote {report}", file=sys.stderr)
    elif report is not None:
        from ketasim.report.plan_report import write_plan_report

        write_plan_report(result, report)
        print(f"ketasim: wrote {report}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    """Add ``ketasim plan`` to the root app."""
    root.command("plan")(plan_command)
