"""Logging in and out (the form of the API's rate-limited login), and the health check."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from ketasim.clinic.api.deps import DB, Anyone, FormIn
from ketasim.clinic.api.routes import do_login, set_login_cookie
from ketasim.clinic.auth import COOKIE_NAME, revoke_login
from ketasim.clinic.clock import is_test_clock
from ketasim.clinic.services.base import ServiceError
from ketasim.clinic.web.forms import form_text
from ketasim.clinic.web.pages.common import router
from ketasim.clinic.web.render import render, see_other

__all__ = ["health", "login_page", "login_submit", "logout"]


@router.get("/health")
def health(request: Request) -> dict[str, str]:
    """Liveness; ``clock`` as in the API's health (``"test"``: not the machine's clock)."""
    test = is_test_clock(request.app.state.settings.clock)
    return {"status": "ok", "clock": "test" if test else "system"}


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=next if next.startswith("/") else "/")


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, database: DB, form: FormIn) -> Response:
    nxt = form_text(form, "next", "/")
    try:
        token, _csrf, _n, _r = do_login(
            request,
            database,
            form_text(form, "username"),
            form_text(form, "password"),
            form_text(form, "totp_code") or None,
        )
    except ServiceError as exc:
        return render(request, "login.html", status_code=exc.status, error=str(exc), next=nxt)
    response = see_other(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
    set_login_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(request: Request, user: Anyone, database: DB) -> Response:
    with database.session() as s:
        revoke_login(s, request.cookies.get(COOKIE_NAME, ""))
    response = see_other("/login")
    response.delete_cookie(COOKIE_NAME, path="/")
    return response
