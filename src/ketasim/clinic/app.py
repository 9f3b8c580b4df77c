"""The app factory: ``create_app(settings)`` builds the database, migrations, routers and pages."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ketasim.clinic.api.deps import (
    ALL_ROLES,
    Forbidden,
    LoginRequired,
    PasswordChangeRequired,
    require,
)
from ketasim.clinic.auth import CurrentUser, LoginCache
from ketasim.clinic.clock import is_test_clock
from ketasim.clinic.db import Database, migrate
from ketasim.clinic.jobs import JobRunner
from ketasim.clinic.security.access import AccessLogger
from ketasim.clinic.security.login_limits import StoredLoginLimiter
from ketasim.clinic.security.totp import TotpReplay
from ketasim.clinic.services.base import ServiceError
from ketasim.clinic.settings import Settings

__all__ = ["PUBLIC_ROUTES", "create_app"]

#: routes that answer without a login
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/auth/login"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/health"),
        # the patient's one-time questionnaire (the token is the credential)
        ("GET", "/q/{token}"),
        ("POST", "/q/{token}"),
        ("POST", "/api/v1/q/{token}"),
    }
)
WEB_DIR = Path(__file__).parent / "web"


_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
    ),
]
_NO_STORE = ("/api/", "/patients", "/sessions", "/plans", "/account", "/tools/trial/jobs")


class _SecurityMiddleware:
    """Security headers on every response, and the access log of patient-record reads (a pure
    ASGI middleware: no per-request task or body copy)."""

    def __init__(self, app: Any, access: AccessLogger) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        status = [0]

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                if path.startswith(_NO_STORE) and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
        who = scope.get("ketasim_user")
        if (
            who is not None
            and scope["method"] == "GET"
            and status[0] == 200
            and self.access.note(
                who[0], who[1], path, scope.get("query_string", b"").decode("latin-1")
            )
        ):
            await run_in_threadpool(self.access.flush)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings) -> FastAPI:
    """A clinic app on ``settings`` (the database is created and migrated here)."""
    from importlib.metadata import version

    from ketasim.clinic.api.account import router as account_api_router
    from ketasim.clinic.api.oversight import router as oversight_router
    from ketasim.clinic.api.routes import api_router
    from ketasim.clinic.api.routes_day import router as day_api_router
    from ketasim.clinic.web.account import router as account_router
    from ketasim.clinic.web.admin import router as admin_router
    from ketasim.clinic.web.day import router as day_router
    from ketasim.clinic.web.pages import router as web_router
    from ketasim.clinic.web.sessions import router as session_pages_router
    from ketasim.clinic.web.tools import router as tools_router

    if is_test_clock(settings.clock):
        logging.getLogger("ketasim.clinic").warning(
            "the clinic clock is %r, not the machine's clock: every time this server records "
            "follows it (a demo or test server, not for patient care)",
            settings.clock,
        )
    database = Database(settings)
    if settings.migrate:
        migrate(database.engine, audit_key=database.audit_key)
    database.anchor()

    jobs = JobRunner(database, settings.trial_timeout_s)
    access = AccessLogger(database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the objects of the loaded libraries (numpy, scipy, the ORM, the models) live as long
        # as the server: take them out of the cyclic collector's full passes
        gc.collect()
        gc.freeze()
        yield
        jobs.shutdown()
        access.flush()
        database.dispose()

    app = FastAPI(
        title="ketasim clinic",
        version=version("ketasim"),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        max_body_size=settings.max_body_bytes,
        description="Records and workflow of ketamine and esketamine treatment "
        "courses; plans and predictions from ketasim's safety checker and models.",
    )
    app.state.settings = settings
    app.state.db = database
    app.state.jobs = jobs
    app.state.access = access
    # the login limit, the replay guard and the jobs live in the database: shared by every
    # server process on it (`ketasim serve --workers N`)
    app.state.limiter = StoredLoginLimiter(
        database,
        settings.login_max_failures,
        settings.login_window_s,
        settings.login_client_max_failures,
    )
    app.state.totp = TotpReplay()

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        if not _is_api(request) and exc.status in (404,):
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        body: dict[str, object] = {"detail": str(exc)}
        if exc.field:
            body["field"] = exc.field
        body.update(exc.extra)
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "login required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def _change_password(request: Request, exc: PasswordChangeRequired) -> Response:
        if _is_api(request):
            return JSONResponse(
                {
                    "detail": "password change required: POST /api/v1/auth/password",
                    "field": "password",
                },
                status_code=403,
            )
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path")]
            errors.append({"field": ".".join(loc) or "body", "message": e.get("msg", "")})
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return JSONResponse(
            {
                "detail": f"{first['field']}: {first['message']}",
                "field": first["field"],
                "errors": errors,
            },
            status_code=422,
        )

    app.state.login_cache = LoginCache()
    app.add_middleware(_SecurityMiddleware, access=access)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: Annotated[CurrentUser, Depends(require(*ALL_ROLES))]) -> dict[str, Any]:
        """The OpenAPI schema of /api/v1 (logged-in users only)."""
        return app.openapi()

    @app.get("/api/v1/docs", include_in_schema=False, response_class=HTMLResponse)
    def api_docs(user: Annotated[CurrentUser, Depends(require(*ALL_ROLES))]) -> str:
        """Interactive OpenAPI docs (Swagger UI served locally; logged-in users only)."""
        return (
            '<!doctype html><html><head><meta charset="utf-8"><title>ketasim API</title>'
            '<link rel="stylesheet" href="/static/swagger/swagger-ui.css"></head><body>'
            '<div id="swagger-ui"></div>'
            '<script src="/static/swagger/swagger-ui-bundle.js"></script>'
            '<script src="/static/swagger-init.js"></script></body></html>'
        )

    app.include_router(api_router)
    app.include_router(account_api_router)
    app.include_router(oversight_router)
    app.include_router(account_router)
    app.include_router(day_api_router)
    app.include_router(day_router)
    app.include_router(web_router)
    app.include_router(session_pages_router)
    app.include_router(tools_router)
    app.include_router(admin_router)
    import swagger_ui  # swagger-ui-py: Swagger UI 5, which reads OpenAPI 3.1

    app.mount(
        "/static/swagger",
        StaticFiles(directory=Path(swagger_ui.__file__).parent / "static"),
        name="swagger",
    )
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    return app
