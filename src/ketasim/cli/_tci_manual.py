"""``ketasim tci --manual`` / ``--boluses``: option parsing and output of a manual scheme."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ketasim.cli.common import OutputFormat, emit_frame
from ketasim.errors import InputError
from ketasim.tci import ManualScheme, ManualSettings
from ketasim.tci.manual_lp import Mode
from ketasim.units import parse_duration_min, parse_quantity

__all__ = ["emit_manual", "manual_settings", "scheme_rows"]

#: default overshoot limits by mode (settings, not evidence): boluses overshoot by design
DEFAULT_OVERSHOOT = {"infusion": "10%", "boluses": "50%"}


def _percent(text: str, flag: str) -> float:
    raw = text.strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise InputError(flag, f"{text!r} is not a percentage, e.g. '10%'") from None
    return value / 100.0


def manual_settings(
    *,
    boluses: bool,
    max_changes: int,
    rate_step: str,
    time_step: str,
    loading_bolus: bool,
    bolus_step: str,
    settle: str,
    max_overshoot: str | None,
) -> ManualSettings:
    """:class:`ManualSettings` from the command-line texts (errors name the flag)."""
    mode: Mode = "boluses" if boluses else "infusion"
    if boluses and loading_bolus:
        raise InputError("--loading-bolus", "only with --manual infusions, not with --boluses")
    flow = parse_quantity(rate_step, field="--rate-step", expect="flow")
    rate_step_ml_per_h = flow.to_internal() * 1000.0 * 60.0  # L/min -> mL/h
    bolus_mg = parse_quantity(bolus_step, field="--bolus-step", expect="amount").to_internal()
    return ManualSettings(
        mode=mode,
        max_changes=max_changes,
        rate_step_ml_per_h=rate_step_ml_per_h,
        time_step_min=parse_duration_min(time_step, field="--time-step"),
        loading_bolus=loading_bolus,
        bolus_step_mg=bolus_mg,
        settle_min=parse_duration_min(settle, field="--settle"),
        max_overshoot=_percent(max_overshoot or DEFAULT_OVERSHOOT[mode], "--max-overshoot"),
    )


def scheme_rows(scheme: ManualScheme) -> list[dict[str, Any]]:
    """One row per bedside action: time, what to do, rate, bolus and the predicted levels."""
    times = [s.time_min for s in scheme.steps]
    conc = scheme.concentrations_at(times) if times else {}
    plasma = conc.get(f"{scheme.analyte}_plasma")
    effect = conc.get(f"{scheme.analyte}_effect")
    syringe = scheme.pump.syringe_mg_per_ml
    rows = []
    for i, s in enumerate(scheme.steps):
        actions = []
        if s.bolus_mg > 0:
            actions.append(f"give {s.bolus_mg:g} mg ({s.bolus_mg / syringe:.3g} mL) by hand")
        if scheme.settings.mode == "infusion":
            actions.append(
                f"set pump to {s.rate_ml_per_h:g} mL/h" if s.rate_ml_per_h > 0 else "stop pump"
            )
        rows.append(
            {
                "time_min": s.time_min,
                "action": "; ".join(actions),
                "rate_ml_per_h": s.rate_ml_per_h,
                "rate_mg_per_h": s.rate_ml_per_h * syringe,
                "bolus_mg": s.bolus_mg,
                "target_ng_per_ml": scheme.targets.at(s.time_min),
                "plasma_ng_per_ml": None if plasma is None else float(plasma[i]),
                "effect_ng_per_ml": None if effect is None else float(effect[i]),
            }
        )
    return rows


def _json(scheme: ManualScheme) -> str:
    s = scheme.settings
    plan = scheme.reference
    doc = {
        "model": scheme.model_id,
        "site": scheme.site,
        "analyte": scheme.analyte,
        "mode": s.mode,
        "effect_site": None
        if plan.effect_site is None
        else {
            "ke0_per_min": plan.effect_site.ke0_per_min,
            "origin": plan.effect_site.origin,
            "assumed": plan.effect_site.assumed,
            "description": plan.effect_site.description,
        },
        "pump": {
            "syringe_mg_per_ml": scheme.pump.syringe_mg_per_ml,
            "max_rate_ml_per_h": scheme.pump.max_rate_ml_per_h,
        },
        "settings": {
            "max_changes": s.max_changes,
            "rate_step_ml_per_h": s.rate_step_ml_per_h,
            "time_step_min": s.time_step_min,
            "loading_bolus": s.loading_bolus,
            "bolus_step_mg": s.bolus_step_mg,
            "settle_min": s.settle_min,
            "max_overshoot_percent": s.max_overshoot * 100.0,
        },
        "targets": [
            {"time_min": t.time_min, "target_ng_per_ml": t.target_ng_per_ml}
            for t in scheme.targets.steps
        ],
        "scheme": scheme_rows(scheme),
        "worst_deviation_percent": scheme.worst_deviation * 100.0,
        "worst_deviation_time_min": scheme.worst_deviation_time_min,
        "max_overshoot_percent": scheme.max_overshoot * 100.0,
        "total_mg": scheme.total_mg,
        "tci_total_mg": plan.total_mg,
        "rows": scheme.to_dataframe().to_dict(orient="records"),
        "findings": [
            {"rule_id": f.rule_id, "severity": f.severity, "message": f.message, "source": f.source}
            for f in scheme.findings
        ],
    }
    return json.dumps(doc)


def emit_manual(scheme: ManualScheme, output: OutputFormat, title: str) -> None:
    """Print the scheme: CSV (the TCI columns on a 1-min grid plus every action), JSON, or a
    table of the bedside actions (the quality summary is a finding, printed by the caller)."""
    if output is OutputFormat.json:
        typer.echo(_json(scheme))
    elif output is OutputFormat.csv:
        emit_frame(scheme.to_dataframe(), output, title)
    else:
        table = Table(title=f"{title}: manual scheme")
        for col in ("min", "action", "mL/h", "mg/h", "target", "plasma", "effect"):
            table.add_column(col, justify="right" if col != "action" else "left")
        for r in scheme_rows(scheme):
            table.add_row(
                f"{r['time_min']:g}",
                r["action"],
                f"{r['rate_ml_per_h']:g}",
                f"{r['rate_mg_per_h']:.4g}",
                f"{r['target_ng_per_ml']:.4g}",
                "-" if r["plasma_ng_per_ml"] is None else f"{r['plasma_ng_per_ml']:.4g}",
                "-" if r["effect_ng_per_ml"] is None else f"{r['effect_ng_per_ml']:.4g}",
            )
        Console(width=200).print(table)
