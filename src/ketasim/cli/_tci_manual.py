"""``ketasim tci --manual`` / ``--boluses``: option parsing and output of a manual scheme."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from ketasim.cli.common import OutputFormat, emit_frame
from ketasim.tci import ManualScheme

__all__ = ["emit_manual"]


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
        "scheme": scheme.actions(),
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
        for r in scheme.actions():
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
