"""The plan page: as ``ketasim plan --protocol --patient`` for a patient typed in (not a
record)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from ketasim.clinic.api.deps import Anyone
from ketasim.clinic.web.render import render
from ketasim.clinic.web.tools.common import Short, Weight, router
from ketasim.errors import KetasimError
from ketasim.regimens.protocols import available_protocols

__all__ = ["plan_tool_page"]


@router.get("/tools/plan", response_class=HTMLResponse)
def plan_tool_page(
    request: Request,
    user: Anyone,
    protocol: Short = "",
    age_years: Annotated[float, Query(ge=0.0, le=120.0)] = 45.0,
    weight_kg: Weight = 70.0,
    sex: Short = "",
    sbp_mmhg: Annotated[float | None, Query(ge=40.0, le=300.0)] = None,
    dbp_mmhg: Annotated[float | None, Query(ge=20.0, le=200.0)] = None,
) -> HTMLResponse:
    """Plan: as ``ketasim plan --protocol --patient`` (a patient typed in, not a record)."""
    from ketasim.report.plan_report import plan_figures
    from ketasim.safety import default_rules, make_plan, parse_patient_record

    ctx: dict[str, object] = {
        "protocols": available_protocols(),
        "q": dict(request.query_params),
        "protocol": protocol,
    }
    if protocol:
        try:
            proto = next((p for p in available_protocols() if p.id == protocol), None)
            if proto is None:
                raise KetasimError(f"protocol: unknown {protocol!r}")
            data: dict[str, object] = {"age_years": age_years, "weight_kg": weight_kg}
            if sex:
                data["sex"] = sex
            if sbp_mmhg is not None and dbp_mmhg is not None:
                data.update(sbp_mmhg=sbp_mmhg, dbp_mmhg=dbp_mmhg)
            rules = default_rules()
            plan = make_plan(
                proto,
                parse_patient_record(data, rules),
                rules=rules,
                n_samples=request.app.state.settings.plan_samples,
                rng=1,
            )
            ctx.update(plan=plan, figures=plan_figures(plan))
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_plan.html", ctx, status_code=422)
    return render(request, "tool_plan.html", ctx)
