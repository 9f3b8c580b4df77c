"""Printable bedside charts (PDF) of a manual infusion scheme and of a TCI plan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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
    from ketasim.patient import Patient
    from ketasim.tci.manual import ManualScheme
    from ketasim.tci.plan import TciPlan

__all__ = ["write_manual_pdf", "write_tci_pdf"]


def _patient(patient: Patient) -> str:
    parts = [f"{patient.weight_kg:g} kg"]
    if patient.age_years is not None:
        parts.append(f"{patient.age_years:g} years")
    if patient.height_cm is not None:
        parts.append(f"{patient.height_cm:g} cm")
    if patient.sex:
        parts.append(patient.sex)
    return ", ".join(parts)


def _targets(plan: TciPlan) -> str:
    return "; ".join(
        f"{s.target_ng_per_ml:g} ng/mL from {s.time_min:g} min" for s in plan.targets.steps
    )


def _context(plan: TciPlan) -> list[str]:
    pump = plan.pump
    lines = [
        f"Patient: {_patient(plan.patient)}.",
        f"Model: {plan.model_id}: {plan.citation}.",
        f"Target ({plan.site} site, {plan.analyte}): {_targets(plan)}.",
        f"Syringe: {pump.syringe_mg_per_ml:g} mg/mL; pump maximum "
        + ("none" if pump.max_rate_ml_per_h is None else f"{pump.max_rate_ml_per_h:g} mL/h")
        + ".",
    ]
    if plan.effect_site is not None:
        lines.append(f"Effect site: {plan.effect_site.description}.")
    return lines


def write_manual_pdf(scheme: ManualScheme, path: str | Path, *, title: str | None = None) -> Path:
    """A bedside chart of a manual scheme: what to set or give at each time, in large type,
    with a column to initial; predicted concentrations; the quality achieved; findings."""
    from ketasim.report.tci_plots import manual_figure

    plan = scheme.reference
    s = scheme.settings
    kind = "infusion" if s.mode == "infusion" else "intermittent boluses"
    pdf = new_report(f"Manual {kind} scheme: {scheme.model_id}")
    for line in _context(plan):
        paragraph(pdf, line, size=9)
    ok = scheme.max_overshoot <= s.max_overshoot + 1e-3 and np.isfinite(scheme.worst_deviation)
    banner(
        pdf,
        f"Predicted {scheme.site}-site worst deviation {scheme.worst_deviation * 100:.1f}%"
        f" (from {s.settle_min:g} min after each target change), overshoot "
        f"{scheme.max_overshoot * 100:.1f}%, total {scheme.total_mg:.4g} mg over "
        f"{scheme.duration_min:g} min.",
        stop=not ok,
    )
    heading(pdf, "Bedside chart (time from the start)")
    syringe = scheme.pump.syringe_mg_per_ml
    times = [st.time_min for st in scheme.steps]
    conc = scheme.concentrations_at(times) if times else {}
    site_conc = conc.get(f"{scheme.analyte}_{scheme.site}")
    rows = []
    for i, st in enumerate(scheme.steps):
        action = []
        if st.bolus_mg > 0:
            action.append(f"GIVE {st.bolus_mg:g} mg = {st.bolus_mg / syringe:.3g} mL by hand")
        if s.mode == "infusion":
            action.append(
                f"SET PUMP {st.rate_ml_per_h:g} mL/h ({st.rate_ml_per_h * syringe:.4g} mg/h)"
                if st.rate_ml_per_h > 0
                else "STOP PUMP"
            )
        predicted = "-" if site_conc is None else f"{site_conc[i]:.0f}"
        rows.append(
            [
                f"{st.time_min:g} min",
                " then ".join(action),
                f"{scheme.targets.at(st.time_min):g}",
                predicted,
                "",
                "",
            ]
        )
    rows.append(
        [
            f"{scheme.duration_min:g} min",
            "END of plan (stop pump unless re-planned)",
            "",
            "",
            "",
            "",
        ]
    )
    table(
        pdf,
        [
            "time",
            "action",
            "target ng/mL",
            f"predicted {scheme.site} ng/mL",
            "clock time",
            "initials",
        ],
        rows,
        widths=(18, 78, 20, 24, 20, 20),
        size=10.5,
        line_height=7,
    )
    paragraph(
        pdf,
        f"Settings (not evidence): at most {s.max_changes} "
        f"{'pump settings' if s.mode == 'infusion' else 'boluses'}, changes at multiples "
        f"of {s.time_step_min:g} min, rates in steps of {s.rate_step_ml_per_h:g} mL/h, "
        f"boluses in steps of {s.bolus_step_mg:g} mg, overshoot limit "
        f"{s.max_overshoot * 100:g}%. Check the rate step against your pump's manual. "
        f"A TCI pump would give {plan.total_mg:.4g} mg for the same target.",
        size=8,
        grey=True,
    )
    figure(
        pdf,
        manual_figure(scheme),
        caption="Predicted concentrations for the model's "
        "typical patient under this scheme; grey band: target +-10%.",
    )
    heading(pdf, "Findings")
    findings_table(pdf, scheme.findings)
    signature_lines(pdf, ["Prescribed by", "Checked by"])
    return save(pdf, path)


def write_tci_pdf(plan: TciPlan, path: str | Path, *, title: str | None = None) -> Path:
    """A chart of a TCI plan: the pump rate summarised per minute (the pump updates itself
    every interval), predicted concentrations, findings."""
    from ketasim.report.tci_plots import plot_tci

    pdf = new_report(title or f"Target-controlled infusion: {plan.model_id}")
    for line in _context(plan):
        paragraph(pdf, line, size=9)
    paragraph(
        pdf,
        f"Algorithm: {plan.provenance.get('algorithm', '')}; the pump recomputes the "
        f"rate every {plan.pump.update_interval_s:g} s. Total "
        f"{plan.total_mg:.4g} mg over {plan.times_min[-1]:g} min.",
        size=9,
    )
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        png = Path(d) / "tci.png"
        plot_tci(plan, png, title=title)
        figure(
            pdf,
            png.read_bytes(),
            caption="Predicted concentrations, pump rate and "
            "cumulative dose for the model's typical patient.",
        )
    heading(pdf, "Pump rate by minute (mean over each minute) and predicted concentrations")
    h = plan.pump.update_interval_min
    end = float(plan.times_min[-1])
    minutes = np.arange(0.0, end, 1.0 if end <= 120 else 5.0)
    conc = plan.concentrations_at(minutes)
    rows = []
    for i, t in enumerate(minutes):
        step = minutes[1] - minutes[0] if minutes.size > 1 else end
        inside = (plan.interval_start_min >= t - 1e-9) & (plan.interval_start_min < t + step - 1e-9)
        mean_ml_h = float(np.sum(plan.rate_ml_per_h[inside]) * h / step)
        rows.append(
            [
                f"{t:g}",
                f"{mean_ml_h:.1f}",
                f"{plan.targets.at(float(t)):g}",
                f"{conc[f'{plan.analyte}_plasma'][i]:.0f}",
                "-"
                if f"{plan.analyte}_effect" not in conc
                else f"{conc[f'{plan.analyte}_effect'][i]:.0f}",
            ]
        )
    table(
        pdf, ["min", "mean rate mL/h", "target ng/mL", "plasma ng/mL", "effect ng/mL"], rows, size=8
    )
    heading(pdf, "Findings")
    findings_table(pdf, plan.findings)
    signature_lines(pdf, ["Prescribed by", "Checked by"])
    return save(pdf, path)
