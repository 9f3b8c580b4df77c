"""Helpers shared by CLI commands: error reporting, output formats, patients."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import ParamSpec, TypeVar

import typer

from ketasim.errors import KetasimError
from ketasim.findings import Finding

__all__ = ["OutputFormat", "fail", "handle_errors", "print_findings"]

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(StrEnum):
    """Output formats of the CLI."""

    csv = "csv"
    table = "table"
    json = "json"


def fail(message: str) -> typer.Exit:
    """Print a one-line error to stderr and return the exit (code 2) to raise."""
    print(f"ketasim: error: {message}", file=sys.stderr)
    return typer.Exit(code=2)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ketasim's deliberate errors into one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except KetasimError as exc:
            raise fail(str(exc)) from None

    return wrapper


def print_findings(findings: tuple[Finding, ...] | list[Finding]) -> None:
    """Print findings to stderr, one line each, with their severity."""
    for f in findings:
        print(f"ketasim: {f.severity}: {f.message} [{f.rule_id}; {f.source}]", file=sys.stderr)
