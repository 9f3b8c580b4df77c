"""Account pages: change your password (also where a reset sends you), the optional second
factor for prescribers and admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from ketasim.clinic.api.account import current_token
from ketasim.clinic.api.deps import ALL_ROLES, FormIn, actor, db, require
from ketasim.clinic.auth import CurrentUser
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import User
from ketasim.clinic.security.totp import TOTP_ROLES, provisioning_uri
from ketasim.clinic.services import users as us
from ketasim.clinic.services.base import ServiceError
from ketasim.clinic.web.forms import form_text
from ketasim.clinic.web.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
DB = Annotated[Database, Depends(db)]
Anyone = Annotated[CurrentUser, Depends(require(*ALL_ROLES))]
TotpUser = Annotated[CurrentUser, Depends(require(*TOTP_ROLES))]


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, user: Anyone) -> HTMLResponse:
    return render(request, "account_password.html")


@router.post("/account/password", response_class=HTMLResponse)
def password_submit(request: Request, user: Anyone, database: DB, form: FormIn) -> Response:
    try:
        with database.session() as s:
            us.change_password(
                s,
                actor(user),
                user.id,
                current_password=form_text(form, "current_password"),
                new_password=form_text(form, "new_password"),
                keep_token=current_token(request),
            )
    except ServiceError as exc:
        return render(request, "account_password.html", status_code=exc.status, error=str(exc))
    return RedirectResponse("/patients", status_code=303)


def _totp_ctx(database: Database, user: CurrentUser) -> dict[str, object]:
    with database.read() as s:
        u = s.execute(select(User).where(User.id == user.id)).scalar_one()
        return {"enabled": u.totp_enabled}


@router.get("/account/totp", response_class=HTMLResponse)
def totp_page(request: Request, user: TotpUser, database: DB) -> HTMLResponse:
    return render(request, "account_totp.html", _totp_ctx(database, user))


@router.post("/account/totp", response_class=HTMLResponse)
def totp_begin(request: Request, user: TotpUser, database: DB) -> Response:
    try:
        with database.session() as s:
            secret = us.totp_begin(s, actor(user), user.id)
    except ServiceError as exc:
        return render(
            request,
            "account_totp.html",
            _totp_ctx(database, user),
            status_code=exc.status,
            error=str(exc),
        )
    return render(
        request,
        "account_totp.html",
        {"enabled": False, "secret": secret, "uri": provisioning_uri(secret, user.username)},
    )


@router.post("/account/totp/confirm", response_class=HTMLResponse)
def totp_confirm(request: Request, user: TotpUser, database: DB, form: FormIn) -> Response:
    try:
        with database.session() as s:
            us.totp_confirm(
                s, actor(user), user.id, form_text(form, "code"), request.app.state.totp
            )
    except ServiceError as exc:
        return render(
            request,
            "account_totp.html",
            _totp_ctx(database, user),
            status_code=exc.status,
            error=str(exc),
        )
    return RedirectResponse("/account/totp", status_code=303)
