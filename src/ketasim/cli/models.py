"""``ketasim models``: list the catalogue, show one model's card."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ketasim.catalogue import available_models, resolve_model
from ketasim.catalogue.schema import ModelSpec
from ketasim.cli.common import OutputFormat, handle_errors

app = typer.Typer(help="The model catalogue: published models with their citations.",
                  invoke_without_command=True)


def model_summary(m: ModelSpec) -> dict[str, Any]:
    """The JSON form of a model's card (public contract of ``models --output json``)."""
    return {
        "id": m.id,
        "short_names": m.short_names,
        "title": m.title,
        "drug": m.drug,
        "analytes": m.analyte_names,
        "routes": m.route_names,
        "population": m.population,
        "sampling": m.sampling,
        "effect_sites": [
            {"analyte": e.analyte, "ke0": e.ke0, "assumed": e.assumed, "source": e.source}
            for e in m.effect_sites
        ],
        "citation": {"text": m.citation.text, "doi": m.citation.doi, "pmid": m.citation.pmid,
                     "verified": m.citation.verified},
        "validity": {k: {"min": r.min, "max": r.max, "source": r.source}
                     for k, r in m.validity.items()},
        "has_variability": bool(m.iiv),
        "residual_error": sorted(m.residual_error),
        "notes": m.notes,
    }


@app.callback()
@handle_errors
def models(
    ctx: typer.Context,
    output: Annotated[OutputFormat, typer.Option("--output", "-o",
                                                 help="table, json or csv")] = OutputFormat.table,
) -> None:
    """List every model of the catalogue with its citation."""
    if ctx.invoked_subcommand is not None:
        return
    ms = available_models()
    if output is OutputFormat.json:
        typer.echo(json.dumps([model_summary(m) for m in ms], indent=2, ensure_ascii=False))
        return
    if output is OutputFormat.csv:
        typer.echo("id,drug,analytes,routes,doi,pmid")
        for m in ms:
            typer.echo(f"{m.id},{m.drug},{'|'.join(m.analyte_names)},{'|'.join(m.route_names)},"
                       f"{m.citation.doi or ''},{m.citation.pmid or ''}")
        return
    table = Table(title="ketasim model catalogue", show_lines=False)
    for col in ("id", "drug", "analytes", "routes", "population", "citation"):
        table.add_column(col, overflow="fold")
    for m in ms:
        ref = m.citation.text
        ids = " ".join(x for x in (f"doi:{m.citation.doi}" if m.citation.doi else "",
                                   f"PMID {m.citation.pmid}" if m.citation.pmid else "") if x)
        table.add_row(m.id, m.drug, ", ".join(m.analyte_names), ", ".join(m.route_names),
                      m.population, f"{ref} {ids}".strip())
    Console(width=160).print(table)


@app.command("show")
@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="model id, short name, or path to a model file")],
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.table,
) -> None:
    """Print one model's card: citation, structure, parameters with units and sources."""
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
    console.print(f"Drug: {m.drug}; analytes: {', '.join(m.analyte_names)}; "
                  f"routes: {', '.join(m.route_names)}; sampling: {m.sampling}")
    console.print(f"Population: {m.population}")
    cite = m.citation
    console.print(f"Citation: {cite.text}" + (f"  doi:{cite.doi}" if cite.doi else "")
                  + (f"  PMID {cite.pmid}" if cite.pmid else ""))
    console.print(f"Verified: {cite.verified}")
    if m.validity:
        console.print("Validity: " + "; ".join(f"{k} {r.describe()}" for k, r in
                                               m.validity.items()))
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
            console.print(f"  {k} = {text}" + (f"   IIV {_iiv_text(m.iiv[k])}"
                                                 if k in m.iiv else ""))
    for e in m.effect_sites:
        console.print(f"Effect site ({e.analyte}): ke0 = {e.ke0} "
                      f"({'ASSUMED' if e.assumed else 'published'}; {e.source})")
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
