"""The simulator page: as ``ketasim simulate`` (and ``ketasim compare`` for an overlay of
several catalogue models)."""

from __future__ import annotations

import numpy as np
from fastapi import Request
from fastapi.responses import HTMLResponse

from ketasim.clinic.api.deps import Anyone
from ketasim.clinic.web import tool_limits as lim
from ketasim.clinic.web.render import render
from ketasim.clinic.web.tools.common import MAX_MIN, PatientQ, Short, Text, model_ids, png, router
from ketasim.errors import KetasimError
from ketasim.patient import Patient

__all__ = ["simulate_page"]


@router.get("/tools/simulate", response_class=HTMLResponse)
def simulate_page(
    request: Request,
    user: Anyone,
    patient: PatientQ,
    model: Short = "domino-1982",
    dose: Text = "",
    route: Short = "iv",
    over: Short = "",
    until: Short = "6h",
    compare: Text = "",
) -> HTMLResponse:
    """Simulator: as ``ketasim simulate --model --dose --route --over --until --plot``;
    ``compare`` (catalogue model ids, or ``all``) overlays several models as ``ketasim compare``."""
    from ketasim.pk import simulate
    from ketasim.regimens import parse_regimen
    from ketasim.report.plots import plot_concentrations
    from ketasim.units import parse_duration_min

    ctx: dict[str, object] = {
        "models": model_ids(),
        "q": dict(request.query_params),
        "model": model,
        "route": route,
        "until": until,
    }
    if dose:
        try:
            m = lim.catalogue_model(model)
            lim.check_doses(dose)
            regimen = parse_regimen(dose, route=route, over=over or None)
            if len(regimen) > lim.MAX_DOSES:
                raise lim.ToolInputError(
                    "dose",
                    f"{len(regimen)} doses; accepted at most "
                    f"{lim.MAX_DOSES} per regimen on this page",
                )
            end = parse_duration_min(until, field="until")
            if not 0 < end <= MAX_MIN:
                raise KetasimError(f"until: accepted up to {MAX_MIN / 1440:g} days")
            lim.check_time_points(int(end) + 1, field="until")
            res = simulate(
                m,
                patient.to_patient(),
                regimen,
                times_min=np.arange(0.0, end + 1.0, 1.0),
            )
            title = f"{m.title}\n" + "; ".join(d.describe() for d in regimen)
            ctx["figure"] = png(lambda p: plot_concentrations(res, p, title=title))
            ctx["findings"] = list(res.findings)
            frame = res.to_dataframe()
            ctx["peaks"] = {c: float(frame[c].max()) for c in frame.columns if c != "time_min"}
            if compare.strip():
                _compare_overlay(ctx, m, compare, res.patient, regimen, res.times_min)
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_simulate.html", ctx, status_code=422)
    return render(request, "tool_simulate.html", ctx)


def _compare_overlay(
    ctx: dict[str, object],
    model: object,
    compare: str,
    patient: Patient,
    regimen: object,
    times: np.ndarray,
) -> None:
    """Add the ``ketasim compare`` overlay and summary of ``model`` and the ``compare`` models
    (comma-separated ids, or ``all`` for every model of the same drug valid for the patient)."""
    from ketasim.catalogue.schema import ModelSpec
    from ketasim.catalogue.select import select_models
    from ketasim.pk import Regimen
    from ketasim.report.compare_plots import plot_comparison
    from ketasim.validation.compare import compare_models

    assert isinstance(model, ModelSpec) and isinstance(regimen, Regimen)
    routes = {d.route for d in regimen}
    if compare.strip().lower() == "all":
        others = [
            o
            for o in select_models(
                weight_kg=patient.weight_kg, age_years=patient.age_years, population=model.setting
            )
            if o.drug == model.drug and routes <= set(o.route_names)
        ]
    else:
        names = [n.strip() for n in compare.split(",") if n.strip()]
        if len(names) > 12:
            raise lim.ToolInputError("compare", f"{len(names)} models; accepted at most 12")
        others = [lim.catalogue_model(n, field="compare") for n in names]
    chosen = [model, *[o for o in others if o.id != model.id]][:12]
    comparison = compare_models(
        chosen, patient, regimen, times_min=times, allow_extrapolation=False
    )
    ctx["compare_figure"] = png(lambda p: plot_comparison(comparison, p))
    ctx["compare_summary"] = comparison.summary()
