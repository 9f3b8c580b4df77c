"""A printable PDF of individual (MAP) fits: parameters with 90% intervals, observed and
predicted levels per record, the dose recommendation if asked, the figure and the findings."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketasim.report.pdf import (
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
    from ketasim.estimation.result import IndividualFit
    from ketasim.findings import Finding

__all__ = ["write_fit_pdf"]


def _num(value: Any) -> str:
    return "." if value is None else f"{value:.4g}"


def write_fit_pdf(
    fits: Sequence[IndividualFit],
    docs: Sequence[Mapping[str, Any]],
    findings: Sequence[Finding],
    path: str | Path,
    *,
    model_id: str,
    citation: str,
    time_unit: str,
    dv_unit: str,
    minutes_per_unit: float,
) -> Path:
    """Write the fits to ``path``. ``docs`` are the per-individual records ``ketasim fit``
    prints as JSON (parameters, rows and recommendation, in the data file's units)."""
    from ketasim.report.fit_plots import plot_fits

    pdf = new_report(f"Individual fit (MAP): {model_id}")
    paragraph(pdf, f"Model: {model_id}: {citation}.", size=9)
    paragraph(
        pdf,
        f"Maximum a posteriori estimates with priors from the model's variability; "
        f"90% intervals; times in {time_unit}, levels in {dv_unit}.",
        size=9,
    )
    for doc in docs:
        heading(pdf, f"ID {doc['id']}: parameters")
        cov = ", ".join(
            f"{k} {v:g}" for k, v in doc["covariates"].items() if isinstance(v, int | float)
        )
        paragraph(
            pdf,
            f"Covariates: {cov or 'none'}. Objective function {doc['ofv']:.4g}; "
            f"{'converged' if doc['converged'] else 'NOT converged'}; "
            f"{doc['n_observations']} observation(s).",
            size=8.5,
        )
        table(
            pdf,
            ["parameter", "individual", "unit", "90% interval", "typical"],
            [
                [
                    name,
                    f"{p['value']:.4g}",
                    p["unit"],
                    f"{p['ci90'][0]:.4g} to {p['ci90'][1]:.4g}",
                    f"{p['typical']:.4g}",
                ]
                for name, p in doc["parameters"].items()
            ],
            size=8,
        )
        for analyte, err in doc["residual_error"].items():
            paragraph(
                pdf,
                f"Residual error ({analyte}): {err['description']}"
                + (" (assumed)" if err["assumed"] else ""),
                size=8,
                grey=True,
            )
        heading(pdf, f"ID {doc['id']}: observed and predicted levels")
        table(
            pdf,
            ["time", "analyte", "observed", "population", "individual", "90% band"],
            [
                [
                    f"{r['time']:.4g}",
                    r["analyte"],
                    _num(r["dv"]),
                    _num(r["pred"]),
                    _num(r["ipred"]),
                    f"{r['ipred_p05']:.4g} to {r['ipred_p95']:.4g}",
                ]
                for r in doc["rows"]
                if r["evid"] == 0
            ],
            size=8,
        )
        if doc["recommendation"] is not None:
            paragraph(pdf, f"Recommendation: {doc['recommendation']['text']}", size=9, bold=True)
    with tempfile.TemporaryDirectory() as d:
        png = Path(d) / "fit.png"
        plot_fits(
            fits,
            png,
            time_unit=time_unit,
            minutes_per_unit=minutes_per_unit,
            title=f"{model_id}: MAP fits, 90% posterior bands",
        )
        heading(pdf, "Figure")
        figure(
            pdf,
            png.read_bytes(),
            caption="Measured levels (dots), individual prediction "
            "with its 90% band, typical patient (dashed).",
        )
    heading(pdf, "Findings")
    findings_table(pdf, findings)
    signature_lines(pdf, ["Reviewed by"])
    return save(pdf, path)
