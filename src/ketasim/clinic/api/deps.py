"""Request dependencies: the database, the logged-in user, role checks and CSRF."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from ketasim.clinic.auth import (
    COOKIE_NAME,
    CurrentUser,
    LoginCache,
    csrf_matches,
    lookup_login,
    touch_login,
)
from ketasim.clinic.db import Database
from ketasim.clinic.services.base import Actor
from ketasim.clinic.settings import Settings

__all__ = [
    "ALL_ROLES",
    "CLINICIANS",
    "DB",
    "MAX_ID",
    "Admin",
    "Anyone",
    "Clinician",
    "Forbidden",
    "FormIn",
    "Id",
    "LoginRequired",
    "Oversight",
    "PasswordChangeRequired",
    "Prescriber",
    "QId",
    "Recorder",
    "Reporter",
    "actor",
    "app_database",
    "app_settings",
    "db",
    "form_data",
    "require",
    "settings",
]

MAX_ID = 2_147_483_647
#: a record id in a path / an optional one in a query (bounded: no overflow in the database)
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
QId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
ALL_ROLES = ("admin", "prescriber", "nurse", "auditor")
CLINICIANS = ("prescriber", "nurse")
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
#: what a user who must change their password (after an admin's reset) may still do
PASSWORD_CHANGE_PATHS = frozenset(
    {
        "/api/v1/auth/password",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/account/password",
        "/logout",
    }
)


class LoginRequired(Exception):  # noqa: N818
    """No valid login (401 for the API, a redirect to the login page for pages)."""


class PasswordChangeRequired(Exception):  # noqa: N818
    """The user must change their password before anything else (403 / the password page)."""


class Forbidden(Exception):  # noqa: N818
    """Logged in, but the role (or a missing CSRF token) forbids the request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def app_database(request: Request) -> Database:
    """The app's database."""
    database: Database = request.app.state.db
    return database


def app_settings(request: Request) -> Settings:
    """The app's settings."""
    s: Settings = request.app.state.settings
    return s


# Dependencies are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool (a
# thread hop per request for reading an attribute).
async def db(request: Request) -> Database:
    """The app's database (a dependency)."""
    return app_database(request)


async def settings(request: Request) -> Settings:
    """The app's settings (a dependency)."""
    return app_settings(request)


async def form_data(request: Request) -> FormData:
    """The submitted form (read on the event loop; the handler that asks for it can then be a
    plain ``def``, run in the thread pool: its database work never blocks the loop)."""
    return await request.form()


#: the submitted form of a page's POST handler (a dependency)
FormIn = Annotated[FormData, Depends(form_data)]


def _token(request: Request) -> tuple[str | None, bool]:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), False
    return request.cookies.get(COOKIE_NAME), True


def _cached_user(request: Request) -> tuple[CurrentUser | None, str | None, bool]:
    """(the user of a login looked up in the last seconds, the token, whether by cookie)."""
    token, via_cookie = _token(request)
    if not token:
        return None, None, via_cookie
    cache: LoginCache = request.app.state.login_cache
    return cache.get(token, via_cookie), token, via_cookie


def optional_user(request: Request) -> CurrentUser | None:
    """The logged-in user, or None (may read and write the database: call it from a worker
    thread, not the event loop; :func:`require` does)."""
    user, token, via_cookie = _cached_user(request)
    if user is not None or token is None:
        return user
    return _lookup_user(request, token, via_cookie)


def _lookup_user(request: Request, token: str, via_cookie: bool) -> CurrentUser | None:
    cache: LoginCache = request.app.state.login_cache
    generation = LoginCache.generation()
    database = app_database(request)
    with database.read() as s:
        user = lookup_login(
            s, token, via_cookie=via_cookie, idle_s=app_settings(request).session_idle_s
        )
    if user is None:
        return None
    if user.touch_due:
        with database.session() as s:
            touch_login(s, user.login_id)
        user = dataclasses.replace(user, touch_due=False)
    cache.put(token, via_cookie, user, generation)
    return user


def require(*roles: str) -> Callable[[Request], Awaitable[CurrentUser]]:
    """A dependency admitting only ``roles`` (CSRF-checked for cookie logins that write)."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> CurrentUser:
        user, token, via_cookie = _cached_user(request)
        if user is None and token is not None:
            # a database read (and every minute the login's idle-time update, a durable write):
            # in the thread pool, so the event loop never waits for the database
            user = await run_in_threadpool(_lookup_user, request, token, via_cookie)
        if user is None:
            raise LoginRequired()
        if user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
            raise PasswordChangeRequired()
        if user.role not in allowed:
            raise Forbidden(
                f"role {user.role} may not use this; allowed: {', '.join(sorted(allowed))}"
            )
        if request.method in _UNSAFE and user.via_cookie:
            given = request.headers.get("x-csrf-token")
            if given is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                form = await request.form()
                value = form.get("csrf_token")
                given = value if isinstance(value, str) else None
            if not csrf_matches(user.csrf_token, given):
                raise Forbidden("missing or wrong CSRF token")
        request.state.user = user
        request.scope["ketasim_user"] = (user.id, user.username)  # for the access log
        return user

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


def actor(user: CurrentUser) -> Actor:
    """The audit actor of a user."""
    return Actor(user.id, user.username)


#: the app's database, and the logged-in user of the roles a route admits (dependencies shared by
#: the API and the pages)
DB = Annotated[Database, Depends(db)]
Anyone = Annotated[CurrentUser, Depends(require(*ALL_ROLES))]
Admin = Annotated[CurrentUser, Depends(require("admin"))]
Clinician = Annotated[CurrentUser, Depends(require(*CLINICIANS))]
Prescriber = Annotated[CurrentUser, Depends(require("prescriber"))]
Recorder = Annotated[CurrentUser, Depends(require("admin", "prescriber", "nurse"))]
Oversight = Annotated[CurrentUser, Depends(require("admin", "auditor"))]
Reporter = Annotated[CurrentUser, Depends(require("admin", "auditor", "prescriber"))]
