"""/api/v1 routes of the clinic day: questionnaire links and the patient's answers (no login: the
one-time token is the credential), appointments and check-in, the day board, the REMS form as
PDF and its submission, FHIR R4 export and import."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ketasim.clinic.api.deps import (
    DB,
    Anyone,
    Clinician,
    Id,
    Recorder,
    actor,
)
from ketasim.clinic.api.schemas import SessionPublic
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.services import appointments as ap
from ketasim.clinic.services import board as bd
from ketasim.clinic.services import fhir, rems_pdf
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import questionnaires as qn
from ketasim.clinic.services import timezones as tz

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkIn(_In):
    instrument: str = Field(max_length=32, description="phq9, gad7 or cssrs-screener")
    kiosk: bool = False
    expires_in_h: float | None = Field(default=None, gt=0, le=336)


class LinkOut(BaseModel):
    url: str
    token: str
    expires_at: dt.datetime
    instrument: str
    kiosk: bool


class AnswersIn(_In):
    answers: list[int] = Field(max_length=20, description="one answer per item, in order")


class AnswersOut(BaseModel):
    instrument: str
    total: int
    message: str


#: days the board and appointments accept (dates beyond overflow date arithmetic)
DAY = Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2199, 12, 31))]
QDAY = Annotated[dt.date | None, Query(ge=dt.date(2000, 1, 1), le=dt.date(2199, 12, 31))]


class ScheduleIn(_In):
    first_day: DAY
    time_utc: dt.time = dt.time(9, 0)
    chair: str = Field(default="", max_length=32)


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    patient_id: int
    plan_id: int
    session_number: int
    starts_at: dt.datetime
    chair: str
    session_id: int | None


class CheckInIn(_In):
    chair: str | None = Field(default=None, max_length=32)


# --- patient-reported outcomes -------------------------------------------------------------------
@router.post("/patients/{patient_id}/questionnaire-links", tags=["questionnaires"], status_code=201)
def links_create(patient_id: Id, body: LinkIn, user: Clinician, database: DB) -> LinkOut:
    """A one-time, expiring link for the patient to answer PHQ-9, GAD-7 or the C-SSRS screener
    (no patient account; the token is shown once and stored hashed)."""
    with database.session() as s:
        new = qn.create_link(
            s,
            actor(user),
            patient_id,
            body.instrument,
            kiosk=body.kiosk,
            expires_in_h=body.expires_in_h,
        )
        return LinkOut(
            url=new.url,
            token=new.token,
            expires_at=new.expires_at,
            instrument=body.instrument,
            kiosk=body.kiosk,
        )


@router.post(
    "/q/{token}", tags=["questionnaires"], status_code=201, responses={404: {}, 410: {}, 422: {}}
)
def answers_submit(
    token: Annotated[str, Path(max_length=100)], body: AnswersIn, database: DB
) -> AnswersOut:
    """The patient's answers (no login): 201 once, 410 Gone on any second use or after expiry."""
    with database.session() as s:
        rating = qn.submit(s, token, body.answers)
        return AnswersOut(
            instrument=rating.scale,
            total=rating.score,
            message="Thank you: your answers were sent to your care team.",
        )


# --- appointments, check-in, board --------------------------------------------------------------
@router.post("/plans/{plan_id}/appointments", tags=["board"], status_code=201)
def appointments_schedule(
    plan_id: Id, body: ScheduleIn, user: Clinician, database: DB
) -> list[AppointmentOut]:
    """Appointments for the signed plan's sessions not yet scheduled (day offsets of the plan
    from ``first_day``, at ``time_utc``)."""
    with database.session() as s:
        return [
            AppointmentOut.model_validate(a)
            for a in ap.schedule_plan(
                s,
                actor(user),
                plan_id,
                first_day=body.first_day,
                time_utc=body.time_utc,
                chair=body.chair,
            )
        ]


@router.get("/appointments", tags=["board"])
def appointments_list(
    user: Anyone,
    database: DB,
    day: QDAY = None,
    patient_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> list[AppointmentOut]:
    with database.read() as s:
        return [
            AppointmentOut.model_validate(a)
            for a in ap.list_appointments(s, day=day, patient_id=patient_id)
        ]


@router.post("/appointments/{appointment_id}/check-in", tags=["board"], status_code=201)
def appointments_check_in(
    appointment_id: Id,
    user: Clinician,
    database: DB,
    body: Annotated[CheckInIn | None, Body()] = None,
) -> SessionPublic:
    """Check the patient in: opens the session of this appointment."""
    with database.session() as s:
        return SessionPublic.model_validate(
            ap.check_in(s, actor(user), appointment_id, chair=None if body is None else body.chair)
        )


@router.get("/board", tags=["board"])
def board(request: Request, user: Anyone, database: DB, day: QDAY = None) -> dict[str, object]:
    """The day board (the clinic's calendar day in ``KETASIM_CLINIC_TZ``): sessions by chair
    with phase and monitoring clocks, plans awaiting signature, ratings due, open alerts, REMS
    forms due."""
    zone = request.app.state.settings.clinic_tz
    with database.read() as s:
        now = clinic_now(s)
        return bd.day_board(s, day or tz.clinic_today(now, zone), now, zone).as_dict()


# --- REMS ---------------------------------------------------------------------------------------
@router.get(
    "/sessions/{session_id}/rems-form.pdf",
    tags=["sessions"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def rems_form_pdf(session_id: Id, user: Anyone, database: DB) -> Response:
    """The SPRAVATO REMS patient monitoring form filled from the session, printable (PDF)."""
    with database.read() as s:
        data = rems_pdf.rems_pdf(s, session_id)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="rems-session-{session_id}.pdf"'},
    )


@router.post("/sessions/{session_id}/rems-submitted", tags=["sessions"])
def rems_submitted(session_id: Id, user: Clinician, database: DB) -> SessionPublic:
    """Record that the session's REMS form was submitted (who and when are recorded)."""
    with database.session() as s:
        return SessionPublic.model_validate(rems_pdf.mark_submitted(s, actor(user), session_id))


# --- FHIR ---------------------------------------------------------------------------------------
@router.get("/patients/{patient_id}/fhir", tags=["fhir"])
def fhir_export(patient_id: Id, user: Anyone, database: DB) -> dict[str, Any]:
    """The patient's record as a FHIR R4 Bundle (Patient, Encounters, MedicationAdministrations,
    LOINC-coded Observations, Consents)."""
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return fhir.export_patient(s, patient_id)


@router.post("/fhir/import", tags=["fhir"], status_code=201)
def fhir_import(
    body: Annotated[dict[str, Any], Body()], user: Recorder, database: DB
) -> dict[str, Any]:
    """Import FHIR R4 Patient and Observation resources (a Bundle or one resource)."""
    with database.session() as s:
        return fhir.import_resources(s, actor(user), body)
