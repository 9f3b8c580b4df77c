"""Pages of the clinic day: the day board (the landing page), check-in, the patient's
questionnaire (one-time link or kiosk hand-over, no login), quick vitals with clock time, IV
infusion details and the REMS form's submission."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from ketasim.clinic.api.deps import (
    DB,
    Anyone,
    Clinician,
    FormIn,
    Id,
    actor,
)
from ketasim.clinic.auth import COOKIE_NAME, revoke_login
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import TreatmentSession
from ketasim.clinic.services import appointments as ap
from ketasim.clinic.services import board as bd
from ketasim.clinic.services import questionnaires as qn
from ketasim.clinic.services import rems_pdf
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services.base import Invalid, ServiceError, get_or_404
from ketasim.clinic.services.instruments import INSTRUMENTS
from ketasim.clinic.web.forms import form_number, form_text, form_time, utc_now
from ketasim.clinic.web.render import render, see_other
from ketasim.clinic.web.sessions import vitals_from_form

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=100)]


# --- board ---------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
@router.get("/board", response_class=HTMLResponse)
def board_page(
    request: Request,
    user: Anyone,
    database: DB,
    day: Annotated[dt.date | None, Query(ge=dt.date(2000, 1, 1), le=dt.date(2199, 12, 31))] = None,
    error: str = "",
) -> HTMLResponse:
    """The day board: the landing page after login."""
    zone = request.app.state.settings.clinic_tz
    with database.read() as s:
        now = utc_now(s)
        board = bd.day_board(s, day or tz.clinic_today(now, zone), now, zone)
    return render(
        request,
        "board.html",
        board=board,
        error=error,
        instruments=[i for i in INSTRUMENTS.values() if i.self_report],
    )


@router.post("/board/appointments/{appointment_id}/check-in", response_class=HTMLResponse)
def board_check_in(request: Request, appointment_id: Id, user: Clinician, database: DB) -> Response:
    try:
        with database.session() as s:
            sid = ap.check_in(s, actor(user), appointment_id).id
    except ServiceError as exc:
        return board_page(request, user, database, error=str(exc))
    return see_other(f"/sessions/{sid}")


@router.post("/plans/{plan_id}/appointments", response_class=HTMLResponse)
def plan_schedule(
    request: Request, plan_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    try:
        raw_day, raw_time = form_text(form, "first_day"), form_text(form, "time_utc") or "09:00"
        try:
            first_day = dt.date.fromisoformat(raw_day)
        except ValueError:
            raise Invalid("first_day", f"{raw_day!r} is not a date (YYYY-MM-DD)") from None
        try:
            at = dt.time.fromisoformat(raw_time)
        except ValueError:
            raise Invalid("time_utc", f"{raw_time!r} is not a clock time (HH:MM)") from None
        with database.session() as s:
            ap.schedule_plan(
                s,
                actor(user),
                plan_id,
                first_day=first_day,
                time_utc=at,
                chair=form_text(form, "chair"),
            )
    except ServiceError as exc:
        return HTMLResponse(
            f"<p class=error>{exc}</p><p><a href='/plans/{plan_id}'>back</a>",
            status_code=exc.status,
        )
    return see_other("/board")


# --- patient questionnaires ---------------------------------------------------------------------
@router.post("/patients/{patient_id}/questionnaire", response_class=HTMLResponse)
def questionnaire_start(
    request: Request, patient_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    """``mode=link``: a one-time link to give the patient; ``mode=kiosk``: hand this tablet over
    locked (the staff login ends here; leaving the kiosk needs a staff login)."""
    kiosk = form_text(form, "mode") == "kiosk"
    try:
        with database.session() as s:
            new = qn.create_link(
                s, actor(user), patient_id, form_text(form, "instrument"), kiosk=kiosk
            )
    except ServiceError as exc:
        return HTMLResponse(
            f"<p class=error>{exc}</p><p><a href='/patients/{patient_id}'>back</a>",
            status_code=exc.status,
        )
    if not kiosk:
        return render(
            request,
            "q_link.html",
            link=new,
            patient_id=patient_id,
            base=str(request.base_url).rstrip("/"),
        )
    with database.session() as s:
        revoke_login(s, request.cookies.get(COOKIE_NAME, ""))
    response = see_other(new.url)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


def _link_refused(request: Request, exc: ServiceError) -> HTMLResponse:
    """The page of an unknown (404), used or expired (410) link."""
    return render(
        request,
        "q_done.html",
        user=None,
        status_code=exc.status,
        error=str(exc),
        kiosk=False,
        inst=None,
        patient_id=None,
    )


@router.get("/q/{token}", response_class=HTMLResponse)
def questionnaire_form(request: Request, token: Token, database: DB) -> HTMLResponse:
    """The patient's form (no login; the one-time token is the credential)."""
    try:
        with database.read() as s:
            link, inst = qn.open_link(s, token)
            kiosk = link.kiosk
    except ServiceError as exc:
        return _link_refused(request, exc)
    return render(request, "q_form.html", user=None, inst=inst, token=token, kiosk=kiosk, values={})


@router.post("/q/{token}", response_class=HTMLResponse)
def questionnaire_submit(
    request: Request, token: Token, database: DB, form: FormIn
) -> HTMLResponse:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        with database.read() as s:
            link, inst = qn.open_link(s, token)
            kiosk, patient_id = link.kiosk, link.patient_id
    except ServiceError as exc:
        return _link_refused(request, exc)
    try:
        answers = []
        for i in range(len(inst.items)):
            raw = values.get(f"item{i}", "")
            if raw == "":
                if inst.code == "cssrs-screener" and (i in (2, 3, 4) or i == 6):
                    raw = "0"  # not asked after a no to question 2 / question 6
                else:
                    raise Invalid(f"item{i}", f"question {i + 1} is not answered")
            answers.append(int(raw) if raw.isdigit() else -1)
        with database.session() as s:
            qn.submit(s, token, answers)
    except ServiceError as exc:
        return render(
            request,
            "q_form.html",
            user=None,
            inst=inst,
            token=token,
            kiosk=kiosk,
            values=values,
            error=str(exc),
            status_code=exc.status,
        )
    return render(
        request,
        "q_done.html",
        user=None,
        kiosk=kiosk,
        inst=inst,
        patient_id=patient_id,
        status_code=201,
    )


# --- session additions ---------------------------------------------------------------------------
@router.post("/sessions/{session_id}/quick-vitals", response_class=HTMLResponse)
def quick_vitals(
    request: Request, session_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    """One row of vitals with its clock time (minutes after the dose computed); the page comes
    back at the vitals table; on an error the typed values stay and the error shows inline."""
    st = request.app.state.settings
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        with database.session() as s:
            row = get_or_404(s, TreatmentSession, session_id, "session")
            clock = form_text(form, "clock")
            taken = utc_now(s)
            if clock:
                try:
                    t = dt.time.fromisoformat(clock)
                except ValueError:
                    raise Invalid("clock", f"{clock!r} is not a clock time (HH:MM)") from None
                # clock time of the clinic's zone on the (local) day of the dose, or on the
                # next day when the session has run past midnight (that time is before the
                # dose there, and the next day's is not in the future)
                day = tz.local(row.dose_start_at or taken, st.clinic_tz)
                assert day is not None
                on_day = [
                    tz.from_clinic_clock(
                        dt.datetime.combine(day.date() + dt.timedelta(days=k), t),
                        st.clinic_tz,
                        "clock",
                    )
                    for k in (0, 1)
                ]
                assert on_day[0] is not None and on_day[1] is not None
                past_midnight = (
                    row.dose_start_at is not None
                    and on_day[0] < row.dose_start_at
                    and on_day[1] <= taken
                )
                taken = on_day[1] if past_midnight else on_day[0]
            ref = row.dose_start_at or taken
            se.add_observation(
                s,
                actor(user),
                session_id,
                minutes_after_dose=round((taken - ref).total_seconds() / 60.0, 1),
                taken_at=taken,
                bp_alert=(st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg),
                **vitals_from_form(form),
            )
    except ServiceError as exc:
        return _session_with_error(request, database, session_id, exc, values, "quick")
    return see_other(f"/sessions/{session_id}#quick-vitals")


@router.post("/sessions/{session_id}/infusion", response_class=HTMLResponse)
def infusion(
    request: Request, session_id: Id, user: Clinician, database: DB, form: FormIn
) -> Response:
    """IV infusion rate (mL/h), volume (mL), start and stop (clock time of the clinic's zone)."""
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        rate, volume = (
            form_number(form, "infusion_rate_ml_per_h"),
            form_number(form, "infusion_volume_ml"),
        )
        for name, v, top in (
            ("infusion_rate_ml_per_h", rate, 2000),
            ("infusion_volume_ml", volume, 5000),
        ):
            if v is not None and not 0 < v <= top:
                raise Invalid(name, f"{v:g} is out of range; accepted > 0 to {top}")
        zone = request.app.state.settings.clinic_tz
        start = form_time(form, "infusion_start_at", zone)
        stop = form_time(form, "infusion_stop_at", zone)
        with database.session() as s:
            se.update_session(
                s,
                actor(user),
                session_id,
                {
                    "infusion_rate_ml_per_h": rate,
                    "infusion_volume_ml": volume,
                    "infusion_start_at": start,
                    "infusion_stop_at": stop,
                },
            )
    except ServiceError as exc:
        return _session_with_error(request, database, session_id, exc, values, "infusion")
    return see_other(f"/sessions/{session_id}#infusion")


@router.post("/sessions/{session_id}/rems-submitted", response_class=HTMLResponse)
def rems_submitted(request: Request, session_id: Id, user: Clinician, database: DB) -> Response:
    try:
        with database.session() as s:
            rems_pdf.mark_submitted(s, actor(user), session_id)
    except ServiceError as exc:
        return _session_with_error(request, database, session_id, exc, {}, "rems")
    return see_other(f"/sessions/{session_id}#rems")


def _session_with_error(
    request: Request,
    database: Database,
    session_id: int,
    exc: ServiceError,
    values: dict[str, str],
    form: str,
) -> HTMLResponse:
    from ketasim.clinic.web.sessions import _session_context

    ctx = _session_context(database, session_id, request.app.state.settings.clinic_tz)
    return render(
        request,
        "session.html",
        ctx,
        status_code=exc.status,
        error=str(exc),
        form_values=values,
        form_error={"form": form, "field": exc.field or "", "message": str(exc)},
    )
