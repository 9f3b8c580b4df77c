"""The patient list and a patient's page, with its forms: consent signed or withdrawn,
screening, a plan made (its prediction computed once, here) and ratings."""

from __future__ import annotations

import contextlib

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from ketasim.clinic.api.deps import DB, Anyone, Clinician, FormIn, Id, Prescriber, Recorder, actor
from ketasim.clinic.db import Database
from ketasim.clinic.services import alerts as al
from ketasim.clinic.services import consent as co
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import plans as pl
from ketasim.clinic.services import ratings as ra
from ketasim.clinic.services import screening as scr
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services.base import ServiceError
from ketasim.clinic.web.forms import (
    form_date,
    form_list,
    form_number,
    form_required,
    form_text,
    utc_now,
)
from ketasim.clinic.web.pages.common import router
from ketasim.clinic.web.render import render, see_other
from ketasim.regimens.protocols import available_protocols
from ketasim.safety import default_rules

__all__ = ["patient_page", "patients_page"]


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
                mrn=form_text(form, "mrn"),
                given_name=form_text(form, "given_name"),
                family_name=form_text(form, "family_name"),
                birth_date=form_date(form, "birth_date"),
                sex=form_text(form, "sex"),
                weight_kg=form_required(form, "weight_kg"),
                height_cm=form_number(form, "height_cm"),
                ethnicity=form_text(form, "ethnicity") or "not stated",
                language=form_text(form, "language") or "not stated",
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
    return see_other(f"/patients/{pid}")


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

        fc = forecast_for(s, patient_id, utc_now(s)) if forecast and courses["MADRS"] else None
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
            "today": tz.clinic_today(utc_now(s), database.settings.clinic_tz).isoformat(),
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
    return see_other(target or f"/patients/{patient_id}")


@router.post("/patients/{patient_id}/consent", response_class=HTMLResponse)
def consent_sign(
    request: Request, patient_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    def act(s: object, form: FormData) -> None:
        co.sign_consent(
            s,  # type: ignore[arg-type]
            actor(user),
            patient_id,
            int(form_required(form, "document_id")),
            form_text(form, "signed_by_name"),
        )

    return _patient_action(request, database, patient_id, form, act)


@router.post("/patients/{patient_id}/consent/{consent_id}/withdraw", response_class=HTMLResponse)
def consent_withdraw(
    request: Request, patient_id: Id, consent_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    def act(s: object, form: FormData) -> None:
        co.withdraw_consent(s, actor(user), consent_id, form_text(form, "reason"))  # type: ignore[arg-type]

    return _patient_action(request, database, patient_id, form, act)


@router.post("/patients/{patient_id}/screening", response_class=HTMLResponse)
def screening_create(
    request: Request, patient_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    def act(s: object, form: FormData) -> None:
        preg = form_text(form, "pregnant")
        scr.create_screening(
            s,  # type: ignore[arg-type]
            actor(user),
            patient_id,
            protocol_id=form_text(form, "protocol_id"),
            sbp_mmhg=form_number(form, "sbp_mmhg"),
            dbp_mmhg=form_number(form, "dbp_mmhg"),
            heart_rate_bpm=form_number(form, "heart_rate_bpm"),
            spo2_percent=form_number(form, "spo2_percent"),
            conditions=[c for c in form.getlist("conditions") if isinstance(c, str)],
            medications=form_list(form, "medications"),
            pregnant={"yes": True, "no": False}.get(preg),
            substance_use=form_text(form, "substance_use"),
            history=form_text(form, "history"),
        )

    return _patient_action(request, database, patient_id, form, act)


@router.post("/patients/{patient_id}/plan", response_class=HTMLResponse)
def plan_create(
    request: Request, patient_id: Id, user: Prescriber, database: DB, form: FormIn
) -> Response:
    from ketasim.clinic.services.predictions import ensure

    made: list[int] = []

    def act(s: object, form: FormData) -> str:
        weeks = form_number(form, "weeks")
        p = pl.create_plan(
            s,  # type: ignore[arg-type]
            actor(user),
            patient_id,
            screening_id=int(form_required(form, "screening_id")),
            dose=form_number(form, "dose"),
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
            scale=form_text(form, "scale"),
            score=int(form_required(form, "score")),
            taken_on=form_date(form, "taken_on"),
        )
        return f"/patients/{patient_id}#ratings"

    return _patient_action(request, database, patient_id, form, act)
