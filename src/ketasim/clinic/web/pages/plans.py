"""A plan's page (its predicted curves stored when it was made), the prescriber's signature,
and opening the next session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, Response

from ketasim.clinic.api.deps import DB, Anyone, Clinician, FormIn, Id, Prescriber, actor
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import TreatmentPlan
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import plans as pl
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services.base import NotFound, ServiceError, get_or_404
from ketasim.clinic.services.predictions import figures
from ketasim.clinic.web.forms import form_bool
from ketasim.clinic.web.pages.common import router
from ketasim.clinic.web.render import render, see_other

__all__ = ["plan_figure", "plan_page", "plan_sign", "session_open"]


def _plan_page(
    request: Request, database: Database, plan_id: int, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    n = request.app.state.settings.plan_samples
    with database.read() as s:
        row = get_or_404(s, TreatmentPlan, plan_id, "plan")
        patient = pa.get_patient(s, row.patient_id)
    # stored when the plan was made, not simulated per view; the figures themselves are
    # separate, cacheable resources (``plan_figure``), decoded once per process
    pred = figures(database, plan_id, n)
    page = {
        "plan": row,
        "patient": patient,
        "captions": pred.captions,
        "version": pred.version,
        "note": pred.note,
        "effects_note": pred.effects_note,
    }
    return render(request, "plan.html", {**page, **context}, status_code=status_code)


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(request: Request, plan_id: Id, user: Anyone, database: DB) -> HTMLResponse:
    return _plan_page(request, database, plan_id)


@router.get("/plans/{plan_id}/figures/{index}.png", response_class=Response)
def plan_figure(
    request: Request,
    plan_id: Id,
    index: Annotated[int, Path(ge=0, le=15)],
    user: Anyone,
    database: DB,
) -> Response:
    """One predicted-curve figure of the plan page (PNG), with an ETag of the stored
    prediction's version: a browser revalidates it and gets 304 while the plan is unchanged."""
    pred = figures(database, plan_id, request.app.state.settings.plan_samples)
    if index >= len(pred.pngs):
        raise NotFound(
            f"figure: plan {plan_id} has {len(pred.pngs)} figures (index 0-{len(pred.pngs) - 1})"
        )
    etag = f'"{pred.version}-{index}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(pred.pngs[index], media_type="image/png", headers=headers)


def _refused(request: Request, database: Database, plan_id: int, exc: ServiceError) -> Response:
    """The plan page again with what was refused (and a link to the session that blocks a new
    one), not a bare error text."""
    return _plan_page(
        request,
        database,
        plan_id,
        status_code=exc.status,
        error=str(exc),
        open_session_id=exc.extra.get("open_session_id"),
    )


@router.post("/plans/{plan_id}/sign", response_class=HTMLResponse)
def plan_sign(request: Request, plan_id: Id, user: Prescriber, database: DB) -> Response:
    try:
        with database.session() as s:
            pl.sign_plan(s, actor(user), plan_id)
    except ServiceError as exc:
        return _refused(request, database, plan_id, exc)
    return see_other(f"/plans/{plan_id}")


@router.post("/plans/{plan_id}/session", response_class=HTMLResponse)
def session_open(
    request: Request, plan_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    try:
        with database.session() as s:
            x = se.open_session(
                s,
                actor(user),
                plan_id,
                early_request=form_bool(form, "early_request") or False,
                zone=request.app.state.settings.clinic_tz,
            )
            sid = x.id
    except ServiceError as exc:
        return _refused(request, database, plan_id, exc)
    return see_other(f"/sessions/{sid}")
