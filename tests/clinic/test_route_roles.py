"""Route x role: every route refuses the roles that must not use it (403) and anonymous
requests (401, or a redirect to the login page for pages). Routes are enumerated from the app,
so a new route without an entry here fails the test."""

from __future__ import annotations

import re
from typing import Any

import pytest
from clinic_support import ROLES, TestClient, login
from fastapi.routing import APIRoute

ANY = frozenset(ROLES)
CLIN = frozenset({"prescriber", "nurse"})
PRESC = frozenset({"prescriber"})
ADMIN = frozenset({"admin"})
REC = frozenset({"admin", "prescriber", "nurse"})
OVERSIGHT = frozenset({"admin", "auditor"})
REPORT = frozenset({"admin", "auditor", "prescriber"})
TOTP = frozenset({"admin", "prescriber"})
PUBLIC = None

EXPECTED: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/api/v1/health"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): ANY,
    ("GET", "/api/v1/auth/me"): ANY,
    ("GET", "/api/v1/openapi.json"): ANY,
    ("GET", "/api/v1/docs"): ANY,
    ("POST", "/api/v1/auth/password"): ANY,
    ("POST", "/api/v1/auth/totp"): TOTP,
    ("POST", "/api/v1/auth/totp/confirm"): TOTP,
    ("POST", "/api/v1/users/{user_id}/password"): ADMIN,
    ("GET", "/account/password"): ANY,
    ("POST", "/account/password"): ANY,
    ("GET", "/account/totp"): TOTP,
    ("POST", "/account/totp"): TOTP,
    ("POST", "/account/totp/confirm"): TOTP,
    ("POST", "/admin/users/{user_id}/password"): ADMIN,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("PATCH", "/api/v1/users/{user_id}"): ADMIN,
    ("GET", "/api/v1/patients"): ANY,
    ("POST", "/api/v1/patients"): REC,
    ("GET", "/api/v1/patients/{patient_id}"): ANY,
    ("PATCH", "/api/v1/patients/{patient_id}"): REC,
    ("GET", "/api/v1/consent-documents"): ANY,
    ("POST", "/api/v1/consent-documents"): ADMIN,
    ("GET", "/api/v1/patients/{patient_id}/consents"): ANY,
    ("POST", "/api/v1/patients/{patient_id}/consents"): CLIN,
    ("POST", "/api/v1/consents/{consent_id}/withdraw"): CLIN,
    ("GET", "/api/v1/patients/{patient_id}/screenings"): ANY,
    ("POST", "/api/v1/patients/{patient_id}/screenings"): CLIN,
    ("GET", "/api/v1/patients/{patient_id}/plans"): ANY,
    ("POST", "/api/v1/patients/{patient_id}/plans"): PRESC,
    ("GET", "/api/v1/plans/{plan_id}"): ANY,
    ("POST", "/api/v1/plans/{plan_id}/sign"): PRESC,
    ("GET", "/api/v1/sessions"): ANY,
    ("POST", "/api/v1/sessions"): CLIN,
    ("GET", "/api/v1/sessions/{session_id}"): ANY,
    ("PATCH", "/api/v1/sessions/{session_id}"): CLIN,
    ("POST", "/api/v1/sessions/{session_id}/predose"): CLIN,
    ("POST", "/api/v1/sessions/{session_id}/dose"): CLIN,
    ("POST", "/api/v1/sessions/{session_id}/observations"): CLIN,
    ("POST", "/api/v1/sessions/{session_id}/adverse-events"): CLIN,
    ("POST", "/api/v1/sessions/{session_id}/discharge"): CLIN,
    ("POST", "/api/v1/sessions/{session_id}/sign"): CLIN,
    ("GET", "/api/v1/sessions/{session_id}/rems-form"): ANY,
    ("POST", "/api/v1/sessions/{session_id}/cancel"): CLIN,
    ("POST", "/api/v1/sessions/{session_id}/amendments"): CLIN,
    ("GET", "/api/v1/patients/{patient_id}/ratings"): ANY,
    ("POST", "/api/v1/patients/{patient_id}/ratings"): CLIN,
    ("GET", "/api/v1/patients/{patient_id}/ratings/{scale}/course"): ANY,
    ("GET", "/api/v1/alerts"): ANY,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): PRESC,
    ("GET", "/api/v1/reports/equity"): REPORT,
    ("GET", "/api/v1/audit"): OVERSIGHT,
    ("GET", "/api/v1/audit/verify"): OVERSIGHT,
    ("GET", "/api/v1/patients/{patient_id}/access-log"): OVERSIGHT,
    # pages
    ("POST", "/logout"): ANY,
    ("GET", "/"): ANY,
    ("GET", "/patients"): ANY,
    ("POST", "/patients"): REC,
    ("GET", "/patients/{patient_id}"): ANY,
    ("POST", "/patients/{patient_id}/consent"): CLIN,
    ("POST", "/patients/{patient_id}/consent/{consent_id}/withdraw"): CLIN,
    ("POST", "/patients/{patient_id}/screening"): CLIN,
    ("POST", "/patients/{patient_id}/plan"): PRESC,
    ("POST", "/patients/{patient_id}/rating"): CLIN,
    ("GET", "/plans/{plan_id}"): ANY,
    ("GET", "/plans/{plan_id}/figures/{index}.png"): ANY,
    ("POST", "/plans/{plan_id}/sign"): PRESC,
    ("POST", "/plans/{plan_id}/session"): CLIN,
    ("GET", "/sessions/{session_id}"): ANY,
    ("POST", "/sessions/{session_id}/{step}"): CLIN,
    ("GET", "/alerts"): ANY,
    ("GET", "/tools/simulate"): ANY,
    ("GET", "/tools/tci"): ANY,
    ("GET", "/tools/tci/manual"): ANY,
    ("GET", "/tools/tci/report.pdf"): ANY,
    ("GET", "/tools/plan"): ANY,
    ("GET", "/tools/trial"): ANY,
    ("POST", "/tools/trial"): ANY,
    ("GET", "/tools/trial/jobs/{job_id}"): ANY,
    ("GET", "/admin"): ADMIN,
    ("POST", "/admin/users"): ADMIN,
    ("POST", "/admin/users/{user_id}/active"): ADMIN,
    ("POST", "/admin/consent-documents"): ADMIN,
    ("GET", "/audit"): OVERSIGHT,
    ("GET", "/reports/equity"): REPORT,
    ("POST", "/alerts/{alert_id}/acknowledge"): PRESC,
    # clinic day (issue 13): the patient's questionnaire answers without a login (the one-time
    # token is the credential); everything else as the records it touches
    ("POST", "/api/v1/patients/{patient_id}/questionnaire-links"): CLIN,
    ("POST", "/api/v1/q/{token}"): PUBLIC,
    ("POST", "/api/v1/plans/{plan_id}/appointments"): CLIN,
    ("GET", "/api/v1/appointments"): ANY,
    ("POST", "/api/v1/appointments/{appointment_id}/check-in"): CLIN,
    ("GET", "/api/v1/board"): ANY,
    ("GET", "/api/v1/sessions/{session_id}/rems-form.pdf"): ANY,
    ("POST", "/api/v1/sessions/{session_id}/rems-submitted"): CLIN,
    ("GET", "/api/v1/patients/{patient_id}/fhir"): ANY,
    ("POST", "/api/v1/fhir/import"): REC,
    ("GET", "/board"): ANY,
    ("POST", "/board/appointments/{appointment_id}/check-in"): CLIN,
    ("POST", "/plans/{plan_id}/appointments"): CLIN,
    ("POST", "/patients/{patient_id}/questionnaire"): CLIN,
    ("GET", "/q/{token}"): PUBLIC,
    ("POST", "/q/{token}"): PUBLIC,
    ("POST", "/sessions/{session_id}/quick-vitals"): CLIN,
    ("POST", "/sessions/{session_id}/infusion"): CLIN,
    ("POST", "/sessions/{session_id}/rems-submitted"): CLIN,
}


def _flatten(routes: list[Any]) -> list[Any]:
    out = []
    for r in routes:
        inner = getattr(r, "original_router", None)  # FastAPI's included routers
        out += _flatten(list(inner.routes)) if inner is not None else [r]
    return out


def _routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for r in _flatten(list(app.routes)):
        if isinstance(r, APIRoute) or hasattr(r, "methods"):
            for m in sorted(r.methods - {"HEAD", "OPTIONS"}):
                out.append((m, r.path))
        else:
            # only the static-asset mounts (CSS, API-docs scripts; no data) may be something else
            assert r.path in ("/static", "/static/swagger"), f"unexpected non-route {r.path}"
    return out


def _url(path: str) -> str:
    path = path.replace("{token}", "not-a-token")
    return re.sub(
        r"\{scale\}", "MADRS", re.sub(r"\{step\}", "vitals", re.sub(r"\{[a-z_]+_id\}", "1", path))
    )


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_public_routes_answer_without_a_login(app: Any) -> None:
    """The public routes answer anonymous requests themselves (no 401, no login redirect); the
    questionnaire routes refuse an unknown token with 404."""
    from ketasim.clinic.app import PUBLIC_ROUTES

    assert {k for k, v in EXPECTED.items() if v is None} == set(PUBLIC_ROUTES)
    anonymous = TestClient(app)
    for method, path in PUBLIC_ROUTES:
        r = anonymous.request(
            method,
            _url(path),
            follow_redirects=False,
            json={"answers": [0]} if path.startswith("/api/v1/q/") else None,
        )
        assert r.status_code not in (401, 303, 403), (method, path, r.status_code)
        if "{token}" in path:
            assert r.status_code == 404, (method, path, r.status_code)


def test_every_route_is_in_the_table(app: Any) -> None:
    routes = set(_routes(app))
    missing = sorted(routes - set(EXPECTED))
    assert not missing, f"routes without an expected role set: {missing}"
    stale = sorted(set(EXPECTED) - routes)
    assert not stale, f"table entries without a route: {stale}"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_routes_refuse_anonymous_and_wrong_roles(app: Any) -> None:
    clients = {role: login(app, role) for role in ROLES}
    anonymous = TestClient(app)
    for method, path in _routes(app):
        allowed = EXPECTED[(method, path)]
        url = _url(path)
        if allowed is None:
            continue
        r = anonymous.request(method, url, follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code)
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (
                method,
                path,
                r.status_code,
            )
        for role in ROLES:
            r = clients[role].request(method, url, follow_redirects=False)
            if path.endswith("/logout"):
                clients[role] = login(app, role)
            if role in allowed:
                assert r.status_code not in (401, 403), (method, path, role, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code)


def test_api_docs_are_served_locally(app: Any) -> None:
    from clinic_support import login

    c = login(app, "nurse")
    page = c.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in page.text and "http" not in page.text
    assert c.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert c.get("/static/swagger-init.js").status_code == 200
    anonymous = TestClient(app).get("/api/v1/docs")
    assert anonymous.status_code == 401
