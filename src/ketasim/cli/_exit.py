"""Leave the ``ketasim`` process without the interpreter's teardown when a command asks for it.

After a big run (``ketasim trial`` with 10^6 patients: numba, LLVM, pandas, pyarrow and
matplotlib loaded, a few hundred thousand tracked objects) CPython's finalisation (garbage
collection passes, clearing every module) takes a noticeable part of the command's wall time
(measured in benchmarks/README.md, "Virtual trials: where the time goes"). A command whose
outputs are all written and closed may call :func:`request_fast_exit`; :func:`run_app`, used
only by the console-script entry point :func:`ketasim.cli.main`, then flushes stdout, stderr
and logging and ends the process with ``os._exit(0)``. Only a successful exit is shortened:
any other exit code, an exception, or a command that did not ask, exits as usual. Commands run
in-process (tests, ``typer.testing.CliRunner``) never reach :func:`run_app`, so nothing changes
for them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

__all__ = ["request_fast_exit", "run_app"]

_requested = False


def request_fast_exit() -> None:
    """Ask :func:`run_app` to skip the interpreter's teardown after this command succeeds.

    Call it only when every file the command writes is closed and nothing is left for
    ``atexit`` handlers to do (no Dask cluster, no server).
    """
    global _requested
    _requested = True


def _exit_now() -> None:
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to write
            stream.flush()
    os._exit(0)


def run_app(app: Callable[[], object]) -> None:
    """Run the typer ``app`` (which ends by raising ``SystemExit``) and honour a request."""
    global _requested
    _requested = False
    try:
        app()
    except SystemExit as stop:
        if _requested and stop.code in (None, 0):
            _exit_now()
        raise
    if _requested:
        _exit_now()
