"""The ``ketasim`` command line. Each command lives in its own module and registers here."""

from __future__ import annotations

import typer

from ketasim.cli import models as _models
from ketasim.cli import simulate as _simulate

app = typer.Typer(
    name="ketasim",
    help="Clinical pharmacology of ketamine: cited models, exact simulation, dosing support. "
    "Decision support and research software for professionals; not advice to the public.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(_models.app, name="models")
app.command("simulate")(_simulate.simulate_command)


def main() -> None:
    """Entry point of the ``ketasim`` script."""
    app()
