"""The /api/v1 router: health and login here; every other resource has its router in its own
module (users, patients, consent, plans, sessions, ratings, alerts; audit in :mod:`.oversight`),
included below in the order their paths are matched."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from ketasim.clinic.api import alerts, consent, patients, plans, ratings, sessions, users
from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Anyone
from ketasim.clinic.auth import COOKIE_NAME, create_login, revoke_login
from ketasim.clinic.clock import is_test_clock
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import User
from ketasim.clinic.services import users as us
from ketasim.clinic.services.base import ServiceError

__all__ = ["RateLimited", "api_router", "do_login", "router", "set_login_cookie"]

router = APIRouter(prefix="/api/v1")


class RateLimited(ServiceError):  # noqa: N818
    status = 429


# --- health and login --------------------------------------------------------------------------
@router.get("/health", tags=["system"])
def health(database: DB) -> dict[str, str]:
    """Liveness and database reachability (no login needed); ``clock`` is ``"system"``, or
    ``"test"`` when the clinic's clock is not the machine's (a demo or test server)."""
    with database.read() as s:
        s.execute(select(1))
    return {"status": "ok", "clock": "test" if is_test_clock(database.settings.clock) else "system"}


def do_login(
    request: Request, database: Database, username: str, password: str, totp_code: str | None = None
) -> tuple[str, str, str, str]:
    """Check credentials (and the second factor when enrolled), rate-limited by user name and
    by client with attempts in flight counted; return (token, csrf, username, role)."""
    limiter = request.app.state.limiter
    client = request.client.host if request.client else "?"
    wait = limiter.begin(username, client)
    if wait > 0:
        raise RateLimited(f"too many failed logins; try again in {wait:.0f} s", field="username")
    ok = False
    try:
        with database.session() as s:
            user = us.authenticate(s, username, password)
            if user is None:
                raise ServiceError("wrong user name or password", field="password")
            if user.totp_enabled and user.totp_secret:
                if not totp_code:
                    raise ServiceError(
                        "totp_code: the code of your authenticator app is required",
                        field="totp_code",
                    )
                if not request.app.state.totp.verify(user.id, user.totp_secret, totp_code, s):
                    raise ServiceError("totp_code: wrong or already used code", field="totp_code")
            token, csrf = create_login(s, user, request.app.state.settings.session_ttl_s)
            ok = True
            return token, csrf, user.username, user.role
    finally:
        limiter.end(username, client, ok=ok)


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when configured."""
    st = request.app.state.settings
    response.set_cookie(
        COOKIE_NAME,
        token,
        httponly=True,
        samesite="strict",
        secure=st.cookie_secure,
        max_age=st.session_ttl_s,
        path="/",
    )


@router.post("/auth/login", tags=["auth"], responses={400: {}, 429: {}})
def login(request: Request, response: Response, body: sc.LoginIn, database: DB) -> sc.LoginOut:
    """Log in: sets the session cookie and returns a bearer token and the CSRF token."""
    token, csrf, name, role = do_login(
        request, database, body.username, body.password, body.totp_code
    )
    set_login_cookie(request, response, token)
    with database.read() as s:
        user = s.execute(select(User).where(User.username == name)).scalar_one()
        must = bool(user.must_change_password)
    return sc.LoginOut(
        token=token, csrf_token=csrf, username=name, role=role, must_change_password=must
    )


@router.post("/auth/logout", tags=["auth"])
def logout(request: Request, response: Response, user: Anyone, database: DB) -> dict[str, str]:
    """End the current login."""
    auth = request.headers.get("authorization", "")
    token = (
        auth[7:].strip()
        if auth.lower().startswith("bearer ")
        else request.cookies.get(COOKIE_NAME, "")
    )
    with database.session() as s:
        revoke_login(s, token)
    response.delete_cookie(COOKIE_NAME, path="/")
    return {"status": "logged out"}


@router.get("/auth/me", tags=["auth"])
def me(user: Anyone) -> dict[str, str]:
    """Who is logged in."""
    return {"username": user.username, "full_name": user.full_name, "role": user.role}


#: the whole /api/v1 of this module and the resource routers, in their order
api_router = APIRouter()
api_router.include_router(router)
for _resource in (users, patients, consent, plans, sessions, ratings, alerts):
    api_router.include_router(_resource.router)
