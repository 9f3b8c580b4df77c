"""The ``ketasim`` command line.

The typer application lives in :mod:`ketasim.cli._app` and is imported on first use of
``ketasim.cli.app``; each command lives in its own module of this package and exposes
``register(app)``. :func:`main` first offers the command line to the fast paths of
:mod:`ketasim.cli._fast` (``ketasim --version`` and the ``ketasim models`` listing with plain
options), which answer without importing typer or pydantic; any other command line, and any
listing they do not fully understand, goes to the typer application unchanged.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketasim.cli._app import app

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:  # PEP 562: ``app`` is built on first use
    if name == "app":
        from ketasim.cli._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``ketasim`` script."""
    from ketasim.cli._fast import run_fast

    if run_fast(sys.argv[1:]):
        return
    from ketasim.cli._app import app
    from ketasim.cli._exit import run_app

    run_app(app)
