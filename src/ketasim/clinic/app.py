"""The app factory: ``create_app(settings)`` builds the database, migrations, routers and pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ketasim.clinic.api.deps import ALL_ROLES, Forbidden, LoginRequired, require
from ketasim.clinic.auth import CurrentUser, LoginRateLimiter
from ketasim.clinic.db import Database, migrate
from ketasim.clinic.services.base import ServiceError
from ketasim.clinic.settings import Settings

__all__ = ["PUBLIC_ROUTES", "create_app"]

#: routes that answer without a login
PUBLIC_ROUTES = frozenset({("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login"),
                           ("GET", "/login"), ("POST", "/login"), ("GET", "/health")})
WEB_DIR = Path(__file__).parent / "web"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings) -> FastAPI:
    """A clinic app on ``settings`` (the database is created and migrated here)."""
    from importlib.metadata import version

    from ketasim.clinic.api.routes import router as api_router
    from ketasim.clinic.web.admin import router as admin_router
    from ketasim.clinic.web.pages import router as web_router
    from ketasim.clinic.web.sessions import router as session_pages_router
    from ketasim.clinic.web.tools import router as tools_router

    database = Database(settings)
    if settings.migrate:
        migrate(database.engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(title="ketasim clinic", version=version("ketasim"), lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None,
                  description="Records and workflow of ketamine and esketamine treatment "
                  "courses; plans and predictions from ketasim's safety checker and models.")
    app.state.settings = settings
    app.state.db = database
    app.state.limiter = LoginRateLimiter(settings.login_max_failures, settings.login_window_s)

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
            return JSONResponse({"detail": "login required"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

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
        return JSONResponse({"detail": f"{first['field']}: {first['message']}",
                             "field": first["field"], "errors": errors}, status_code=422)

    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; "
                                    "style-src 'self'; script-src 'self'")
        if request.url.path.startswith(("/api/", "/patients", "/sessions", "/plans")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: Annotated[CurrentUser, Depends(require(*ALL_ROLES))]
                ) -> dict[str, Any]:
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
    app.include_router(web_router)
    app.include_router(session_pages_router)
    app.include_router(tools_router)
    app.include_router(admin_router)
    import swagger_ui_bundle

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger")
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    return app
