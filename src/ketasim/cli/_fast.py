"""Fast paths of the command line: ``ketasim --version`` and the ``ketasim models`` listing.

Building the typer application costs more than either command (typer 0.29 builds a pydantic
adapter for every option, and imports rich and pydantic to do so), so :func:`run_fast` answers
these two command lines before typer is imported, with the same code and output as the typer
commands (the listing is :func:`ketasim.cli._models_listing.print_listing` in both).

The parser here accepts a deliberately narrow form of the listing's options: ``--drug``,
``--route``, ``--weight``, ``--age``, ``--population`` and ``--output``/``-o``, each at most once,
as ``--name value`` or ``--name=value``, values not starting with ``-``, numbers in plain decimal
notation and an output of ``table``, ``json`` or ``csv``. Anything else (``--help``, ``models
show``, a repeated or unknown option, a value typer would refuse, a filter the selection
refuses) returns False before printing anything, and the typer application then handles the
command line as it always did, including its messages and exit codes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["ListingOptions", "parse_listing", "run_fast"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TEXT_OPTIONS = {"--drug": "drug", "--route": "route", "--population": "population"}
_NUMBER_OPTIONS = {"--weight": "weight", "--age": "age"}
_OUTPUT_OPTIONS = ("--output", "-o")
_OUTPUTS = ("table", "json", "csv")


@dataclass(frozen=True)
class ListingOptions:
    """The options of the ``ketasim models`` listing (defaults as in the typer command)."""

    drug: str | None = None
    route: str | None = None
    weight: float | None = None
    age: float | None = None
    population: str | None = None
    output: str = "table"


def parse_listing(args: list[str]) -> ListingOptions | None:
    """The options of ``ketasim models ARGS`` (the listing), or None if not in the fast form."""
    texts: dict[str, str] = {}
    numbers: dict[str, float] = {}
    i = 0
    while i < len(args):
        token = args[i]
        name, eq, value = token.partition("=")
        if not eq:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 1
        i += 1
        if name == "-o" and eq:  # click reads "-o=json" as the value "=json"
            return None
        key = (
            _TEXT_OPTIONS.get(name)
            or _NUMBER_OPTIONS.get(name)
            or ("output" if name in _OUTPUT_OPTIONS else None)
        )
        if key is None or key in texts or key in numbers or value.startswith("-"):
            return None
        if key == "output" and value not in _OUTPUTS:
            return None
        if name in _NUMBER_OPTIONS:
            if not _NUMBER.fullmatch(value) or not math.isfinite(float(value)):
                return None
            numbers[key] = float(value)
        else:
            texts[key] = value
    return ListingOptions(**texts, **numbers)  # type: ignore[arg-type]


def run_fast(argv: list[str]) -> bool:
    """Answer ``argv`` (without the program name) if it is a fast-path command line."""
    if argv == ["--version"]:
        from importlib.metadata import version

        print(f"ketasim {version('ketasim')}")
        return True
    if not argv or argv[0] != "models":
        return False
    options = parse_listing(argv[1:])
    if options is None:
        return False
    from ketasim.cli._models_listing import print_listing
    from ketasim.errors import KetasimError

    try:
        print_listing(**vars(options))
    except KetasimError:  # refused filters: typer's command reports them (same message, code)
        return False
    return True
