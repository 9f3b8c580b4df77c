"""The manual-scheme page and the printable TCI report: as ``ketasim tci --manual`` (or
``--boluses``) for an ordinary pump, and ``--report file.pdf``."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from ketasim.clinic.api.deps import Anyone
from ketasim.clinic.web import tool_limits as lim
from ketasim.clinic.web.render import render
from ketasim.clinic.web.tools.common import (
    Changes,
    PatientQ,
    PatientQuery,
    Short,
    Text,
    model_ids,
    png,
    router,
)
from ketasim.errors import KetasimError

__all__ = ["ManualQuery", "manual_query", "tci_manual_page", "tci_report_pdf"]


@dataclass(frozen=True)
class ManualQuery:
    """The query of the manual-scheme page and of its PDF (the options of ``ketasim tci
    --manual``)."""

    model: str
    target: str
    duration: str
    site: str
    patient: PatientQuery
    syringe: str
    rate_step: str
    max_changes: int
    loading_bolus: bool
    boluses: bool


def manual_query(
    patient: PatientQ,
    model: Short = "domino-1982",
    target: Text = "",
    duration: Short = "60min",
    site: Short = "effect",
    syringe: Short = "10 mg/mL",
    rate_step: Short = "0.5 mL/h",
    max_changes: Changes = 7,
    loading_bolus: bool = False,
    boluses: bool = False,
) -> ManualQuery:
    """The query of the manual-scheme page and its PDF, bounded (a dependency)."""
    return ManualQuery(
        model,
        target,
        duration,
        site,
        patient,
        syringe,
        rate_step,
        max_changes,
        loading_bolus,
        boluses,
    )


Manual = Annotated[ManualQuery, Depends(manual_query)]


def _manual_scheme(q: ManualQuery) -> object:
    """As ``ketasim tci --manual`` (or ``--boluses``); the pump maximum is the CLI default."""
    from ketasim.tci import parse_pump, plan_manual
    from ketasim.tci.manual_settings import parse_manual_settings

    minutes, targets = lim.tci_inputs(q.duration, q.target)
    settings = parse_manual_settings(
        boluses=q.boluses,
        max_changes=q.max_changes,
        rate_step=q.rate_step,
        time_step="5min",
        loading_bolus=q.loading_bolus and not q.boluses,
        bolus_step="1 mg",
        settle="10min",
        max_overshoot=None,
    )
    return plan_manual(
        lim.catalogue_model(q.model),
        q.patient.to_patient(),
        targets,
        duration_min=minutes,
        site="plasma" if q.site == "plasma" else "effect",
        pump=parse_pump(q.syringe, "1200 mL/h", "10s"),
        settings=settings,
        time_limit_s=lim.MAX_MANUAL_SECONDS,
    )


@router.get("/tools/tci/manual", response_class=HTMLResponse)
def tci_manual_page(request: Request, user: Anyone, q: Manual) -> HTMLResponse:
    """Manual scheme for an ordinary pump: as ``ketasim tci --manual`` (``--boluses``)."""
    from urllib.parse import urlencode

    from ketasim.report.tci_plots import plot_manual
    from ketasim.tci import ManualScheme

    ctx: dict[str, object] = {
        "models": model_ids(),
        "q": dict(request.query_params),
        "model": q.model,
        "site": q.site,
        "manual": True,
    }
    if q.target:
        try:
            scheme = _manual_scheme(q)
            assert isinstance(scheme, ManualScheme)
            ctx["figure"] = png(
                lambda p: plot_manual(
                    scheme, p, title=f"{scheme.model_id}: {q.site}-site target {q.target}"
                )
            )
            ctx["findings"] = list(scheme.findings)
            ctx["scheme_rows"] = scheme.actions()
            ctx["pdf_query"] = urlencode({**dict(request.query_params), "manual": "1"})
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_tci.html", ctx, status_code=422)
    return render(request, "tool_tci.html", ctx)


@router.get("/tools/tci/report.pdf", response_model=None)
def tci_report_pdf(request: Request, user: Anyone, q: Manual, manual: bool = True) -> Response:
    """The printable PDF of the page's scheme (manual) or TCI plan, as ``--report file.pdf``;
    without a ``target`` in the query, 1 ug/mL."""
    from ketasim.report.tci_pdf import write_manual_pdf, write_tci_pdf
    from ketasim.tci import ManualScheme, parse_pump, plan_tci

    if "target" not in request.query_params:
        q = replace(q, target="1 ug/mL")
    try:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "report.pdf"
            if manual or q.boluses:
                scheme = _manual_scheme(q)
                assert isinstance(scheme, ManualScheme)
                write_manual_pdf(scheme, path)
            else:
                minutes, targets = lim.tci_inputs(q.duration, q.target)
                plan = plan_tci(
                    lim.catalogue_model(q.model),
                    q.patient.to_patient(),
                    targets,
                    duration_min=minutes,
                    site="plasma" if q.site == "plasma" else "effect",
                    pump=parse_pump(q.syringe, "1200 mL/h", "10s"),
                )
                write_tci_pdf(plan, path, title=f"{plan.model_id}: {q.site}-site TCI, {q.target}")
            data = path.read_bytes()
    except KetasimError as exc:
        return render(
            request,
            "tool_tci.html",
            {
                "models": model_ids(),
                "model": q.model,
                "site": q.site,
                "q": dict(request.query_params),
                "error": str(exc),
            },
            status_code=422,
        )
    return Response(
        content=data,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="ketasim-tci.pdf"'},
    )
