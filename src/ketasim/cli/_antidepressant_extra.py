"""``ketasim antidepressant --optimise`` and ``--ratings``: the CLI halves (I/O and output)."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer

from ketasim.catalogue.schema import ModelSpec
from ketasim.cli.common import OutputFormat, emit_frame, time_grid
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pk import Regimen
from ketasim.units import parse_duration_min, parse_quantity

__all__ = ["read_ratings", "run_forecast", "run_optimise"]


def read_ratings(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CSV ``time_h,madrs`` (hours after the first session; a rating at 0 is the baseline)."""
    if not path.is_file():
        raise InputError("--ratings", f"no such file: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cols = set(rows[0]) if rows else set()
    if "phq9" in cols and "madrs" not in cols:
        raise InputError(
            "--ratings",
            "PHQ-9 ratings are not accepted: the only MADRS-PHQ-9 "
            "crosswalk found (Kim et al. J Affect Disord 2024, OPTIMUM) is for "
            "aggregate data and its table was not read; give columns time_h,madrs",
        )
    if not {"time_h", "madrs"} <= cols:
        raise InputError(
            "--ratings",
            f"{path}: needs columns time_h,madrs (has {', '.join(sorted(cols)) or 'none'})",
        )
    try:
        t = np.array([float(r["time_h"]) for r in rows])
        y = np.array([float(r["madrs"]) for r in rows])
    except ValueError as exc:
        raise InputError("--ratings", f"{path}: not a number ({exc})") from None
    return t, y


def run_forecast(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    ratings: Path,
    end_h: float,
    step_h: float,
    background: str,
    output: OutputFormat,
) -> None:
    """Forecast the patient under the planned regimen (and, as the alternative, the same
    sessions without any further session after the last rating)."""
    import pandas as pd

    from ketasim.pd.antidepressant_forecast import exposure_of, forecast_from_ratings

    t, y = read_ratings(ratings)
    times = time_grid(end_h, step_h)
    horizon = float(max(times.max(), t.max()))
    planned = exposure_of(model, patient, regimen, horizon, allow_extrapolation=True)
    given = Regimen(tuple(d for d in regimen if d.time_min / 60.0 <= t.max()))
    schedules = {"planned": planned}
    if len(given) and len(given) < len(regimen):
        schedules["stop_now"] = exposure_of(
            model, patient, given, horizon, allow_extrapolation=True
        )
    fc = forecast_from_ratings(t, y, planned, times, schedules=schedules, background=background)  # type: ignore[arg-type]
    frames = []
    for name, s in fc.schedules.items():
        frames.append(
            pd.DataFrame(
                {
                    "schedule": name,
                    "time_h": s.times_h,
                    "time_d": s.times_h / 24.0,
                    "madrs_forecast": s.map_madrs,
                    "madrs_median": s.median_madrs,
                    "madrs_p5": s.low_madrs,
                    "madrs_p95": s.high_madrs,
                    "rating_p5": s.rating_low,
                    "rating_p95": s.rating_high,
                    "population_madrs": s.population_madrs,
                    "response_probability": s.response_probability,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    print(
        f"ketasim: info: MAP baseline {fc.baseline_madrs:.1f}, eta_placebo "
        f"{fc.eta_placebo:+.2f}, eta_drug {fc.eta_drug:+.2f} (from {t.size} ratings)",
        file=sys.stderr,
    )
    if output is OutputFormat.csv:
        sys.stdout.write(frame.to_csv(index=False, float_format="%.6g"))
    elif output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "baseline_madrs": fc.baseline_madrs,
                    "eta_placebo": fc.eta_placebo,
                    "eta_drug": fc.eta_drug,
                    "posterior_sd": fc.posterior_sd.tolist(),
                    "empirical": True,
                    "rows": frame.to_dict(orient="records"),
                }
            )
        )
    else:
        emit_frame(frame, OutputFormat.table, "Forecast from the patient's ratings (EMPIRICAL)")


def run_optimise(
    model: ModelSpec,
    patient: Patient,
    dose: str,
    route: str,
    over: str | None,
    doses: str | None,
    max_dose: float | None,
    max_sessions_per_week: int,
    max_sbp_rise: float | None,
    background: str,
    baseline: float | None,
    remission_cutoff: float,
    output: OutputFormat,
) -> None:
    """Rank candidate courses and print them."""
    import pandas as pd

    from ketasim.pd.antidepressant_optimise import rank_courses

    q = parse_quantity(dose, field="--dose")
    values = [q.value]
    if doses is not None:
        try:
            values = [float(x) for x in doses.split(",") if x.strip()]
        except ValueError:
            raise InputError(
                "--doses", f"{doses!r} is not a comma-separated list of numbers"
            ) from None
    over_min = parse_duration_min(over, field="--over") if over else 0.0
    ranked = rank_courses(
        model,
        patient,
        doses=values,
        dose_unit=q.unit,
        route=route,
        over_min=over_min,
        max_dose=max_dose,
        max_sessions_per_week=max_sessions_per_week,
        max_sbp_rise_mmhg=max_sbp_rise,
        background=background,  # type: ignore[arg-type]
        baseline_madrs=baseline,
        remission_cutoff=remission_cutoff,
    )
    rows = []
    for rank, r in enumerate(ranked, 1):
        rows.append(
            {
                "rank": rank if r.feasible else None,
                "course": r.candidate.label,
                "sessions": r.sessions,
                "response_day28": r.response_day28,
                "response_day56": r.response_day56,
                "response_day84": r.response_day84,
                "remission_day28": r.remission_day28,
                "madrs_day28_p5": r.madrs_day28_band[0],
                "madrs_day28_p50": r.madrs_day28_band[1],
                "madrs_day28_p95": r.madrs_day28_band[2],
                "madrs_day84_p5": r.madrs_day84_band[0],
                "madrs_day84_p95": r.madrs_day84_band[2],
                "peak_sbp_rise_mmhg": r.peak_sbp_rise_mmhg,
                "feasible": r.feasible,
                "excluded_because": r.reason,
            }
        )
    frame = pd.DataFrame(rows)
    if output is OutputFormat.csv:
        sys.stdout.write(frame.to_csv(index=False, float_format="%.4g"))
    elif output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "empirical": True,
                    "pk_model": model.id,
                    "candidates": [asdict(r.candidate) for r in ranked],
                    "rows": rows,
                },
                default=str,
            )
        )
    else:
        emit_frame(frame, OutputFormat.table, "Candidate courses (EMPIRICAL model)")
