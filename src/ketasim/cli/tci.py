"""``ketasim tci``: plan a plasma- or effect-site target-controlled infusion."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ketasim.catalogue import resolve_model
from ketasim.cli._tci_manual import emit_manual
from ketasim.cli.common import (
    OutputFormat,
    emit_frame,
    handle_errors,
    patient_from_options,
    print_findings,
)
from ketasim.errors import InputError
from ketasim.tci import (
    TciPerformance,
    TciPlan,
    parse_pump,
    parse_targets,
    plan_manual,
    plan_tci,
)
from ketasim.tci.manual_settings import parse_manual_settings
from ketasim.tci.performance import tci_performance
from ketasim.units import parse_duration_min, parse_quantity


def _performance_lines(perf: TciPerformance) -> list[str]:
    n = len(perf.per_patient)
    lines = [
        f"TCI performance (Varvel 1992), {perf.site} site, {n} true patient(s) from "
        f"{perf.true_model_id}; plan from {perf.plan_model_id} (median [p10, p90]):"
    ]
    labels = {
        "mdpe_percent": "MDPE %",
        "mdape_percent": "MDAPE %",
        "divergence_percent_per_h": "divergence %/h",
        "wobble_percent": "wobble %",
    }
    for key, v in perf.summary().items():
        lines.append(f"  {labels[key]:<15} {v['median']:8.2f}  [{v['p10']:.2f}, {v['p90']:.2f}]")
    return lines


def _json(plan: TciPlan, perf: TciPerformance | None) -> str:
    frame = plan.to_dataframe()
    doc: dict[str, object] = {
        "model": plan.model_id,
        "site": plan.site,
        "analyte": plan.analyte,
        "effect_site": None
        if plan.effect_site is None
        else {
            "ke0_per_min": plan.effect_site.ke0_per_min,
            "origin": plan.effect_site.origin,
            "assumed": plan.effect_site.assumed,
            "description": plan.effect_site.description,
        },
        "pump": {
            "syringe_mg_per_ml": plan.pump.syringe_mg_per_ml,
            "max_rate_ml_per_h": plan.pump.max_rate_ml_per_h,
            "update_interval_s": plan.pump.update_interval_s,
        },
        "targets": [
            {"time_min": s.time_min, "target_ng_per_ml": s.target_ng_per_ml}
            for s in plan.targets.steps
        ],
        "total_mg": plan.total_mg,
        "rows": frame.to_dict(orient="records"),
        "findings": [
            {"rule_id": f.rule_id, "severity": f.severity, "message": f.message, "source": f.source}
            for f in plan.findings
        ],
    }
    if perf is not None:
        doc["performance"] = {
            "true_model": perf.true_model_id,
            "site": perf.site,
            "patients": len(perf.per_patient),
            "summary": perf.summary(),
        }
    return json.dumps(doc)


@handle_errors
def tci_command(
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="model id or short name (e.g. domino, herd) or a model file"
        ),
    ],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="target concentration, e.g. '1 ug/mL'; a schedule as "
            "'1 ug/mL; 2 ug/mL at 20min; 0.5 ug/mL at 40min'",
        ),
    ],
    duration: Annotated[str, typer.Option("--duration", help="length of the plan, e.g. 60min")],
    weight: Annotated[float | None, typer.Option("--weight", help="body weight (kg)")] = None,
    age: Annotated[float | None, typer.Option("--age", help="age (years)")] = None,
    height: Annotated[float | None, typer.Option("--height", help="height (cm)")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="female or male")] = None,
    site: Annotated[
        str, typer.Option("--site", help="effect (Shafer & Gregg) or plasma (Jacobs)")
    ] = "effect",
    syringe: Annotated[
        str, typer.Option("--syringe", help="syringe concentration, e.g. '10 mg/mL'")
    ] = "10 mg/mL",
    max_rate: Annotated[
        str,
        typer.Option("--max-rate", help="pump maximum rate, e.g. '1200 mL/h' ('none': no limit)"),
    ] = "1200 mL/h",
    update_interval: Annotated[
        str, typer.Option("--update-interval", help="pump update interval, e.g. 10s")
    ] = "10s",
    ke0: Annotated[
        str | None,
        typer.Option(
            "--ke0", help="effect-site rate constant, e.g. '0.652 /min' (overrides the model's)"
        ),
    ] = None,
    tpeak: Annotated[
        str | None,
        typer.Option(
            "--tpeak", help="time to peak effect after a bolus, e.g. 1min; ke0 is solved from it"
        ),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="csv, table or json")
    ] = OutputFormat.csv,
    plot: Annotated[Path | None, typer.Option("--plot", help="write a figure (PNG)")] = None,
    performance: Annotated[
        int | None,
        typer.Option(
            "--performance",
            help="replay the plan into N true patients and report Varvel's "
            "MDPE, MDAPE, divergence, wobble",
        ),
    ] = None,
    true_model: Annotated[
        str | None,
        typer.Option("--true-model", help="model the true patients come from (default --model)"),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="random seed for --performance")
    ] = None,
    performance_plot: Annotated[
        Path | None,
        typer.Option("--performance-plot", help="with --performance: figure of PE over time (PNG)"),
    ] = None,
    allow_extrapolation: Annotated[
        bool,
        typer.Option(
            "--allow-extrapolation",
            help="plan for covariates outside the model's range, with a warning",
        ),
    ] = False,
    manual: Annotated[
        bool,
        typer.Option(
            "--manual",
            help="a manual scheme for an ordinary pump: a few rate changes at round "
            "times and round rates instead of a TCI pump",
        ),
    ] = False,
    boluses: Annotated[
        bool,
        typer.Option(
            "--boluses", help="a manual scheme of intermittent boluses by hand (implies --manual)"
        ),
    ] = False,
    max_changes: Annotated[
        int,
        typer.Option(
            "--max-changes",
            help="manual: most pump settings (start included) or boluses (setting, default 7)",
        ),
    ] = 7,
    rate_step: Annotated[
        str,
        typer.Option(
            "--rate-step",
            help="manual: rates are multiples of this (setting; use your pump's resolution)",
        ),
    ] = "0.5 mL/h",
    time_step: Annotated[
        str, typer.Option("--time-step", help="manual: changes at multiples of this time (setting)")
    ] = "5min",
    loading_bolus: Annotated[
        bool,
        typer.Option("--loading-bolus", help="manual: allow a loading bolus by hand at the start"),
    ] = False,
    bolus_step: Annotated[
        str, typer.Option("--bolus-step", help="manual: boluses are multiples of this (setting)")
    ] = "1 mg",
    settle: Annotated[
        str,
        typer.Option(
            "--settle",
            help="manual: time allowed to reach each new target before the deviation "
            "counts (setting)",
        ),
    ] = "10min",
    max_overshoot: Annotated[
        str | None,
        typer.Option(
            "--max-overshoot",
            help="manual: highest allowed overshoot (setting; default 10% for "
            "infusions, 50% for boluses)",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="write a printable PDF (bedside chart of the scheme or TCI plan)"
        ),
    ] = None,
) -> None:
    """Plan a target-controlled infusion; prints the pump rate and predicted concentrations.

    CSV columns: time_min, rate_ml_per_h (running from that time on), cumulative_mg,
    <analyte>_plasma_ng_per_ml, <analyte>_effect_ng_per_ml. Where ke0 came from is printed
    on stderr (and in JSON). With --manual (or --boluses) the same columns come on a 1-min grid
    plus every action, then bolus_mg, bolus_ml and target_ng_per_ml: the rows where the rate
    changes or a bolus is given are the scheme.
    """
    m = resolve_model(model)
    patient = patient_from_options(weight, age, height, sex)
    site_key = site.strip().lower()
    if site_key not in ("effect", "plasma"):
        raise InputError("--site", f"{site!r} is not one of effect, plasma")
    ke0_value = None
    if ke0 is not None:
        ke0_value = parse_quantity(ke0, field="--ke0", expect="rate_constant").to_internal()
    tpeak_min = parse_duration_min(tpeak, field="--tpeak") if tpeak is not None else None
    if report is not None and report.suffix.lower() != ".pdf":
        raise InputError("--report", f"{report.name}: the TCI report is a PDF (name it .pdf)")
    if manual or boluses:
        if performance is not None:
            raise InputError("--performance", "not available with --manual / --boluses")
        settings = parse_manual_settings(
            boluses=boluses,
            max_changes=max_changes,
            rate_step=rate_step,
            time_step=time_step,
            loading_bolus=loading_bolus,
            bolus_step=bolus_step,
            settle=settle,
            max_overshoot=max_overshoot,
        )
        scheme = plan_manual(
            m,
            patient,
            parse_targets(target),
            duration_min=parse_duration_min(duration, field="--duration"),
            site="effect" if site_key == "effect" else "plasma",
            pump=parse_pump(syringe, max_rate, update_interval),
            settings=settings,
            ke0_per_min=ke0_value,
            tpeak_min=tpeak_min,
            allow_extrapolation=allow_extrapolation,
        )
        print_findings(scheme.findings)
        title = f"{m.id}: {site_key}-site target {target}"
        emit_manual(scheme, output, title)
        if plot is not None:
            from ketasim.report.tci_plots import plot_manual

            plot_manual(scheme, plot, title=title)
            print(f"ketasim: wrote {plot}", file=sys.stderr)
        if report is not None:
            from ketasim.report.tci_pdf import write_manual_pdf

            write_manual_pdf(scheme, report, title=title)
            print(f"ketasim: wrote {report}", file=sys.stderr)
        return
    plan = plan_tci(
        m,
        patient,
        parse_targets(target),
        duration_min=parse_duration_min(duration, field="--duration"),
        site="effect" if site_key == "effect" else "plasma",
        pump=parse_pump(syringe, max_rate, update_interval),
        ke0_per_min=ke0_value,
        tpeak_min=tpeak_min,
        allow_extrapolation=allow_extrapolation,
    )
    print_findings(plan.findings)
    perf = None
    if performance is not None:
        truth = resolve_model(true_model) if true_model else m
        perf = tci_performance(
            plan, n_patients=performance, plan_model=m, true_model=truth, rng=seed
        )
    if output is OutputFormat.json:
        typer.echo(_json(plan, perf))
    else:
        emit_frame(plan.to_dataframe(), output, f"{m.id}: {site_key}-site TCI, {target}")
        if perf is not None:
            if output is OutputFormat.table:
                table = Table(title="\n".join(_performance_lines(perf)[:1]))
                for col in ("measure", "median", "p10", "p90"):
                    table.add_column(col, justify="right")
                for key, v in perf.summary().items():
                    table.add_row(key, f"{v['median']:.2f}", f"{v['p10']:.2f}", f"{v['p90']:.2f}")
                Console(width=200).print(table)
            else:
                for line in _performance_lines(perf):
                    print(f"ketasim: {line}", file=sys.stderr)
    print(
        f"ketasim: total dose {plan.total_mg:.4g} mg over {plan.times_min[-1]:g} min",
        file=sys.stderr,
    )
    if plot is not None:
        from ketasim.report.tci_plots import plot_tci

        plot_tci(plan, plot, title=f"{m.id}: {site_key}-site TCI, {target}")
        print(f"ketasim: wrote {plot}", file=sys.stderr)
    if report is not None:
        from ketasim.report.tci_pdf import write_tci_pdf

        write_tci_pdf(plan, report, title=f"{m.id}: {site_key}-site TCI, {target}")
        print(f"ketasim: wrote {report}", file=sys.stderr)
    if performance_plot is not None:
        if perf is None:
            raise InputError("--performance-plot", "needs --performance N")
        from ketasim.report.tci_plots import plot_tci_performance

        plot_tci_performance(perf, performance_plot)
        print(f"ketasim: wrote {performance_plot}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    """Add ``ketasim tci`` to the root app."""
    root.command("tci")(tci_command)
