"""The ``ketasim`` typer application (:data:`ketasim.cli.app`).

Each command lives in its own module of this package and exposes ``register(app)``; modules are
discovered in name order, so adding a command never means editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

import typer
import typer.main
from typer.core import TyperGroup

import ketasim.cli

if TYPE_CHECKING:  # typer >= 0.24 vendors click; its types are those TyperGroup declares
    from typer._click.core import Command, Context

__all__ = ["app"]


def _command_modules() -> list[str]:
    return sorted(
        i.name
        for i in pkgutil.iter_modules(ketasim.cli.__path__)
        if not i.name.startswith("_") and i.name != "common"
    )


class _LazyGroup(TyperGroup):
    """The root command group, importing a command's module only when it is called.

    ``ketasim models`` imports ``ketasim.cli.models`` alone (a command found in the module of
    the same name); ``--help`` and an unknown name import every module. Start-up stays fast
    because numba, scipy, pandas and the estimation stack are imported by the commands that use
    them (benchmarks/bench_startup.py).
    """

    _loaded: set[str]

    def _load(self, module_name: str) -> None:
        loaded = self.__dict__.setdefault("_loaded", set())
        if module_name in loaded:
            return
        loaded.add(module_name)
        module = importlib.import_module(f"ketasim.cli.{module_name}")
        register = getattr(module, "register", None)
        if not callable(register):
            return
        holder = typer.Typer()
        holder.callback()(lambda: None)
        register(holder)
        group = typer.main.get_group(holder)
        for name, command in group.commands.items():
            self.commands.setdefault(name, command)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        module_name = cmd_name.replace("-", "_")
        if cmd_name not in self.commands and module_name in _command_modules():
            self._load(module_name)
        if cmd_name not in self.commands:
            for name in _command_modules():
                self._load(name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: Context) -> list[str]:
        for name in _command_modules():
            self._load(name)
        return super().list_commands(ctx)


app = typer.Typer(
    name="ketasim",
    help="Clinical pharmacology of ketamine: cited models, exact simulation, dosing support. "
    "Decision support and research software for professionals; not advice to the public.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_LazyGroup,
)


def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ketasim {version('ketasim')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
) -> None:
    """Clinical pharmacology of ketamine (decision support for professionals)."""
