"""A printable PDF of a treatment plan: the same content as the HTML report
(:mod:`ketasim.report.plan_report`): patient, protocol, every finding with its source, dose
schedule, monitoring timeline, predicted curves, protocol notes and sources."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

from ketasim.report.pdf import (
    banner,
    figure,
    findings_table,
    heading,
    new_report,
    paragraph,
    save,
    signature_lines,
    table,
)

if TYPE_CHECKING:
    from ketasim.safety.plan import Plan

__all__ = ["write_plan_pdf"]


def _patient_line(plan: Plan) -> str:
    rec = plan.record
    parts = [f"{rec.age_years:g} years, {rec.weight_kg:g} kg"]
    if rec.patient.height_cm:
        parts.append(f"{rec.patient.height_cm:g} cm")
    if rec.patient.sex:
        parts.append(rec.patient.sex)
    if rec.sbp_mmhg is not None and rec.dbp_mmhg is not None:
        parts.append(f"BP {rec.sbp_mmhg:g}/{rec.dbp_mmhg:g} mmHg")
    else:
        parts.append("BP not recorded")
    if rec.heart_rate_bpm is not None:
        parts.append(f"HR {rec.heart_rate_bpm:g}/min")
    parts.append("conditions: " + (", ".join(sorted(rec.conditions)) or "none"))
    parts.append("medications: " + (", ".join(rec.medications) or "none"))
    return "; ".join(parts)


def write_plan_pdf(plan: Plan, path: str | Path) -> Path:
    """Write the plan as a PDF to ``path``; returns the path."""
    from ketasim.report.plan_report import plan_figures

    p = plan.protocol
    pdf = new_report(f"Treatment plan: {p.title}")
    paragraph(
        pdf,
        f"Protocol {p.id} ({p.drug}, {p.route}, {p.indication}"
        + (f"; {p.jurisdiction}" if p.jurisdiction else "")
        + ").",
        size=9,
    )
    paragraph(pdf, f"Patient: {_patient_line(plan)}.", size=9)
    counts = {s: sum(f.severity == s for f in plan.findings) for s in ("stop", "warn", "info")}
    if plan.has_stop:
        banner(
            pdf,
            f"STOP: {counts['stop']} hard-stop finding(s); do not proceed with this plan.",
            stop=True,
        )
    else:
        banner(
            pdf, f"No hard stop. {counts['warn']} warning(s), {counts['info']} note(s).", stop=False
        )
    heading(pdf, "Safety findings (every finding with its rule and source)")
    order = {"stop": 0, "warn": 1, "info": 2}
    findings_table(pdf, sorted(plan.findings, key=lambda f: order.get(f.severity, 3)))
    heading(pdf, "Dose schedule")
    table(
        pdf,
        ["session", "phase", "day", "dose", "route", "administration", "mg"],
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
        widths=(14, 26, 12, 30, 20, 46, 16),
        size=8,
    )
    heading(pdf, "Monitoring timeline (each session)")
    table(
        pdf,
        ["min from dose", "when", "action", "rule", "source"],
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
        widths=(16, 28, 60, 30, 46),
        size=7.5,
    )
    if plan.discharge_not_before_min is not None:
        paragraph(
            pdf,
            f"Earliest discharge: {plan.discharge_not_before_min:g} min after the "
            "start of each session, and only when clinically stable.",
            size=9,
        )
    else:
        paragraph(
            pdf,
            "No minimum observation time is stated in the sources; discharge when "
            "the discharge criteria above are met.",
            size=9,
        )
    heading(pdf, "Predicted concentrations and effects")
    paragraph(pdf, plan.concentration_note, size=8, grey=True)
    paragraph(pdf, plan.effects_note, size=8, bold=True)
    for pd_source in sorted({f"PD: {x.pd_model_id}: {x.citation}" for x in plan.effects}):
        paragraph(pdf, pd_source, size=7.5, grey=True)
    for caption, data in plan_figures(plan).items():
        figure(pdf, base64.b64decode(data), caption=caption)
    heading(pdf, "Protocol notes and sources")
    for note in p.notes:
        paragraph(pdf, f"- {note}", size=8)
    for s in p.sources:
        ids = (f" doi:{s.doi}" if s.doi else "") + (f" PMID {s.pmid}" if s.pmid else "")
        paragraph(pdf, f"- {s.text}{ids} ({s.verified})", size=8)
    paragraph(
        pdf,
        f"Safety rules version {plan.rules_version}"
        + (f"; seed {plan.seed}" if plan.seed is not None else "")
        + ".",
        size=7.5,
        grey=True,
    )
    signature_lines(pdf, ["Prescribed by", "Checked by"])
    return save(pdf, path)
