"""Pages for administration and oversight: users, consent documents, the audit log with its
verification, and the access/outcomes (equity) report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from ketasim.clinic import audit
from ketasim.clinic.api.deps import DB, Admin, FormIn, Id, Oversight, Reporter, actor
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import AuditEntry
from ketasim.clinic.services import consent as co
from ketasim.clinic.services import reports as rp
from ketasim.clinic.services import users as us
from ketasim.clinic.services.base import ServiceError
from ketasim.clinic.web.forms import form_text
from ketasim.clinic.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _admin_page(
    request: Request, database: Database, status_code: int = 200, error: str = ""
) -> HTMLResponse:
    with database.read() as s:
        users = us.list_users(s)
        documents = co.list_documents(s)
    return render(
        request,
        "admin.html",
        {"users": users, "documents": documents},
        status_code=status_code,
        error=error,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, user: Admin, database: DB) -> HTMLResponse:
    return _admin_page(request, database)


@router.post("/admin/users", response_class=HTMLResponse)
def admin_user_create(request: Request, user: Admin, database: DB, form: FormIn) -> Response:
    try:
        with database.session() as s:
            us.create_user(
                s,
                actor(user),
                username=form_text(form, "username"),
                full_name=form_text(form, "full_name"),
                role=form_text(form, "role"),
                password=form_text(form, "password"),
            )
    except ServiceError as exc:
        return _admin_page(request, database, exc.status, str(exc))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}/active", response_class=HTMLResponse)
def admin_user_active(
    request: Request, user_id: Id, user: Admin, database: DB, form: FormIn
) -> Response:
    try:
        with database.session() as s:
            us.set_active(s, actor(user), user_id, form_text(form, "active") == "yes")
    except ServiceError as exc:
        return _admin_page(request, database, exc.status, str(exc))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def admin_user_password(
    request: Request, user_id: Id, user: Admin, database: DB, form: FormIn
) -> Response:
    try:
        with database.session() as s:
            us.reset_password(s, actor(user), user_id, new_password=form_text(form, "new_password"))
    except ServiceError as exc:
        return _admin_page(request, database, exc.status, str(exc))
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/consent-documents", response_class=HTMLResponse)
def admin_document_create(request: Request, user: Admin, database: DB, form: FormIn) -> Response:
    try:
        with database.session() as s:
            co.create_document(
                s,
                actor(user),
                code=form_text(form, "code"),
                title=form_text(form, "title"),
                body=form_text(form, "body"),
            )
    except ServiceError as exc:
        return _admin_page(request, database, exc.status, str(exc))
    return RedirectResponse("/admin", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: Oversight, database: DB) -> HTMLResponse:
    request.app.state.access.flush()
    with database.read() as s:
        n, problems = audit.verify_chain(s)
        entries = list(
            s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(200)).scalars()
        )
    return render(request, "audit.html", {"entries": entries, "n": n, "problems": problems})


@router.get("/reports/equity", response_class=HTMLResponse)
def equity_page(
    request: Request,
    user: Reporter,
    database: DB,
    dimension: Annotated[str, Query(max_length=32)] = "sex",
    min_cell: Annotated[int, Query(ge=1, le=100)] = 5,
) -> HTMLResponse:
    try:
        with database.read() as s:
            report = rp.equity_report(s, dimension, min_cell=min_cell)
    except ServiceError as exc:
        return render(
            request,
            "equity.html",
            {"report": None, "dimensions": rp.DIMENSIONS, "metrics": rp.METRICS},
            status_code=exc.status,
            error=str(exc),
        )
    return render(
        request,
        "equity.html",
        {"report": report, "dimensions": rp.DIMENSIONS, "metrics": rp.METRICS},
    )
