"""The TCI page: as ``ketasim tci`` (a target-controlled infusion plan for a pump that takes
rates every few seconds)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from ketasim.clinic.api.deps import Anyone
from ketasim.clinic.web import tool_limits as lim
from ketasim.clinic.web.render import render
from ketasim.clinic.web.tools.common import PatientQ, Short, Text, model_ids, png, router
from ketasim.errors import KetasimError

__all__ = ["tci_page"]


@router.get("/tools/tci", response_class=HTMLResponse)
def tci_page(
    request: Request,
    user: Anyone,
    patient: PatientQ,
    model: Short = "domino-1982",
    target: Text = "",
    duration: Short = "60min",
    site: Short = "effect",
) -> HTMLResponse:
    """TCI: as ``ketasim tci --model --target --duration --site --plot``."""
    from ketasim.report.tci_plots import plot_tci
    from ketasim.tci import parse_pump, plan_tci

    ctx: dict[str, object] = {
        "models": model_ids(),
        "q": dict(request.query_params),
        "model": model,
        "site": site,
    }
    if target:
        try:
            m = lim.catalogue_model(model)
            minutes, targets = lim.tci_inputs(duration, target)
            plan = plan_tci(
                m,
                patient.to_patient(),
                targets,
                duration_min=minutes,
                site="plasma" if site == "plasma" else "effect",
                pump=parse_pump("10 mg/mL", "1200 mL/h", "10s"),
            )
            ctx["figure"] = png(
                lambda p: plot_tci(plan, p, title=f"{m.id}: {site}-site TCI, {target}")
            )
            ctx["findings"] = list(plan.findings)
            ctx["total_mg"] = plan.total_mg
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_tci.html", ctx, status_code=422)
    return render(request, "tool_tci.html", ctx)
