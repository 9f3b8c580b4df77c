"""The command line starts without the numerical stack (benchmarks/bench_startup.py times it),
and its fast paths print exactly what the typer commands print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketasim.cli._fast import ListingOptions, installed_version, parse_listing, run_fast

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


# the fast paths answer before the typer application is built (typer 0.29 imports pydantic
# to build its options); the table output needs rich, json and csv do not
FAST = (*HEAVY, "typer", "pydantic", "ketasim.cli._app")


@pytest.mark.parametrize(
    ("args", "heavy"),
    [
        (["--version"], (*FAST, "rich")),
        (["models"], FAST),
        (["models", "--output", "csv"], (*FAST, "rich")),
        (["models", "--drug", "racemic", "--weight=70", "-o", "json"], (*FAST, "rich")),
        (["models", "--help"], HEAVY),  # not a fast path: typer, still no numerical stack
    ],
)
def test_start_up_commands_import_no_heavy_module(args: list[str], heavy: tuple[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=heavy)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip(), "the command printed nothing"
    assert done.stderr.strip().splitlines()[-1] == "LOADED:"


LISTINGS = [
    [],
    ["-o", "json"],
    ["--output=csv"],
    ["--drug", "esketamine", "--route", "intranasal"],
    ["--route", "iv", "--weight", "70", "--age", "40"],
    ["--weight=20", "--age", "8.", "-o", "json"],
    ["--weight", "70", "--population", "ICU", "-o", "csv"],
    ["--population", "any", "--age", "1e1"],
    ["--drug", "R-ketamine", "--weight", "+70.0", "--output", "table"],
    ["--route", "nowhere"],  # nothing matches: a message on stderr
]


@pytest.fixture()
def cards_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETASIM_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("args", LISTINGS, ids=lambda a: " ".join(a) or "(none)")
def test_the_fast_listing_prints_what_the_typer_command_prints(
    args: list[str], cards_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ketasim.cli import app

    assert run_fast(["models", *args]) is True
    fast = capsys.readouterr()
    typed = CliRunner().invoke(app, ["models", *args])
    assert typed.exit_code == 0
    assert fast.out == typed.stdout
    assert fast.err == typed.stderr
    assert fast.out or fast.err


def test_the_fast_version_prints_what_the_typer_option_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ketasim.cli import app

    assert run_fast(["--version"]) is True
    typed = CliRunner().invoke(app, ["--version"])
    assert typed.exit_code == 0 and capsys.readouterr().out == typed.stdout
    from importlib.metadata import version

    assert typed.stdout == f"ketasim {version('ketasim')}\n" == f"ketasim {installed_version()}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["models", "--help"],
        ["models", "show", "domino"],
        ["models", "-ojson"],
        ["models", "-o=json"],
        ["models", "-o", "xml"],
        ["models", "--drug", "racemic", "--drug", "S-ketamine"],
        ["models", "--weight", "7_0"],
        ["models", "--weight", "nan"],
        ["models", "--weight", "-5"],
        ["models", "--drug"],
        ["models", "--unknown", "1"],
        ["--version", "models"],
        ["simulate"],
        [],
    ],
)
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    if args[:1] == ["models"]:
        assert parse_listing(args[1:]) is None
    assert run_fast(args) is False


def test_refused_filters_are_left_to_typer(cards_cache: Path) -> None:
    # parsed, but the selection refuses them: typer's command prints the error (exit code 2)
    assert parse_listing(["--weight", "0"]) == ListingOptions(weight=0.0)
    assert run_fast(["models", "--weight", "0"]) is False
    assert run_fast(["models", "--population", "bogus"]) is False


def test_every_command_is_still_listed() -> None:
    from typer.testing import CliRunner

    from ketasim.cli import app

    out = CliRunner().invoke(app, ["--help"]).output
    for name in ("simulate", "trial", "fit", "models", "effects", "antidepressant", "tci"):
        assert name in out
