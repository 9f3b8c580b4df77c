"""Domain errors name domain fields; the command line maps them to its flags in one table."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.cli.common import CLI_FLAGS, COMMAND_FLAGS, describe_error
from ketasim.errors import InputError, ModelNotFoundError, RangeError

SRC = Path(__file__).resolve().parents[2] / "src" / "ketasim"
FLAG_IN_ERROR = re.compile(
    r"(InputError|RangeError|UnitError|ModelNotFoundError)\(\s*f?\"--|field=\"--"
)


def test_no_domain_error_outside_the_command_line_names_a_flag() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(("cli/", "clinic/")):
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if FLAG_IN_ERROR.search(line):
                offenders.append(f"{rel}:{i}: {line.strip()}")
    assert offenders == []


def test_the_door_names_the_flag_and_the_field() -> None:
    assert describe_error(InputError("targets", "give at least one target")) == (
        "--target (targets): give at least one target"
    )
    assert describe_error(InputError("event_table", "cannot read x"), "fit") == (
        "--data (event_table): cannot read x"
    )
    assert describe_error(InputError("event_table", "cannot read x"), "simulate") == (
        "--events (event_table): cannot read x"
    )
    assert describe_error(ModelNotFoundError("no PD model 'x'", field="pd_model")) == (
        "--pd (pd_model): no PD model 'x'"
    )
    assert describe_error(RangeError("weight_kg", "too heavy")).endswith(
        "(use --allow-extrapolation to proceed anyway)"
    )
    assert describe_error(InputError("arms[0].model", "unknown")) == "arms[0].model: unknown"
    assert all(flag.startswith("--") for flag in CLI_FLAGS.values())
    assert all(f.startswith("--") for flags in COMMAND_FLAGS.values() for f in flags.values())


def test_fit_names_its_own_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["fit", "--model", "otto", "--data", str(tmp_path / "missing.csv")]
    )
    assert result.exit_code == 2
    assert "--data (event_table): cannot read" in result.stderr
