"""``ketasim antidepressant``: the EMPIRICAL MADRS model over a course (and the dosing question).

``ketasim antidepressant --model domino --weight 70 --dose "0.5 mg/kg" --over 40min
--repeat "every 84h x 8"`` prints time, mean MADRS change, the placebo-arm change (same sessions
without drug), response, remission and relapse probabilities. ``--placebo`` simulates the
sessions without drug; ``--optimise`` ranks candidate courses; ``--ratings FILE`` forecasts one
patient from their own MADRS ratings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ketasim.catalogue import resolve_model
from ketasim.cli.common import OutputFormat, emit_frame, handle_errors, time_grid
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.regimens import parse_regimen
from ketasim.units import parse_duration_min

_INFO = (
    "ketasim: info: EMPIRICAL antidepressant model calibrated to trial summaries (not a "
    "published PK/PD model); see ketasim calibration antidepressant"
)


def _course_frame(course: object) -> object:
    import pandas as pd

    from ketasim.pd.antidepressant import AntidepressantCourse

    assert isinstance(course, AntidepressantCourse)
    return pd.DataFrame(
        {
            "time_h": course.times_h,
            "time_d": course.times_h / 24.0,
            "madrs_change": course.madrs_change,
            "placebo_part": course.placebo_change,
            "drug_effect_fraction": -np.expm1(-course.drug_part),
            "response_probability": course.response_probability,
            "remission_probability": course.remission_probability,
            "placebo_change": course.placebo_change,
            "drug_change": course.drug_change,
            "relapse_probability": course.relapse_probability,
        }
    )


@handle_errors
def antidepressant_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="PK model (domino, perez-ruixo, ...)")
    ] = None,
    dose: Annotated[str | None, typer.Option("--dose", help="e.g. '0.5 mg/kg' or '84 mg'")] = None,
    weight: Annotated[float | None, typer.Option("--weight", help="body weight (kg)")] = None,
    age: Annotated[float | None, typer.Option("--age", help="age (years)")] = None,
    over: Annotated[
        str | None, typer.Option("--over", help="infusion duration, e.g. 40min")
    ] = None,
    route: Annotated[str, typer.Option("--route", help="iv, intranasal, ...")] = "iv",
    repeat: Annotated[str | None, typer.Option("--repeat", help="e.g. 'every 84h x 8'")] = None,
    until: Annotated[str, typer.Option("--until", help="end of output, e.g. 28d")] = "28d",
    every: Annotated[str, typer.Option("--every", help="output interval, e.g. 1d")] = "1d",
    background: Annotated[
        str,
        typer.Option(
            "--background",
            help="continuing (stable oral antidepressant) or new_oral_ad (started with the course)",
        ),
    ] = "continuing",
    baseline: Annotated[
        float | None, typer.Option("--baseline", help="baseline MADRS (default: typical 36.7)")
    ] = None,
    remission_cutoff: Annotated[
        float,
        typer.Option(
            "--remission-cutoff", help="remission = MADRS <= this (10; 12 in the esketamine trials)"
        ),
    ] = 10.0,
    placebo: Annotated[
        bool, typer.Option("--placebo", help="the same sessions without drug")
    ] = False,
    optimise: Annotated[
        bool,
        typer.Option(
            "--optimise",
            help="rank candidate courses (see --max-dose, --max-sessions-per-week, --max-sbp-rise)",
        ),
    ] = False,
    doses: Annotated[
        str | None,
        typer.Option(
            "--doses", help="--optimise: candidate doses, e.g. '0.5,0.75,1.0' (unit of --dose)"
        ),
    ] = None,
    max_dose: Annotated[
        float | None, typer.Option("--max-dose", help="--optimise: highest dose (unit of --dose)")
    ] = None,
    max_sessions_per_week: Annotated[
        int,
        typer.Option(
            "--max-sessions-per-week", help="--optimise: at most this many sessions a week"
        ),
    ] = 3,
    max_sbp_rise: Annotated[
        float | None,
        typer.Option(
            "--max-sbp-rise",
            help="--optimise: largest acceptable peak systolic BP rise (mmHg) "
            "from the cardiovascular model",
        ),
    ] = None,
    ratings: Annotated[
        Path | None,
        typer.Option(
            "--ratings", help="CSV time_h,madrs of this patient: forecast the coming weeks"
        ),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="csv, table or json")
    ] = OutputFormat.csv,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a figure (PNG)")] = None,
    allow_extrapolation: Annotated[bool, typer.Option("--allow-extrapolation")] = False,
) -> None:
    """MADRS change, placebo-arm change, response/remission/relapse probabilities over days: an
    EMPIRICAL model calibrated to trial summaries (see ketasim calibration antidepressant)."""
    from ketasim.pd.antidepressant import simulate_antidepressant_course

    if background not in ("continuing", "new_oral_ad"):
        raise InputError("--background", f"{background!r} is not one of continuing, new_oral_ad")
    if model is None:
        raise InputError("--model", "required (a PK model, e.g. domino, perez-ruixo)")
    if dose is None:
        raise InputError("--dose", "required, e.g. '0.5 mg/kg' or '84 mg'")
    if weight is None:
        raise InputError("--weight", "required (kg)")
    m = resolve_model(model)
    patient = Patient(weight_kg=weight, age_years=age)
    from ketasim.pd.antidepressant_population_range import check_antidepressant_age

    for f in check_antidepressant_age(age, allow=allow_extrapolation):
        print(f"ketasim: warning: {f.message}", file=sys.stderr)
    print(_INFO, file=sys.stderr)
    if "esketamine" in m.analyte_names and not placebo:
        from ketasim.pd.calibration.antidepressant_test_gap import esketamine_test_caution

        caution = esketamine_test_caution()
        if caution is not None:
            print(f"ketasim: warning: {caution}", file=sys.stderr)
    if optimise:
        from ketasim.cli._antidepressant_extra import run_optimise

        run_optimise(
            m,
            patient,
            dose,
            route,
            over,
            doses,
            max_dose,
            max_sessions_per_week,
            max_sbp_rise,
            background,
            baseline,
            remission_cutoff,
            output,
        )
        return
    regimen = parse_regimen(dose, route=route, over=over, repeat=repeat)
    end_h = parse_duration_min(until, field="--until") / 60.0
    step_h = parse_duration_min(every, field="--every") / 60.0
    if ratings is not None:
        from ketasim.cli._antidepressant_extra import run_forecast

        run_forecast(m, patient, regimen, ratings, end_h, step_h, background, output)
        return
    times = time_grid(end_h, step_h)
    course = simulate_antidepressant_course(
        m,
        patient,
        regimen,
        times,
        background=background,  # type: ignore[arg-type]
        baseline_madrs=baseline,
        remission_cutoff=remission_cutoff,
        placebo=placebo,
        allow_extrapolation=allow_extrapolation,
    )
    frame = _course_frame(course)
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    if output is OutputFormat.csv:
        sys.stdout.write(frame.to_csv(index=False, float_format="%.6g"))
    elif output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "model": "ketasim empirical antidepressant response",
                    "empirical": True,
                    "pk_model": m.id,
                    "placebo": placebo,
                    "baseline_madrs": course.baseline_madrs,
                    "remission_cutoff": course.remission_cutoff,
                    "end_of_course_h": course.end_of_course_h,
                    "rows": frame.to_dict(orient="records"),
                }
            )
        )
    else:
        emit_frame(
            frame,
            OutputFormat.table,
            "Empirical antidepressant course with "
            f"{m.id}{' (placebo: no drug)' if placebo else ''}",
        )
    if plot is not None:
        from ketasim.report.pd_plots import plot_antidepressant_course

        plot_antidepressant_course(course, plot)
        print(f"ketasim: wrote {plot}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    """Add ``ketasim antidepressant``."""
    root.command("antidepressant")(antidepressant_command)
