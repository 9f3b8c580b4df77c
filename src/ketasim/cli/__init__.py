"""The ``ketasim`` command line.

Each command lives in its own module of this package and exposes ``register(app)``; modules are
discovered in name order, so adding a command never means editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="ketasim",
    help="Clinical pharmacology of ketamine: cited models, exact simulation, dosing support. "
    "Decision support and research software for professionals; not advice to the public.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ketasim {version('ketasim')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.",
                                 callback=_version_callback, is_eager=True),
) -> None:
    """Clinical pharmacology of ketamine (decision support for professionals)."""


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    if _info.name.startswith("_") or _info.name == "common":
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    _register = getattr(_module, "register", None)
    if callable(_register):
        _register(app)


def main() -> None:
    """Entry point of the ``ketasim`` script."""
    app()
