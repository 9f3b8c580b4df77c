"""The console script skips the interpreter's teardown only after a command asked for it and
succeeded (``ketasim.cli._exit``); ``ketasim trial`` asks, and its files are then complete."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ketasim.cli import _exit, app

ROOT = Path(__file__).resolve().parents[2]


class _ExitedError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def fake_exit(code: int) -> None:
        calls.append(code)
        raise _ExitedError(code)

    monkeypatch.setattr(_exit.os, "_exit", fake_exit)
    return calls


def _app(request: bool, code: int | None) -> object:
    def run() -> None:
        if request:
            _exit.request_fast_exit()
        raise SystemExit(code)

    return run


class _Buffered(io.StringIO):
    flushed = 0

    def flush(self) -> None:
        self.flushed += 1


def test_a_requested_successful_exit_flushes_then_skips_teardown(
    exits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, err = _Buffered(), _Buffered()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(_ExitedError):
        _exit.run_app(_app(True, 0))  # type: ignore[arg-type]
    assert exits == [0]
    assert out.flushed and err.flushed


@pytest.mark.parametrize(("request_it", "code"), [(True, 2), (True, 1), (False, 0)])
def test_failures_and_unrequested_exits_are_left_alone(
    exits: list[int], request_it: bool, code: int
) -> None:
    with pytest.raises(SystemExit) as stop:
        _exit.run_app(_app(request_it, code))  # type: ignore[arg-type]
    assert stop.value.code == code
    assert exits == []


def test_a_request_does_not_outlive_its_command(exits: list[int]) -> None:
    _exit.request_fast_exit()  # e.g. a trial run in-process through CliRunner earlier
    with pytest.raises(SystemExit):
        _exit.run_app(_app(False, 0))  # type: ignore[arg-type]
    assert exits == []


SPEC = ROOT / "examples" / "trials" / "domino-1e6.toml"  # run with --n 300


def test_trial_through_the_console_entry_writes_the_same_complete_files(tmp_path: Path) -> None:
    script = tmp_path / "out-script"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    code = "import sys; from ketasim.cli import main; sys.argv[0] = 'ketasim'; main()"
    args = ["trial", str(SPEC), "--out", str(script), "--n", "300", "--scheduler", "local:2"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 7 files" in done.stderr  # flushed before the process ended
    inproc = tmp_path / "out-inproc"
    result = CliRunner().invoke(app, ["trial", str(SPEC), "--out", str(inproc), "--n", "300", "-q"])
    assert result.exit_code == 0, result.output
    for name in ("bands.csv", "endpoints.csv"):
        assert (script / name).read_bytes() == (inproc / name).read_bytes()
    for name in ("bands.parquet", "endpoints.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(script / name), pd.read_parquet(inproc / name)
        )
    assert json.loads((script / "run.json").read_text())["seed"] == 20261124
    assert (script / "bands.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failing_trial_still_reports_its_error_and_code(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    code = "import sys; from ketasim.cli import main; sys.argv[0] = 'ketasim'; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "trial", str(SPEC), "--out", str(tmp_path / "o"), "--n", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "--n" in done.stderr
