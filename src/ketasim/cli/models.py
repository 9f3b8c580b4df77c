"""``ketasim models``: list the catalogue, show one model's card."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ketasim.catalogue.card import model_summary
from ketasim.cli._models_listing import print_listing
from ketasim.cli.common import OutputFormat, handle_errors

__all__ = ["app", "model_summary", "register"]

app = typer.Typer(
    help="The model catalogue: published models with their citations.", invoke_without_command=True
)


@app.callback()
@handle_errors
def models(
    ctx: typer.Context,
    drug: Annotated[
        str | None, typer.Option("--drug", help="racemic, S-ketamine, esketamine or R-ketamine")
    ] = None,
    route: Annotated[
        str | None,
        typer.Option("--route", help="only models with this route (iv, intranasal, im, oral, ...)"),
    ] = None,
    weight: Annotated[
        float | None,
        typer.Option("--weight", help="body weight (kg): only models validated for it"),
    ] = None,
    age: Annotated[
        float | None, typer.Option("--age", help="age (years): only models validated for it")
    ] = None,
    population: Annotated[
        str | None,
        typer.Option(
            "--population",
            help="general (no ICU models), icu or any [default: general with "
            "--weight or --age, else any]",
        ),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or csv")
    ] = OutputFormat.table,
) -> None:
    """List the catalogue (verified evidence first); filters keep models that fit the patient.

    A model without a stated range for a covariate is kept (its card says so). ``models show
    ID`` prints the full card.
    """
    if ctx.invoked_subcommand is not None:
        return
    print_listing(
        drug=drug, route=route, weight=weight, age=age, population=population, output=output
    )


@app.command("show")
@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="model id, short name, or path to a model file")],
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.table,
) -> None:
    """Print one model's card: citation, structure, parameters with units and sources."""
    from ketasim.catalogue import resolve_model

    m = resolve_model(name)
    if output is OutputFormat.json:
        card = model_summary(m)
        card["parameters"] = {k: p.model_dump(exclude_none=True) for k, p in m.parameters.items()}
        card["derived"] = m.derived
        card["iiv"] = {k: v.model_dump(exclude_none=True) for k, v in m.iiv.items()}
        card["compartments"] = [c.model_dump(exclude_none=True) for c in m.compartments]
        typer.echo(json.dumps(card, indent=2, ensure_ascii=False))
        return
    console = Console(width=140)
    console.print(f"[bold]{m.title}[/bold]  ({m.id})")
    console.print(
        f"Drug: {m.drug}; analytes: {', '.join(m.analyte_names)}; "
        f"routes: {', '.join(m.route_names)}; sampling: {m.sampling}"
    )
    console.print(f"Population: {m.population}")
    if m.setting == "icu":
        console.print(
            "Setting: ICU (left out of patient filters and compare --all unless "
            "--population icu or any)"
        )
    cite = m.citation
    console.print(
        f"Citation: {cite.text}"
        + (f"  doi:{cite.doi}" if cite.doi else "")
        + (f"  PMID {cite.pmid}" if cite.pmid else "")
    )
    console.print(f"Verified: {cite.verified}")
    console.print(f"Evidence: {m.evidence or 'not stated'}")
    if m.validity:
        console.print(
            "Validity: " + "; ".join(f"{k} {r.describe()}" for k, r in m.validity.items())
        )
    else:
        console.print("Validity: no covariate range stated in the sources read")
    table = Table(title="parameters")
    for col in ("name", "value", "unit", "IIV", "source"):
        table.add_column(col, overflow="fold")
    for k, p in m.parameters.items():
        iiv = m.iiv.get(k)
        table.add_row(k, f"{p.value:g}", p.unit, _iiv_text(iiv), p.source)
    console.print(table)
    if m.derived:
        console.print("Derived (internal units mg, L, min):")
        for k, text in m.derived.items():
            console.print(
                f"  {k} = {text}" + (f"   IIV {_iiv_text(m.iiv[k])}" if k in m.iiv else "")
            )
    for e in m.effect_sites:
        console.print(
            f"Effect site ({e.analyte}): ke0 = {e.ke0} "
            f"({'ASSUMED' if e.assumed else 'published'}; {e.source})"
        )
    for st in m.studied:
        console.print(
            f"Studied regimen: {st.route} {st.regimen}; "
            + ", ".join(
                f"{rng.describe()} {unit}"
                for unit, rng in (
                    ("mg", st.dose_mg),
                    ("mg/kg", st.dose_mg_per_kg),
                    ("mg/kg/h", st.rate_mg_per_kg_per_h),
                )
                if rng is not None
            )
            + f" ({st.source})"
        )
    for note in m.notes:
        console.print(f"Note: {note}")


def _iiv_text(iiv: Any) -> str:
    if iiv is None:
        return ""
    size = f"{iiv.cv_percent:g}% CV" if iiv.cv_percent is not None else f"ω² {iiv.omega_sq:g}"
    return f"{size} ({iiv.scale})" + (" assumed" if iiv.assumed else "")


def register(root: typer.Typer) -> None:
    """Add ``ketasim models`` to the root app."""
    root.add_typer(app, name="models")
