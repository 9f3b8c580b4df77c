"""The command line starts without the numerical stack (benchmarks/bench_startup.py times it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "numpy",
    "scipy",
    "pandas",
    "numba",
    "matplotlib",
    "ketasim.estimation",
    "ketasim.population",
)

PROBE = """
import sys
sys.argv = ["ketasim", *{args!r}]
from ketasim.cli import main
try:
    main()
except SystemExit:
    pass
print("LOADED:" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["models"], ["models", "--output", "csv"]])
def test_start_up_commands_import_no_heavy_module(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip(), "the command printed nothing"
    assert done.stderr.strip().splitlines()[-1] == "LOADED:"


def test_every_command_is_still_listed() -> None:
    from typer.testing import CliRunner

    from ketasim.cli import app

    out = CliRunner().invoke(app, ["--help"]).output
    for name in ("simulate", "trial", "fit", "models", "effects", "antidepressant", "tci"):
        assert name in out
