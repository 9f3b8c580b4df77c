"""``ketasim fit``: Bayesian (MAP) individualisation from measured levels."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import ModelSpec
from ketasim.cli.common import (
    OutputFormat,
    handle_errors,
    patient_for_individual,
    print_findings,
)
from ketasim.errors import InputError
from ketasim.estimation import (
    DoseRecommendation,
    FitPart,
    IndividualFit,
    fit_individual,
    parse_residual_error,
    recommend_infusion_rate,
)
from ketasim.io import Individual, individual_inputs, individual_parts, read_event_table
from ketasim.patient import Patient
from ketasim.pk import LinearSystem, build_system
from ketasim.units import parse_quantity, to_internal

_AUC_RE = re.compile(
    r"^\s*auc\s+(?P<value>[0-9.eE+-]+)\s*(?P<mass>ng|ug|mg)\s*[*.·]?\s*"
    r"(?P<time>h|min)\s*/\s*(?P<vol>mL|L)\s*$",
    re.I,
)


def _target(text: str) -> tuple[str, float]:
    """``'1 ug/mL'`` -> ("rate", ng/mL); ``'AUC 2000 ng*h/mL'`` -> ("dose", ng.h/mL)."""
    match = _AUC_RE.match(text)
    if match:
        mass = {"ng": 1e-6, "ug": 1e-3, "mg": 1.0}[match.group("mass").lower()]
        time_h = 1.0 if match.group("time").lower() == "h" else 1.0 / 60.0
        vol_ml = 1.0 if match.group("vol") == "mL" else 1000.0
        return "dose", float(match.group("value")) * mass * 1e6 * time_h / vol_ml
    q = parse_quantity(text, field="--target", expect="concentration")
    return "rate", q.to_internal() * 1000.0


def _part_inputs(model: ModelSpec, ind: Individual, typical: LinearSystem) -> Any:
    """The doses of ``ind`` as inputs, or as a function of the system when a route's
    bioavailability, lag or duration carries a random effect."""
    compartments = [c.name for c in model.compartments]
    constant = all(
        not (expr.names - {"DOSE_MG"})
        for inputs in typical.routes.values()
        for inp in inputs
        for expr in (inp.fraction, inp.lag, inp.duration)
        if expr is not None
    )
    if constant:
        return individual_inputs(typical, ind, compartments=compartments)

    def inputs(system: LinearSystem) -> Any:
        return individual_inputs(system, ind, compartments=compartments)

    return inputs


def _fit_one(
    model: ModelSpec,
    ind: Individual,
    patient_of: Callable[[Individual], Patient],
    residual: str | None,
    allow_extrapolation: bool,
) -> IndividualFit:
    """Fit one ID; covariates are read per record (a value holds from its record on) and an
    OCC column gives the occasions of a model with inter-occasion variability."""
    split = individual_parts(ind)
    residual_model = parse_residual_error(residual) if residual else None
    if len(split) == 1 and (split[0].occasion is None or not model.iov):
        patient = patient_of(ind)
        inputs = _part_inputs(model, ind, build_system(model, patient))
        return fit_individual(
            model,
            patient,
            inputs,
            ind.records,
            id=ind.id,
            residual_error=residual_model,
            allow_extrapolation=allow_extrapolation,
        )
    parts = []
    for part in split:
        patient = patient_of(part.individual)
        inputs = _part_inputs(model, part.individual, build_system(model, patient))
        parts.append(FitPart(part.start_min, patient, inputs, part.occasion if model.iov else None))
    return fit_individual(
        model,
        parts[0].patient,
        parts[0].inputs,
        ind.records,
        id=ind.id,
        residual_error=residual_model,
        allow_extrapolation=allow_extrapolation,
        parts=parts,
    )


def _rows(fit: IndividualFit, t_per_min: float, dv_per_ng: float) -> list[dict[str, Any]]:
    out = []
    for r in fit.rows:
        out.append(
            {
                "row": r.row,
                "time": r.time_min * t_per_min,
                "analyte": r.analyte,
                "evid": r.evid,
                "mdv": r.mdv,
                "dv": None if r.dv_ng_per_ml is None else r.dv_ng_per_ml * dv_per_ng,
                "pred": r.pred * dv_per_ng,
                "ipred": r.ipred * dv_per_ng,
                "ipred_p05": r.ipred_p05 * dv_per_ng,
                "ipred_p95": r.ipred_p95 * dv_per_ng,
                "iwres": r.iwres,
            }
        )
    return out


def _individual_json(
    fit: IndividualFit,
    patient: Any,
    rec: DoseRecommendation | None,
    t_per_min: float,
    dv_per_ng: float,
) -> dict[str, Any]:
    return {
        "id": fit.id,
        "covariates": patient.covariates(),
        "parameters": {
            name: {
                "value": p.value,
                "unit": p.unit,
                "typical": p.typical,
                "ci90": [p.ci90_low, p.ci90_high],
                "eta": p.eta,
                "eta_sd": p.eta_sd,
                "iiv_scale": p.scale,
            }
            for name, p in fit.parameters.items()
        },
        "residual_error": {
            a: {"description": e.describe(), "assumed": e.assumed}
            for a, e in fit.residual_errors.items()
        },
        "ofv": fit.ofv,
        "converged": fit.converged,
        "n_observations": fit.n_observations,
        "rows": _rows(fit, t_per_min, dv_per_ng),
        "recommendation": None
        if rec is None
        else {
            "kind": rec.kind,
            "analyte": rec.analyte,
            "target": rec.target,
            "target_unit": rec.target_unit,
            "value": rec.value,
            "unit": rec.unit,
            "ci90": [rec.ci90_low, rec.ci90_high],
            "typical_patient": rec.typical_value,
            "text": rec.describe(),
        },
    }


@handle_errors
def fit_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="model id or short name (e.g. otto, herd, perez-ruixo) or a model file",
        ),
    ],
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="NONMEM-style CSV: ID, TIME, AMT, RATE, "
            "CMT, EVID, DV, MDV (+ ANALYTE, covariates WT, AGE...)",
        ),
    ],
    residual_error: Annotated[
        str | None,
        typer.Option(
            "--residual-error",
            help="assumed residual error (needed where the paper gives none; "
            "replaces the published one), e.g. 'proportional 15%', 'additive 5 ng/mL' or both "
            "joined by '+'",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="recommend an IV infusion rate for a steady-state level ('1 ug/mL') "
            "or one IV dose for an exposure ('AUC 2000 ng*h/mL')",
        ),
    ] = None,
    target_analyte: Annotated[
        str | None,
        typer.Option("--target-analyte", help="analyte of --target (default: the parent drug)"),
    ] = None,
    weight: Annotated[
        float | None, typer.Option("--weight", help="weight (kg) if no WT column")
    ] = None,
    age: Annotated[float | None, typer.Option("--age", help="age (years) if no AGE column")] = None,
    height: Annotated[float | None, typer.Option("--height", help="height (cm)")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="female or male")] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="TIME unit of --data")] = "h",
    amount_unit: Annotated[str, typer.Option("--amount-unit", help="AMT unit of --data")] = "mg",
    dv_unit: Annotated[str, typer.Option("--dv-unit", help="DV unit of --data")] = "ng/mL",
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or csv")
    ] = OutputFormat.table,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a figure (PNG)")] = None,
    allow_extrapolation: Annotated[
        bool,
        typer.Option(
            "--allow-extrapolation", help="fit covariates outside the model's range, with a warning"
        ),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="write a printable PDF report of the fits (file.pdf)"),
    ] = None,
) -> None:
    """Fit each patient's parameters (MAP, priors from the model's variability) to measured
    levels; print parameters with 90% intervals and a row per record with PRED, IPRED and a
    90% band (times and levels in the file's units)."""
    m = resolve_model(model)
    if report is not None and report.suffix.lower() != ".pdf":
        raise InputError("--report", f"{report.name}: the fit report is a PDF (name it .pdf)")
    individuals = read_event_table(
        data, time_unit=time_unit, amount_unit=amount_unit, dv_unit=dv_unit
    )
    t_per_min = 1.0 / to_internal(1.0, time_unit, expect="time", field="--time-unit")[0]
    dv_per_ng = 1.0 / (
        to_internal(1.0, dv_unit, expect="concentration", field="--dv-unit")[0] * 1000.0
    )
    kind_value = _target(target) if target is not None else None
    docs: list[dict[str, Any]] = []
    fits: list[IndividualFit] = []
    for ind in individuals:
        patient = patient_for_individual(ind, weight, age, height, sex)
        fit = _fit_one(
            m,
            ind,
            lambda part: patient_for_individual(part, weight, age, height, sex),
            residual_error,
            allow_extrapolation,
        )
        rec = None
        if kind_value is not None:
            rec = recommend_infusion_rate(
                fit,
                kind_value[1],
                kind="rate" if kind_value[0] == "rate" else "dose",
                analyte=target_analyte,
            )
        fits.append(fit)
        docs.append(_individual_json(fit, patient, rec, t_per_min, dv_per_ng))
    findings = []
    seen: set[tuple[str, str]] = set()
    for fit in fits:
        for f in fit.findings:
            if (f.rule_id, f.message) not in seen:
                seen.add((f.rule_id, f.message))
                findings.append(f)
    print_findings(findings)
    if output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "model": m.id,
                    "citation": m.citation.text,
                    "time_unit": time_unit,
                    "dv_unit": dv_unit,
                    "individuals": docs,
                    "findings": [
                        {
                            "rule_id": f.rule_id,
                            "severity": f.severity,
                            "message": f.message,
                            "source": f.source,
                        }
                        for f in findings
                    ],
                }
            )
        )
    elif output is OutputFormat.csv:
        frames = []
        for doc in docs:
            frame = pd.DataFrame(doc["rows"])
            frame.insert(0, "ID", doc["id"])
            frames.append(frame)
        sys.stdout.write(
            pd.concat(frames, ignore_index=True).to_csv(index=False, float_format="%.6g")
        )
    else:
        console = Console(width=200)
        for doc in docs:
            table = Table(title=f"ID {doc['id']}: {m.id} MAP parameters (90% interval)")
            for col in ("parameter", "value", "unit", "90% interval", "typical"):
                table.add_column(col, justify="right")
            for name, p in doc["parameters"].items():
                table.add_row(
                    name,
                    f"{p['value']:.4g}",
                    p["unit"],
                    f"{p['ci90'][0]:.4g} to {p['ci90'][1]:.4g}",
                    f"{p['typical']:.4g}",
                )
            console.print(table)
            rows = Table(title=f"ID {doc['id']}: predictions ({time_unit}, {dv_unit})")
            for col in ("row", "time", "analyte", "dv", "mdv", "pred", "ipred", "90% band"):
                rows.add_column(col, justify="right")
            for r in doc["rows"]:
                rows.add_row(
                    str(r["row"]),
                    f"{r['time']:.4g}",
                    r["analyte"],
                    "." if r["dv"] is None else f"{r['dv']:.4g}",
                    str(r["mdv"]),
                    f"{r['pred']:.4g}",
                    f"{r['ipred']:.4g}",
                    f"{r['ipred_p05']:.4g} to {r['ipred_p95']:.4g}",
                )
            console.print(rows)
            if doc["recommendation"] is not None:
                console.print(f"ID {doc['id']}: {doc['recommendation']['text']}")
    if plot is not None:
        from ketasim.report.fit_plots import plot_fits

        minutes = 1.0 / t_per_min
        plot_fits(
            fits,
            plot,
            time_unit=time_unit,
            minutes_per_unit=minutes,
            title=f"{m.id}: MAP fits, 90% posterior bands",
        )
        print(f"ketasim: wrote {plot}", file=sys.stderr)
    if report is not None:
        from ketasim.report.fit_pdf import write_fit_pdf

        write_fit_pdf(
            fits,
            docs,
            findings,
            report,
            model_id=m.id,
            citation=m.citation.text,
            time_unit=time_unit,
            dv_unit=dv_unit,
            minutes_per_unit=1.0 / t_per_min,
        )
        print(f"ketasim: wrote {report}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    """Add ``ketasim fit`` to the root app."""
    root.command("fit")(fit_command)
