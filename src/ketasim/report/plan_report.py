"""A self-contained HTML report of a treatment plan (figures embedded as base64 PNG).

:func:`write_plan_report` writes one HTML file with no external resources: findings with their
sources, the dose schedule, the monitoring timeline, and figures of the predicted concentrations
(first session and whole course, with the variability band when the model has one) and of the
dose schedule.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ketasim.safety.plan import ConcentrationPrediction, Plan

__all__ = ["plan_figures", "render_plan_html", "write_plan_report"]

_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
_SEVERITY_COLOUR = {"stop": "#b71c1c", "warn": "#e65100", "info": "#37474f"}


def _png(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _concentration_figure(plan: Plan, pred: ConcentrationPrediction) -> Figure:
    import matplotlib.pyplot as plt

    t = pred.times_min
    in_hours = float(t[-1] - t[0]) > 600.0
    in_days = float(t[-1] - t[0]) > 3 * 1440.0
    scale, xlabel = (
        (1440.0, "time (days)")
        if in_days
        else (60.0, "time (h)")
        if in_hours
        else (1.0, "time (min)")
    )
    x = t / scale
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for i, (name, values) in enumerate(pred.typical.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        analyte, _, site = name.rpartition("_")
        ax.plot(
            x,
            values,
            color=colour,
            lw=1.6,
            ls="--" if site == "effect" else "-",
            label=f"{analyte} ({site}), typical",
        )
        if name in pred.lower:
            ax.fill_between(
                x,
                pred.lower[name],
                pred.upper[name],
                color=colour,
                alpha=0.18,
                lw=0,
                label=f"{analyte} ({site}), 5th-95th percentile",
            )
    if pred.label == "first session":
        if plan.discharge_not_before_min is not None:
            ax.axvline(plan.discharge_not_before_min / scale, color="#2e7d32", lw=1.0, ls="--")
            ax.text(
                plan.discharge_not_before_min / scale,
                ax.get_ylim()[1] * 0.6,
                " earliest discharge",
                fontsize=7,
                color="#2e7d32",
                rotation=90,
            )
        for item in plan.monitoring:
            if (
                item.time_min is not None
                and 0 < item.time_min <= t[-1]
                and item.time_min != plan.discharge_not_before_min
            ):
                ax.axvline(item.time_min / scale, color="#607d8b", lw=0.8, ls=":")
                ax.text(
                    item.time_min / scale,
                    ax.get_ylim()[1] * 0.97,
                    f" {item.when}",
                    fontsize=7,
                    color="#37474f",
                    va="top",
                    rotation=90,
                )
    else:
        for d in plan.doses:
            ax.axvline(d.time_min / scale, color="#b0bec5", lw=0.6, zorder=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("concentration (ng/mL)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{plan.protocol.id}: {pred.label} ({plan.model_id})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _effects_figure(plan: Plan) -> Figure:
    import matplotlib.pyplot as plt

    valued = [e for e in plan.effects if e.values is not None]
    ratios = [e for e in plan.effects if e.values is None and e.ce_over_c50 is not None]
    panels = [p for p in (valued, ratios) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(9, 3.6), squeeze=False)
    for ax, group in zip(axes[0], panels, strict=True):
        for i, eff in enumerate(group):
            y = eff.values if eff.values is not None else eff.ce_over_c50
            assert y is not None
            ax.plot(
                eff.times_min,
                y,
                color=_PALETTE[i % len(_PALETTE)],
                lw=1.5,
                label=f"{eff.endpoint} ({eff.pd_model_id})",
            )
        if group is ratios:
            ax.axhline(1.0, color="#90a4ae", lw=0.8, ls="--")
            ax.set_ylabel("Ce / C50 (1 = half-maximal)")
        else:
            ax.set_ylabel(", ".join(sorted({e.unit for e in group})))
        ax.set_xlabel("time (min)")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=7)
    fig.suptitle(
        f"{plan.protocol.id}: predicted effects, first session (typical patient)", fontsize=10
    )
    fig.tight_layout()
    return fig


def _schedule_figure(plan: Plan) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2.8))
    phases = list(dict.fromkeys(d.phase for d in plan.doses))
    for i, phase in enumerate(phases):
        ds = [d for d in plan.doses if d.phase == phase]
        ax.bar(
            [d.day for d in ds],
            [d.amount_mg for d in ds],
            width=0.8,
            color=_PALETTE[i % len(_PALETTE)],
            label=phase,
        )
    ax.set_xlabel("day of course")
    ax.set_ylabel("dose per session (mg)")
    ax.set_title(
        f"{plan.protocol.id}: dose schedule ({len(plan.doses)} session(s), "
        f"{sum(d.amount_mg for d in plan.doses):.0f} mg)",
        fontsize=10,
    )
    ax.grid(alpha=0.3, axis="y")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def plan_figures(plan: Plan) -> dict[str, str]:
    """The report's figures as base64 PNG strings, by caption."""
    import matplotlib

    matplotlib.use("Agg")
    figures: dict[str, str] = {}
    for pred in plan.concentrations:
        caption = f"Predicted concentrations: {pred.label}"
        figures[caption] = _png(_concentration_figure(plan, pred))
    if plan.effects:
        figures["Predicted effects: first session"] = _png(_effects_figure(plan))
    if len(plan.doses) > 1:
        figures["Dose schedule"] = _png(_schedule_figure(plan))
    return figures


def _table(headers: list[str], rows: list[list[str]], *, raw_first: bool = False) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for j, cell in enumerate(row):
            cells.append(f"<td>{cell if (raw_first and j == 0) else html.escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ketasim")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def render_plan_html(plan: Plan) -> str:
    """The whole report as one HTML string (no external resources)."""
    p = plan.protocol
    e = html.escape
    counts = {s: sum(f.severity == s for f in plan.findings) for s in ("stop", "warn", "info")}
    banner = (
        f'<div class="banner stop">STOP: {counts["stop"]} hard-stop finding(s); do not proceed '
        "with this plan.</div>"
        if plan.has_stop
        else f'<div class="banner ok">No hard stop. {counts["warn"]} warning(s), '
        f"{counts['info']} note(s).</div>"
    )

    def findings_table(severities: tuple[str, ...]) -> str:
        rows = [
            [
                f'<span class="sev" style="background:{_SEVERITY_COLOUR[f.severity]}">'
                f"{e(f.severity)}</span>",
                f.rule_id,
                f.message,
                f.source,
            ]
            for f in plan.findings
            if f.severity in severities
        ]
        if not rows:
            return "<p>None.</p>"
        return _table(["severity", "rule", "message", "source"], rows, raw_first=True)

    findings = findings_table(("stop", "warn"))
    notes_findings = findings_table(("info",))
    doses = _table(
        ["session", "phase", "day", "dose", "route", "administration", "amount (mg)"],
        [
            [
                str(d.session),
                d.phase,
                f"{d.day:g}",
                f"{d.amount:g} {d.unit}",
                d.route,
                f"over {d.duration_min:g} min" if d.duration_min > 0 else "bolus / single dose",
                f"{d.amount_mg:.1f}",
            ]
            for d in plan.doses
        ],
    )
    monitoring = _table(
        ["time from dose (min)", "when", "action", "rule", "source"],
        [
            [
                "-" if m.time_min is None else f"{m.time_min:g}",
                m.when,
                m.action,
                m.rule_id,
                m.source,
            ]
            for m in plan.monitoring
        ],
    )
    discharge = (
        "Earliest discharge: " + f"{plan.discharge_not_before_min:g} min after the "
        "start of each session, and only when clinically stable."
        if plan.discharge_not_before_min is not None
        else "No minimum observation time is stated in the sources; discharge when the "
        "discharge criteria above are met."
    )
    figures = "".join(
        f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{e(caption)}</figcaption></figure>"
        for caption, data in plan_figures(plan).items()
    )
    rec = plan.record
    vit = ", ".join(
        x
        for x in (
            f"BP {rec.sbp_mmhg:g}/{rec.dbp_mmhg:g} mmHg"
            if rec.sbp_mmhg is not None and rec.dbp_mmhg is not None
            else "BP not recorded",
            f"HR {rec.heart_rate_bpm:g}/min" if rec.heart_rate_bpm is not None else "",
        )
        if x
    )
    patient = (
        f"{rec.age_years:g} y, {rec.weight_kg:g} kg"
        + (f", {rec.patient.height_cm:g} cm" if rec.patient.height_cm else "")
        + (f", {rec.patient.sex}" if rec.patient.sex else "")
        + f"; {vit}; conditions: "
        + (", ".join(sorted(rec.conditions)) or "none")
        + "; medications: "
        + (", ".join(rec.medications) or "none")
    )
    sources = "".join(
        f"<li>{e(s.text)}{' doi:' + e(s.doi) if s.doi else ''}"
        f"{' PMID ' + e(s.pmid) if s.pmid else ''} <small>({e(s.verified)})</small></li>"
        for s in p.sources
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in p.notes)
    effects_sources = "".join(
        sorted(
            {f'<p class="note">PD: {e(x.pd_model_id)}: {e(x.citation)}</p>' for x in plan.effects}
        )
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>ketasim plan: {e(p.id)}</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #212121;
       max-width: 1150px; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }} h2 {{ font-size: 17px; margin-top: 26px;
  border-bottom: 1px solid #cfd8dc; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ border: 1px solid #cfd8dc; padding: 4px 6px; text-align: left; vertical-align: top; }}
th {{ background: #eceff1; }}
.sev {{ color: white; padding: 1px 6px; border-radius: 3px; font-weight: bold; }}
.banner {{ padding: 10px; font-weight: bold; border-radius: 4px; margin: 12px 0; }}
.stop {{ background: #ffcdd2; color: #b71c1c; }} .ok {{ background: #e8f5e9; color: #1b5e20; }}
figure {{ margin: 12px 0; }} img {{ max-width: 100%; border: 1px solid #eceff1; }}
figcaption, small, .note {{ color: #546e7a; font-size: 12px; }}
</style></head><body>
<h1>Treatment plan: {e(p.title)}</h1>
<p class="note">Decision support for professionals; not a prescription. Protocol <b>{e(p.id)}</b>
({e(p.drug)}, {e(p.route)}, {e(p.indication)}{"; " + e(p.jurisdiction) if p.jurisdiction else ""}).
Patient: {e(patient)}.</p>
{banner}
<h2>Safety findings: stops and warnings</h2>
{findings}
<h2>Figures</h2>
<p class="note">{e(plan.concentration_note)}</p>
<p class="note"><b>{e(plan.effects_note)}</b></p>
{effects_sources}
{figures}
<h2>Dose schedule</h2>
{doses}
<h2>Monitoring timeline (each session)</h2>
{monitoring}
<p>{e(discharge)}</p>
<h2>Safety findings: notes</h2>
{notes_findings}
<h2>Protocol notes and sources</h2>
<ul>{notes}</ul>
<ul>{sources}</ul>
<p class="note">Safety rules version {e(plan.rules_version)}; ketasim {e(_version())};
generated {e(stamp)}{"; seed " + str(plan.seed) if plan.seed is not None else ""}.</p>
</body></html>
"""


def write_plan_report(plan: Plan, path: str | Path) -> Path:
    """Write the plan's HTML report to ``path``; returns the path."""
    out = Path(path)
    out.write_text(render_plan_html(plan), encoding="utf-8")
    return out
