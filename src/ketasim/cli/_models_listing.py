"""The catalogue listing of ``ketasim models``, shared by the typer command and the fast path.

Needs neither typer nor pydantic (the cards come from :mod:`ketasim.cli._model_index`); rich is
imported for the table output only.
"""

from __future__ import annotations

import json
import sys

from ketasim.catalogue.select import select
from ketasim.cli._model_index import model_cards

__all__ = ["print_listing"]

_DRUG_SHORT = {
    "racemic ketamine": "racemic",
    "S-ketamine": "S",
    "R-ketamine": "R",
    "esketamine": "esket.",
}
_ANALYTE_SHORT = {
    "ketamine": "K",
    "norketamine": "NK",
    "hydroxynorketamine": "HNK",
    "esketamine": "esK",
    "noresketamine": "noresK",
    "s_ketamine": "S-K",
    "r_ketamine": "R-K",
    "s_norketamine": "S-NK",
    "r_norketamine": "R-NK",
}


def print_listing(
    *,
    drug: str | None,
    route: str | None,
    weight: float | None,
    age: float | None,
    population: str | None,
    output: str,
) -> None:
    """Print the models that fit the filters as ``output`` (``table``, ``json`` or ``csv``).

    Raises the selection's :class:`~ketasim.errors.InputError` before printing anything.
    """
    if population is None:
        population = "general" if weight is not None or age is not None else "any"
    ms = select(
        model_cards(),
        drug=drug,
        route=route,
        weight_kg=weight,
        age_years=age,
        population=population.strip().lower(),
    )
    if output == "json":
        print(json.dumps([dict(m.summary) for m in ms], indent=2, ensure_ascii=False))
        return
    if output == "csv":
        lines = ["id,drug,analytes,routes,doi,pmid"]
        for m in ms:
            cite = m.summary["citation"]
            lines.append(
                f"{m.id},{m.drug},{'|'.join(m.analyte_names)},{'|'.join(m.route_names)},"
                f"{cite['doi'] or ''},{cite['pmid'] or ''}"
            )
        print("\n".join(lines))
        return
    if not ms:
        print("ketasim: no catalogue model matches these filters", file=sys.stderr)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="ketasim model catalogue (verified first; `models show ID` for the card)",
        caption="K ketamine, NK norketamine, HNK hydroxynorketamine, esK esketamine; "
        "S-/R- enantiomers",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col, width in (
        ("id", 20),
        ("drug", 7),
        ("routes", 12),
        ("analytes", 8),
        ("evidence", 11),
        ("source", 26),
    ):
        table.add_column(col, overflow="fold", min_width=width, max_width=width)
    for m in ms:
        cite = m.summary["citation"]
        ref = (
            f"doi:{cite['doi']}" if cite["doi"] else f"PMID {cite['pmid']}" if cite["pmid"] else ""
        )
        table.add_row(
            m.id,
            _DRUG_SHORT[m.drug],
            ",".join(m.route_names),
            ",".join(_ANALYTE_SHORT.get(a, a) for a in m.analyte_names),
            m.evidence or "not stated",
            f"{m.summary['short_citation']}{' (ICU)' if m.setting == 'icu' else ''} {ref}".strip(),
        )
    Console(width=100).print(table)
