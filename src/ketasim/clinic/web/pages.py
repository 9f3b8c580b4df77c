"""Server-rendered pages for the clinic workflow (login, patients, consent, screening, plan with
its predicted curves, sessions with vitals, rating scales with the response chart, alerts) and
the simulator page calling the same functions as the CLI."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from ketasim.clinic.api.deps import (
    ALL_ROLES,
    CLINICIANS,
    FormIn,
    Id,
    actor,
    db,
    optional_user,
    require,
)
from ketasim.clinic.api.routes import do_login, set_login_cookie
from ketasim.clinic.auth import COOKIE_NAME, CurrentUser, revoke_login
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import TreatmentPlan
from ketasim.clinic.services import alerts as al
from ketasim.clinic.services import consent as co
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import plans as pl
from ketasim.clinic.services import ratings as ra
from ketasim.clinic.services import screening as scr
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services.base import Invalid, ServiceError, get_or_404
from ketasim.regimens.protocols import available_protocols
from ketasim.safety import default_rules

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_templates: list[Jinja2Templates] = []
DB = Annotated[Database, Depends(db)]
Anyone = Annotated[CurrentUser, Depends(require(*ALL_ROLES))]
Clinician = Annotated[CurrentUser, Depends(require(*CLINICIANS))]
Prescriber = Annotated[CurrentUser, Depends(require("prescriber"))]
Recorder = Annotated[CurrentUser, Depends(require("admin", "prescriber", "nurse"))]


def templates() -> Jinja2Templates:
    """The template set (built on first use, not at import)."""
    if not _templates:
        t = Jinja2Templates(directory=Path(__file__).parent / "templates")
        t.env.filters["clinic_time"] = _clinic_time
        _templates.append(t)
    return _templates[0]


def _clinic_time(value: dt.datetime | None, zone: str) -> str:
    """A stored (naive UTC) time as clock time of the clinic's zone, e.g. ``2026-01-05 11:00
    CET``."""
    shown = tz.local(value, zone)
    return "" if shown is None else shown.strftime("%Y-%m-%d %H:%M %Z")


def render(
    request: Request,
    name: str,
    ctx: Mapping[str, object] | None = None,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    """Render a page with the current user and CSRF token."""
    user = getattr(request.state, "user", None) or optional_user(request)
    zone = request.app.state.settings.clinic_tz
    return templates().TemplateResponse(
        request, name, {"user": user, "tz": zone, **(ctx or {}), **context}, status_code=status_code
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _text(form: FormData, name: str, default: str = "") -> str:
    v = form.get(name)
    return v.strip() if isinstance(v, str) else default


def _num(form: FormData, name: str, *, required: bool = False) -> float | None:
    raw = _text(form, name)
    if not raw:
        if required:
            raise Invalid(name, "required")
        return None
    try:
        return float(raw)
    except ValueError:
        raise Invalid(name, f"{raw!r} is not a number") from None


def _req(form: FormData, name: str) -> float:
    v = _num(form, name, required=True)
    assert v is not None
    return v


def _bool(form: FormData, name: str) -> bool | None:
    raw = _text(form, name)
    return {"yes": True, "no": False, "on": True}.get(raw)


def _date(form: FormData, name: str) -> dt.date:
    raw = _text(form, name)
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _time(form: FormData, name: str, zone: str = "UTC") -> dt.datetime | None:
    """A form's time: clock time of the clinic's zone (an explicit offset wins), as naive UTC."""
    raw = _text(form, name)
    if not raw:
        return None
    try:
        return tz.from_clinic_clock(dt.datetime.fromisoformat(raw), zone, name)
    except ValueError:
        raise Invalid(name, f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None


def _list(form: FormData, name: str) -> list[str]:
    return [x.strip() for x in _text(form, name).replace("\n", ",").split(",") if x.strip()]


# --- login ---------------------------------------------------------------------------------------
@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=next if next.startswith("/") else "/")


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, database: DB, form: FormIn) -> Response:
    nxt = _text(form, "next", "/")
    try:
        token, _csrf, _n, _r = do_login(
            request,
            database,
            _text(form, "username"),
            _text(form, "password"),
            _text(form, "totp_code") or None,
        )
    except ServiceError as exc:
        return render(request, "login.html", status_code=exc.status, error=str(exc), next=nxt)
    response = _redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
    set_login_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(request: Request, user: Anyone, database: DB) -> Response:
    with database.session() as s:
        revoke_login(s, request.cookies.get(COOKIE_NAME, ""))
    response = _redirect("/login")
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


# --- patients ------------------------------------------------------------------------------------
@router.get("/patients", response_class=HTMLResponse)
def patients_page(
    request: Request, user: Anyone, database: DB, q: str | None = None
) -> HTMLResponse:
    with database.read() as s:
        patients = pa.list_patients(s, q=q)
        open_alerts = len(al.list_alerts(s, open_only=True))
    return render(request, "patients.html", patients=patients, q=q or "", open_alerts=open_alerts)


@router.post("/patients", response_class=HTMLResponse)
def patient_create(request: Request, user: Recorder, database: DB, form: FormIn) -> Response:
    try:
        with database.session() as s:
            p = pa.create_patient(
                s,
                actor(user),
                mrn=_text(form, "mrn"),
                given_name=_text(form, "given_name"),
                family_name=_text(form, "family_name"),
                birth_date=_date(form, "birth_date"),
                sex=_text(form, "sex"),
                weight_kg=_req(form, "weight_kg"),
                height_cm=_num(form, "height_cm"),
                ethnicity=_text(form, "ethnicity") or "not stated",
                language=_text(form, "language") or "not stated",
            )
            pid = p.id
    except ServiceError as exc:
        with database.session() as s:
            patients = pa.list_patients(s)
        return render(
            request,
            "patients.html",
            status_code=exc.status,
            error=str(exc),
            patients=patients,
            q="",
            open_alerts=0,
        )
    return _redirect(f"/patients/{pid}")


def _patient_context(
    database: Database, patient_id: Id, *, forecast: bool = False
) -> dict[str, object]:
    """The patient page's data; ``forecast``: the MADRS forecast too (on demand: ~0.1-0.25 s)."""
    with database.read() as s:
        patient = pa.get_patient(s, patient_id)
        ratings = ra.list_ratings(s, patient_id)
        courses = {scale: ra.course(ratings, scale) for scale in ra.SCALES}
        from ketasim.clinic.services.forecast import NOT_FORECAST, forecast_for
        from ketasim.clinic.web.score_charts import score_charts

        fc = forecast_for(s, patient_id, _now()) if forecast and courses["MADRS"] else None
        charts = score_charts(s, patient_id, courses, fc)
        return {
            "patient": patient,
            "age": pa.age_years(patient.birth_date),
            "documents": [d for d in co.list_documents(s) if d.current],
            "consents": co.list_consents(s, patient_id),
            "current_consent": co.current_consent(s, patient_id),
            "screenings": scr.list_screenings(s, patient_id),
            "plans": pl.list_plans(s, patient_id),
            "sessions": se.list_sessions(s, patient_id, collections=False),
            "courses": courses,
            "charts": charts,
            "forecast": fc,
            "not_forecast": NOT_FORECAST,
            "alerts": al.list_alerts(s, patient_id=patient_id),
            "protocols": available_protocols(),
            "conditions": default_rules().conditions,
            "today": dt.date.today().isoformat(),
        }


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    request: Request,
    patient_id: Id,
    user: Anyone,
    database: DB,
    msg: str = "",
    forecast: bool = False,
) -> HTMLResponse:
    return render(
        request, "patient.html", _patient_context(database, patient_id, forecast=forecast), msg=msg
    )


def _patient_action(
    request: Request, database: Database, patient_id: Id, form: FormData, action: object
) -> Response:
    try:
        with database.session() as s:
            target = action(s, form)  # type: ignore[operator]
    except ServiceError as exc:
        return render(
            request,
            "patient.html",
            status_code=exc.status,
            error=str(exc),
            ctx=_patient_context(database, patient_id),
            msg="",
        )
    return _redirect(target or f"/patients/{patient_id}")


@router.post("/patients/{patient_id}/consent", response_class=HTMLResponse)
def consent_sign(
    request: Request, patient_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    def act(s: object, form: FormData) -> None:
        co.sign_consent(
            s,  # type: ignore[arg-type]
            actor(user),
            patient_id,
            int(_req(form, "document_id")),
            _text(form, "signed_by_name"),
        )

    return _patient_action(request, database, patient_id, form, act)


@router.post("/patients/{patient_id}/consent/{consent_id}/withdraw", response_class=HTMLResponse)
def consent_withdraw(
    request: Request, patient_id: Id, consent_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    def act(s: object, form: FormData) -> None:
        co.withdraw_consent(s, actor(user), consent_id, _text(form, "reason"))  # type: ignore[arg-type]

    return _patient_action(request, database, patient_id, form, act)


@router.post("/patients/{patient_id}/screening", response_class=HTMLResponse)
def screening_create(
    request: Request, patient_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    def act(s: object, form: FormData) -> None:
        preg = _text(form, "pregnant")
        scr.create_screening(
            s,  # type: ignore[arg-type]
            actor(user),
            patient_id,
            protocol_id=_text(form, "protocol_id"),
            sbp_mmhg=_num(form, "sbp_mmhg"),
            dbp_mmhg=_num(form, "dbp_mmhg"),
            heart_rate_bpm=_num(form, "heart_rate_bpm"),
            spo2_percent=_num(form, "spo2_percent"),
            conditions=[c for c in form.getlist("conditions") if isinstance(c, str)],
            medications=_list(form, "medications"),
            pregnant={"yes": True, "no": False}.get(preg),
            substance_use=_text(form, "substance_use"),
            history=_text(form, "history"),
        )

    return _patient_action(request, database, patient_id, form, act)


@router.post("/patients/{patient_id}/plan", response_class=HTMLResponse)
def plan_create(
    request: Request, patient_id: Id, user: Prescriber, database: DB, form: FormIn
) -> Response:
    from ketasim.clinic.services.predictions import ensure

    made: list[int] = []

    def act(s: object, form: FormData) -> str:
        weeks = _num(form, "weeks")
        p = pl.create_plan(
            s,  # type: ignore[arg-type]
            actor(user),
            patient_id,
            screening_id=int(_req(form, "screening_id")),
            dose=_num(form, "dose"),
            weeks=None if weeks is None else int(weeks),
        )
        made.append(p.id)
        return f"/plans/{p.id}"

    response = _patient_action(request, database, patient_id, form, act)
    if made:  # the prediction is computed once, when the plan is made
        # on failure the plan page computes it (and shows why it cannot) on first view
        with contextlib.suppress(ServiceError):
            ensure(database, made[0], request.app.state.settings.plan_samples)
    return response


@router.post("/patients/{patient_id}/rating", response_class=HTMLResponse)
def rating_create(
    request: Request, patient_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    def act(s: object, form: FormData) -> str:
        ra.add_rating(
            s,  # type: ignore[arg-type]
            actor(user),
            patient_id,
            scale=_text(form, "scale"),
            score=int(_req(form, "score")),
            taken_on=_date(form, "taken_on"),
        )
        return f"/patients/{patient_id}#ratings"

    return _patient_action(request, database, patient_id, form, act)


# --- plans ---------------------------------------------------------------------------------------
@router.get("/plans/{plan_id}", response_class=HTMLResponse)
def plan_page(request: Request, plan_id: Id, user: Anyone, database: DB) -> HTMLResponse:
    from ketasim.clinic.services.predictions import ensure

    n = request.app.state.settings.plan_samples
    with database.read() as s:
        row = get_or_404(s, TreatmentPlan, plan_id, "plan")
        patient = pa.get_patient(s, row.patient_id)
    pred = ensure(database, plan_id, n)  # stored when the plan was made, not simulated per view
    return render(
        request,
        "plan.html",
        plan=row,
        patient=patient,
        figures=pred["figures"],
        note=pred["note"],
        effects_note=pred["effects_note"],
    )


@router.post("/plans/{plan_id}/sign", response_class=HTMLResponse)
def plan_sign(request: Request, plan_id: Id, user: Prescriber, database: DB) -> Response:
    try:
        with database.session() as s:
            pl.sign_plan(s, actor(user), plan_id)
    except ServiceError as exc:
        return HTMLResponse(
            f"<p class=error>{exc}</p><p><a href='/plans/{plan_id}'>back</a>",
            status_code=exc.status,
        )
    return _redirect(f"/plans/{plan_id}")


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
                early_request=_bool(form, "early_request") or False,
                zone=request.app.state.settings.clinic_tz,
            )
            sid = x.id
    except ServiceError as exc:
        return HTMLResponse(
            f"<p class=error>{exc}</p><p><a href='/plans/{plan_id}'>back</a>",
            status_code=exc.status,
        )
    return _redirect(f"/sessions/{sid}")


# --- alerts --------------------------------------------------------------------------------------
@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, user: Anyone, database: DB) -> HTMLResponse:
    with database.read() as s:
        alerts = al.list_alerts(s)
    return render(request, "alerts.html", alerts=alerts)


@router.post("/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def alert_ack(request: Request, alert_id: Id, user: Prescriber, database: DB) -> Response:
    with database.session() as s:
        al.acknowledge(s, actor(user), alert_id)
    return _redirect("/alerts")
