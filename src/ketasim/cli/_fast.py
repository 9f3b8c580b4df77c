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
from typing import NamedTuple

__all__ = ["ListingOptions", "installed_version", "parse_listing", "run_fast"]

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"  # plain decimal notation
_TEXT_OPTIONS = {"--drug": "drug", "--route": "route", "--population": "population"}
_NUMBER_OPTIONS = {"--weight": "weight", "--age": "age"}
_OUTPUT_OPTIONS = ("--output", "-o")
_OUTPUTS = ("table", "json", "csv")


class ListingOptions(NamedTuple):
    """The options of the ``ketasim models`` listing (defaults as in the typer command)."""

    drug: str | None = None
    route: str | None = None
    weight: float | None = None
    age: float | None = None
    population: str | None = None
    output: str = "table"


def parse_listing(args: list[str]) -> ListingOptions | None:
    """The options of ``ketasim models ARGS`` (the listing), or None if not in the fast form."""
    import re  # here, not at the top: --version does without it

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
            if not re.fullmatch(_NUMBER, value) or not math.isfinite(float(value)):
                return None
            numbers[key] = float(value)
        else:
            texts[key] = value
    return ListingOptions(
        drug=texts.get("drug"),
        route=texts.get("route"),
        weight=numbers.get("weight"),
        age=numbers.get("age"),
        population=texts.get("population"),
        output=texts.get("output", "table"),
    )


def installed_version() -> str:
    """The installed ``ketasim`` distribution's version, as ``importlib.metadata.version``
    gives it, usually without importing ``importlib.metadata`` (half of ``--version``'s time).

    importlib.metadata takes the first folder of ``sys.path`` holding the distribution's
    metadata; when that folder holds exactly one ``ketasim-*.dist-info`` (and no egg-info), its
    ``METADATA`` file's ``Version:`` header is read here. Anything else (an egg-info, two
    candidates, a zip on the path, no ``Version:``) asks importlib.metadata.
    """
    import os
    import sys

    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except FileNotFoundError:
            continue
        except OSError:  # a zip file or an unreadable folder: importlib.metadata knows better
            break
        lowered = [n.lower() for n in names]
        eggs = [n for n in lowered if n.startswith("ketasim") and n.endswith(".egg-info")]
        dists = [n for n, low in zip(names, lowered, strict=True) if _is_dist_info(low)]
        if not eggs and not dists:
            continue
        if eggs or len(dists) != 1:
            break
        try:
            with open(os.path.join(entry or ".", dists[0], "METADATA"), encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        break  # end of the headers
                    if line.startswith("Version:"):
                        return line.removeprefix("Version:").strip()
        except OSError:
            pass
        break
    from importlib.metadata import version

    return version("ketasim")


def _is_dist_info(name: str) -> bool:
    """Whether ``name`` (lower case) is ``ketasim-<version>.dist-info``."""
    prefix, suffix = "ketasim-", ".dist-info"
    middle = name[len(prefix) : -len(suffix)]
    return name.startswith(prefix) and name.endswith(suffix) and bool(middle) and "-" not in middle


def run_fast(argv: list[str]) -> bool:
    """Answer ``argv`` (without the program name) if it is a fast-path command line."""
    if argv == ["--version"]:
        print(f"ketasim {installed_version()}")
        return True
    if not argv or argv[0] != "models":
        return False
    options = parse_listing(argv[1:])
    if options is None:
        return False
    from ketasim.cli._models_listing import print_listing
    from ketasim.errors import KetasimError

    try:
        print_listing(**options._asdict())
    except KetasimError:  # refused filters: typer's command reports them (same message, code)
        return False
    return True
