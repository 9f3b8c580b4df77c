"""Helpers shared by CLI commands: error reporting, output formats, patients."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ketasim.errors import DataFileError, InputError, KetasimError, ModelNotFoundError, RangeError
from ketasim.findings import Finding
from ketasim.patient import Patient

if TYPE_CHECKING:  # numpy, pandas and the event-table reader load with the commands using them
    import numpy as np
    import pandas as pd

    from ketasim.io import Individual

__all__ = [
    "CLI_FLAGS",
    "COMMAND_FLAGS",
    "OutputFormat",
    "describe_error",
    "emit_frame",
    "fail",
    "handle_errors",
    "patient_for_individual",
    "patient_from_options",
    "print_findings",
    "time_grid",
]

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(StrEnum):
    """Output formats of the CLI."""

    csv = "csv"
    table = "table"
    json = "json"


CLI_FLAGS: dict[str, str] = {
    "weight_kg": "--weight",
    "population": "--population",
    "age_years": "--age",
    "height_cm": "--height",
    "sex": "--sex",
    "ke0_per_min": "--ke0",
    "tpeak_min": "--tpeak",
    "duration_min": "--over",
    "route": "--route",
    "dose": "--dose",
    "repeat": "--repeat",
    "model": "--model",
    "models": "--models",
    "pd_model": "--pd",
    "drug": "--drug",
    "site": "--site",
    "targets": "--target",
    "target": "--target",
    "mode": "--manual",
    "max_changes": "--max-changes",
    "rate_step_ml_per_h": "--rate-step",
    "time_step_min": "--time-step",
    "bolus_step_mg": "--bolus-step",
    "settle_min": "--settle",
    "max_overshoot_percent": "--max-overshoot",
    "loading_bolus": "--loading-bolus",
    "syringe_mg_per_ml": "--syringe",
    "max_rate_ml_per_h": "--max-rate",
    "update_interval_s": "--update-interval",
    "plan_duration_min": "--duration",
    "n_patients": "--patients",
    "protocol": "--protocol",
    "weeks": "--weeks",
    "scheduler": "--scheduler",
    "individuals": "--individuals",
    "rules": "--rules",
    "n_samples": "--samples",
    "patient": "--patient",
    "bp_threshold_mmhg": "--bp-threshold",
    "concentration_ng_per_ml": "--concentration",
    "max_sbp_rise_mmhg": "--max-sbp-rise",
    "doses_mg": "--doses",
    "max_sessions_per_week": "--max-sessions-per-week",
    "residual_error": "--residual-error",
    "event_table": "--events",
    "time_unit": "--time-unit",
    "amount_unit": "--amount-unit",
    "dv_unit": "--dv-unit",
    "target_analyte": "--target-analyte",
}
"""Domain field -> command-line flag: the one table where a domain error meets the door."""

COMMAND_FLAGS: dict[str, dict[str, str]] = {
    "fit": {"event_table": "--data"},
}
"""Where one command names a domain field by another flag than :data:`CLI_FLAGS` does."""


def describe_error(exc: KetasimError, command: str | None = None) -> str:
    """One line for ``exc``, naming the command line's flag for a domain field (the flag of
    ``command`` where it differs, :data:`COMMAND_FLAGS`)."""
    if isinstance(exc, InputError | ModelNotFoundError) and not isinstance(exc, DataFileError):
        flag = COMMAND_FLAGS.get(command or "", {}).get(exc.field) or CLI_FLAGS.get(exc.field)
        if flag is not None:
            text = f"{flag} ({exc.field}): {exc.message}"
            if isinstance(exc, RangeError):
                text += " (use --allow-extrapolation to proceed anyway)"
            return text
        if isinstance(exc, ModelNotFoundError):
            return f"{exc.field}: {exc.message}"
    return str(exc)


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
            command = getattr(func, "__name__", "").removesuffix("_command")
            raise fail(describe_error(exc, command)) from None

    return wrapper


def print_findings(findings: tuple[Finding, ...] | list[Finding]) -> None:
    """Print findings to stderr, one line each, with their severity."""
    for f in findings:
        flag = CLI_FLAGS.get(f.field or "")
        message = f"{flag}: {f.message}" if flag else f.message
        print(f"ketasim: {f.severity}: {message} [{f.rule_id}; {f.source}]", file=sys.stderr)


def time_grid(until_min: float, every_min: float) -> np.ndarray:
    """Output times 0, every, 2 every, ... up to and including ``until_min`` (min)."""
    import numpy as np

    if every_min <= 0:
        raise InputError("--every", f"{every_min:g} min must be > 0")
    if until_min <= 0:
        raise InputError("--until", f"{until_min:g} min must be > 0")
    count = int(np.floor(until_min / every_min + 1e-9)) + 1
    if count > 5_000_000:
        raise InputError(
            "--every",
            f"{count} output times; accepted at most 5,000,000 "
            "(use a coarser --every or a shorter --until)",
        )
    return np.arange(count) * every_min


def patient_from_options(
    weight: float | None,
    age: float | None,
    height: float | None,
    sex: str | None,
    covariates: dict[str, float] | None = None,
) -> Patient:
    """A :class:`Patient` from CLI options (weight kg, age years, height cm, sex)."""
    if weight is None:
        raise InputError("--weight", "required (kg)")
    sex_value: Literal["female", "male"] | None = None
    if sex is not None:
        key = sex.strip().lower()
        if key in ("f", "female"):
            sex_value = "female"
        elif key in ("m", "male"):
            sex_value = "male"
        else:
            raise InputError("--sex", f"{sex!r} is not one of female, male")
    return Patient(
        weight_kg=weight, age_years=age, height_cm=height, sex=sex_value, extra=covariates or {}
    )


def emit_frame(frame: pd.DataFrame, output: OutputFormat, title: str) -> None:
    """Print a table as CSV, JSON records or a rich table on stdout."""
    if output is OutputFormat.csv:
        sys.stdout.write(frame.to_csv(index=False, float_format="%.6g"))
    elif output is OutputFormat.json:
        typer.echo(json.dumps(frame.to_dict(orient="records")))
    else:
        table = Table(title=title)
        for col in frame.columns:
            table.add_column(col.replace("_ng_per_ml", " (ng/mL)"), justify="right")
        for row in frame.itertuples(index=False):
            table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
        Console(width=200).print(table)


def patient_for_individual(
    ind: Individual, weight: float | None, age: float | None, height: float | None, sex: str | None
) -> Patient:
    """The patient of one event-table ID: its WT/AGE/HT/FEMALE columns, else the CLI options."""
    cov = dict(ind.covariates)
    w = cov.pop("WT", weight)
    a = cov.pop("AGE", age)
    h = cov.pop("HT", height)
    female = cov.pop("FEMALE", None)
    s = sex if female is None else ("female" if female == 1 else "male")
    try:
        return patient_from_options(w, a, h, s, cov)
    except InputError as exc:
        raise InputError(f"ID {ind.id}", str(exc)) from None
