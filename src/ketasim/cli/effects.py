"""``ketasim effects``: a PD model joined to a PK model through the PD paper's effect site.

``ketasim effects --model domino --pd schuttler --weight 70 --dose "2 mg/kg" --over 1min``
prints time, effect-site concentrations and each endpoint (value, or Ce/C50 where the paper's
Hill coefficient was not found). ``ketasim effects --list`` lists the PD models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ketasim.catalogue import resolve_model
from ketasim.cli.common import (
    OutputFormat,
    emit_frame,
    handle_errors,
    print_findings,
    time_grid,
)
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd import available_pd_models, pd_ke0_per_min, resolve_pd_model, simulate_effects
from ketasim.regimens import parse_regimen
from ketasim.units import parse_duration_min


def _list(output: OutputFormat) -> None:
    rows = [
        {
            "id": m.id,
            "title": m.title,
            "drug": m.drug,
            "empirical": m.empirical,
            "ke0_per_min": pd_ke0_per_min(m),
            "endpoints": [e.name for e in m.endpoints],
            "recommended_pk_models": m.recommended_pk_models,
            "citation": m.citation.text,
            "doi": m.citation.doi,
            "pmid": m.citation.pmid,
        }
        for m in available_pd_models()
    ]
    if output is OutputFormat.json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title="PD models")
    for col in ("id", "drug", "ke0 (1/min)", "endpoints", "pair with"):
        table.add_column(col)
    for r in rows:
        ke0 = r["ke0_per_min"]
        table.add_row(
            str(r["id"]),
            str(r["drug"]),
            "not found" if ke0 is None else f"{ke0:.4g}",
            ", ".join(r["endpoints"]),  # type: ignore[arg-type]
            ", ".join(r["recommended_pk_models"]),  # type: ignore[arg-type]
        )
    Console(width=200).print(table)


@handle_errors
def effects_command(
    pd: Annotated[
        str | None, typer.Option("--pd", help="PD model id or short name (see --list)")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="PK model")] = None,
    weight: Annotated[float | None, typer.Option("--weight", help="body weight (kg)")] = None,
    age: Annotated[float | None, typer.Option("--age", help="age (years)")] = None,
    height: Annotated[float | None, typer.Option("--height", help="height (cm)")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="female or male")] = None,
    dose: Annotated[str | None, typer.Option("--dose", help="e.g. '0.5 mg/kg'")] = None,
    over: Annotated[
        str | None, typer.Option("--over", help="infusion duration, e.g. 40min")
    ] = None,
    route: Annotated[str, typer.Option("--route", help="iv, intranasal, ...")] = "iv",
    repeat: Annotated[str | None, typer.Option("--repeat", help="e.g. 'every 12h x 4'")] = None,
    until: Annotated[str, typer.Option("--until", help="end of output, e.g. 4h")] = "4h",
    every: Annotated[str, typer.Option("--every", help="output interval, e.g. 5min")] = "5min",
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="csv, table or json")
    ] = OutputFormat.csv,
    allow_extrapolation: Annotated[bool, typer.Option("--allow-extrapolation")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a figure (PNG)")] = None,
    list_models: Annotated[bool, typer.Option("--list", help="list the PD models")] = False,
) -> None:
    """Effects over time: effect-site concentrations (ng/mL) and PD endpoints."""
    if list_models:
        _list(output)
        return
    if pd is None:
        raise InputError("--pd", "required (see ketasim effects --list)")
    if model is None:
        raise InputError("--model", "required (a PK model, e.g. domino, otto, herd)")
    if dose is None:
        raise InputError("--dose", "required, e.g. '0.5 mg/kg'")
    if weight is None:
        raise InputError("--weight", "required (kg)")
    sex_value = None
    if sex is not None:
        key = sex.strip().lower()
        if key not in ("f", "female", "m", "male"):
            raise InputError("--sex", f"{sex!r} is not one of female, male")
        sex_value = "female" if key.startswith("f") else "male"
    patient = Patient(weight_kg=weight, age_years=age, height_cm=height, sex=sex_value)  # type: ignore[arg-type]
    pd_model = resolve_pd_model(pd)
    m = resolve_model(model)
    regimen = parse_regimen(dose, route=route, over=over, repeat=repeat)
    times = time_grid(
        parse_duration_min(until, field="--until"), parse_duration_min(every, field="--every")
    )
    _, res = simulate_effects(
        pd_model, m, patient, regimen, times_min=times, allow_extrapolation=allow_extrapolation
    )
    print_findings(res.findings)
    frame = res.to_dataframe()
    if output is OutputFormat.csv:
        sys.stdout.write(frame.to_csv(index=False, float_format="%.6g"))
    elif output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "pd_model": pd_model.id,
                    "pk_model": m.id,
                    "citation": pd_model.citation.text,
                    "ke0_per_min": res.ke0_per_min,
                    "endpoints": {
                        k: {
                            "unit": e.unit,
                            "description": e.description,
                            "c50_ng_per_ml": e.c50_ng_per_ml,
                        }
                        for k, e in res.endpoints.items()
                    },
                    "findings": [
                        {
                            "rule_id": f.rule_id,
                            "severity": f.severity,
                            "message": f.message,
                            "source": f.source,
                        }
                        for f in res.findings
                    ],
                    "rows": frame.to_dict(orient="records"),
                }
            )
        )
    else:
        emit_frame(frame, OutputFormat.table, f"{pd_model.title} with {m.id}")
    if plot is not None:
        from ketasim.report.pd_plots import plot_effects

        plot_effects(res, plot)
        print(f"ketasim: wrote {plot}", file=sys.stderr)


@handle_errors
def calibration_command(
    which: Annotated[str, typer.Argument(help="antidepressant or cardiovascular")],
    refit: Annotated[
        bool,
        typer.Option(
            "--refit", help="refit now (about 30 s) instead of showing the stored parameters' fit"
        ),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table or json")
    ] = OutputFormat.table,
) -> None:
    """Print the calibration of an empirical PD model: predicted vs published, with errors."""
    if which == "cardiovascular":
        from ketasim.pd.calibration.fit_cardiovascular import main as cv_report

        cv_report()
        return
    if which != "antidepressant":
        raise InputError("WHICH", f"{which!r} is not one of: antidepressant, cardiovascular")
    from ketasim.pd.antidepressant import default_antidepressant_params
    from ketasim.pd.calibration.antidepressant_fit import (
        calibration_points,
        fit_antidepressant,
        leave_one_study_out,
        profile_intervals,
        summarise,
    )
    from ketasim.pd.calibration.antidepressant_report import (
        fit_report,
        interval_rows,
        point_rows,
        stored_calibration,
    )

    if refit:
        result = fit_antidepressant()
        loso, profile = leave_one_study_out(result), profile_intervals(result)
    else:
        result = summarise(default_antidepressant_params())
        loso, profile = stored_calibration()
    test = summarise(result.params, calibration_points("test"))
    if output is OutputFormat.json:
        from dataclasses import asdict

        typer.echo(
            json.dumps(
                {
                    "model": "ketasim empirical antidepressant response (not a published model)",
                    "parameters": asdict(result.params),
                    "rmse_madrs_points": result.rmse_madrs_points,
                    "rmse_response_pct_points": result.rmse_response_pct_points,
                    "weighted_chi2": result.chi2,
                    "points": point_rows(result),
                    "leave_one_study_out": [asdict(e) for e in loso],
                    "profile_intervals": [asdict(p) for p in profile],
                    "test": point_rows(test),
                    "test_new_trial_intervals": interval_rows(result.params, test),
                }
            )
        )
    else:
        typer.echo(fit_report(result, loso=loso, profile=profile, test=test))


def register(root: typer.Typer) -> None:
    """Add ``ketasim effects`` and ``ketasim calibration`` (``ketasim antidepressant``: see
    :mod:`ketasim.cli.antidepressant`)."""
    root.command("effects")(effects_command)
    root.command("calibration")(calibration_command)
