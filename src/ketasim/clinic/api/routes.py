"""The /api/v1 routers: one resource per record type, role-checked, transactional."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from ketasim.clinic import audit
from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import ALL_ROLES, CLINICIANS, Id, QId, actor, db, require
from ketasim.clinic.auth import COOKIE_NAME, CurrentUser, create_login, revoke_login
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import AuditEntry, Rating, TreatmentPlan, TreatmentSession, User
from ketasim.clinic.services import alerts as al
from ketasim.clinic.services import consent as co
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import plans as pl
from ketasim.clinic.services import ratings as ra
from ketasim.clinic.services import reports as rp
from ketasim.clinic.services import screening as scr
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services import users as us
from ketasim.clinic.services.base import ServiceError, get_or_404

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
DB = Annotated[Database, Depends(db)]
Anyone = Annotated[CurrentUser, Depends(require(*ALL_ROLES))]
Admin = Annotated[CurrentUser, Depends(require("admin"))]
Clinician = Annotated[CurrentUser, Depends(require(*CLINICIANS))]
Prescriber = Annotated[CurrentUser, Depends(require("prescriber"))]
Recorder = Annotated[CurrentUser, Depends(require("admin", "prescriber", "nurse"))]
Oversight = Annotated[CurrentUser, Depends(require("admin", "auditor"))]
Reporter = Annotated[CurrentUser, Depends(require("admin", "auditor", "prescriber"))]


class RateLimited(ServiceError):  # noqa: N818
    status = 429


# --- health and login --------------------------------------------------------------------------
@router.get("/health", tags=["system"])
def health(database: DB) -> dict[str, str]:
    """Liveness and database reachability (no login needed)."""
    with database.read() as s:
        s.execute(select(1))
    return {"status": "ok"}


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


# --- users -------------------------------------------------------------------------------------
@router.get("/users", tags=["users"])
def users_list(user: Admin, database: DB) -> list[sc.UserPublic]:
    with database.read() as s:
        return [sc.UserPublic.model_validate(u) for u in us.list_users(s)]


@router.post("/users", tags=["users"], status_code=201)
def users_create(body: sc.UserCreate, user: Admin, database: DB) -> sc.UserPublic:
    with database.session() as s:
        return sc.UserPublic.model_validate(us.create_user(s, actor(user), **body.model_dump()))


@router.patch("/users/{user_id}", tags=["users"])
def users_update(user_id: Id, body: sc.UserUpdate, user: Admin, database: DB) -> sc.UserPublic:
    with database.session() as s:
        return sc.UserPublic.model_validate(us.set_active(s, actor(user), user_id, body.active))


# --- patients ----------------------------------------------------------------------------------
@router.get("/patients", tags=["patients"])
def patients_list(
    user: Anyone,
    database: DB,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[sc.PatientPublic]:
    with database.read() as s:
        return [
            sc.PatientPublic.model_validate(p)
            for p in pa.list_patients(s, q=q, limit=max(1, min(limit, 1000)), offset=max(0, offset))
        ]


@router.post("/patients", tags=["patients"], status_code=201)
def patients_create(body: sc.PatientCreate, user: Recorder, database: DB) -> sc.PatientPublic:
    with database.session() as s:
        return sc.PatientPublic.model_validate(
            pa.create_patient(s, actor(user), **body.model_dump())
        )


@router.get("/patients/{patient_id}", tags=["patients"])
def patients_get(patient_id: Id, user: Anyone, database: DB) -> sc.PatientPublic:
    with database.read() as s:
        return sc.PatientPublic.model_validate(pa.get_patient(s, patient_id))


@router.patch("/patients/{patient_id}", tags=["patients"])
def patients_update(
    patient_id: Id, body: sc.PatientUpdate, user: Recorder, database: DB
) -> sc.PatientPublic:
    with database.session() as s:
        return sc.PatientPublic.model_validate(
            pa.update_patient(s, actor(user), patient_id, body.model_dump(exclude_unset=True))
        )


# --- consent -----------------------------------------------------------------------------------
@router.get("/consent-documents", tags=["consent"])
def documents_list(user: Anyone, database: DB) -> list[sc.ConsentDocumentPublic]:
    with database.read() as s:
        return [sc.ConsentDocumentPublic.model_validate(d) for d in co.list_documents(s)]


@router.post("/consent-documents", tags=["consent"], status_code=201)
def documents_create(
    body: sc.ConsentDocumentCreate, user: Admin, database: DB
) -> sc.ConsentDocumentPublic:
    """A new version of a consent document (supersedes the previous version)."""
    with database.session() as s:
        return sc.ConsentDocumentPublic.model_validate(
            co.create_document(s, actor(user), **body.model_dump())
        )


@router.get("/patients/{patient_id}/consents", tags=["consent"])
def consents_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.ConsentPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.ConsentPublic.model_validate(c) for c in co.list_consents(s, patient_id)]


@router.post("/patients/{patient_id}/consents", tags=["consent"], status_code=201)
def consents_sign(
    patient_id: Id, body: sc.ConsentCreate, user: Clinician, database: DB
) -> sc.ConsentPublic:
    with database.session() as s:
        return sc.ConsentPublic.model_validate(
            co.sign_consent(s, actor(user), patient_id, body.document_id, body.signed_by_name)
        )


@router.post("/consents/{consent_id}/withdraw", tags=["consent"])
def consents_withdraw(
    consent_id: Id, body: sc.ConsentWithdraw, user: Clinician, database: DB
) -> sc.ConsentPublic:
    with database.session() as s:
        return sc.ConsentPublic.model_validate(
            co.withdraw_consent(s, actor(user), consent_id, body.reason)
        )


# --- screening and plans -----------------------------------------------------------------------
@router.get("/patients/{patient_id}/screenings", tags=["screening"])
def screenings_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.ScreeningPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.ScreeningPublic.model_validate(x) for x in scr.list_screenings(s, patient_id)]


@router.post("/patients/{patient_id}/screenings", tags=["screening"], status_code=201)
def screenings_create(
    patient_id: Id, body: sc.ScreeningCreate, user: Clinician, database: DB
) -> sc.ScreeningPublic:
    """Screen for a protocol: findings of the safety rules with sources; eligibility."""
    with database.session() as s:
        return sc.ScreeningPublic.model_validate(
            scr.create_screening(s, actor(user), patient_id, **body.model_dump())
        )


@router.get("/patients/{patient_id}/plans", tags=["plans"])
def plans_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.PlanPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.PlanPublic.model_validate(p) for p in pl.list_plans(s, patient_id)]


@router.post("/patients/{patient_id}/plans", tags=["plans"], status_code=201)
def plans_create(
    request: Request, patient_id: Id, body: sc.PlanCreate, user: Prescriber, database: DB
) -> sc.PlanPublic:
    """A draft plan from the protocol library via ketasim.safety.make_plan (its predicted
    curves are computed once, here, and stored for the plan page)."""
    from ketasim.clinic.services.predictions import ensure

    with database.session() as s:
        out = sc.PlanPublic.model_validate(
            pl.create_plan(s, actor(user), patient_id, **body.model_dump())
        )
    # on failure the plan page computes it (and shows why it cannot) on first view
    with contextlib.suppress(ServiceError):
        ensure(database, out.id, request.app.state.settings.plan_samples)
    return out


@router.get("/plans/{plan_id}", tags=["plans"])
def plans_get(plan_id: Id, user: Anyone, database: DB) -> sc.PlanPublic:
    with database.read() as s:
        return sc.PlanPublic.model_validate(get_or_404(s, TreatmentPlan, plan_id, "plan"))


@router.post("/plans/{plan_id}/sign", tags=["plans"])
def plans_sign(plan_id: Id, user: Prescriber, database: DB) -> sc.PlanPublic:
    """The prescriber's signature (refused with hard-stop findings)."""
    with database.session() as s:
        return sc.PlanPublic.model_validate(pl.sign_plan(s, actor(user), plan_id))


# --- sessions ----------------------------------------------------------------------------------
def _session_out(s_: object) -> sc.SessionPublic:
    return sc.SessionPublic.model_validate(s_)


@router.get("/sessions", tags=["sessions"])
def sessions_list(user: Anyone, database: DB, patient_id: QId = None) -> list[sc.SessionPublic]:
    with database.read() as s:
        return [_session_out(x) for x in se.list_sessions(s, patient_id)]


@router.post("/sessions", tags=["sessions"], status_code=201)
def sessions_create(
    request: Request, body: sc.SessionCreate, user: Clinician, database: DB
) -> sc.SessionPublic:
    """Open the next session of a signed plan (needs a current consent); ``predose_findings``
    holds the rules' findings for the planned dose now, until the pre-dose check."""
    with database.session() as s:
        return _session_out(
            se.open_session(
                s,
                actor(user),
                body.plan_id,
                early_request=body.early_request,
                zone=request.app.state.settings.clinic_tz,
            )
        )


@router.get("/sessions/{session_id}", tags=["sessions"])
def sessions_get(session_id: Id, user: Anyone, database: DB) -> sc.SessionPublic:
    with database.read() as s:
        return _session_out(get_or_404(s, TreatmentSession, session_id, "session"))


@router.patch("/sessions/{session_id}", tags=["sessions"])
def sessions_update(
    session_id: Id, body: sc.SessionUpdate, user: Clinician, database: DB
) -> sc.SessionPublic:
    with database.session() as s:
        return _session_out(
            se.update_session(s, actor(user), session_id, body.model_dump(exclude_unset=True))
        )


@router.post("/sessions/{session_id}/predose", tags=["sessions"])
def sessions_predose(
    request: Request, session_id: Id, body: sc.PredoseIn, user: Clinician, database: DB
) -> sc.SessionPublic:
    """Pre-dose check with the rules of ``ketasim plan``: hard stops block the dose; warnings
    the signed plan did not contain (``override: required``) need a prescriber's override."""
    st = request.app.state.settings
    with database.session() as s:
        return _session_out(
            se.predose_check(
                s,
                actor(user),
                session_id,
                bp_alert=(st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg),
                zone=st.clinic_tz,
                **body.model_dump(),
            )
        )


@router.post("/sessions/{session_id}/dose", tags=["sessions"])
def sessions_dose(
    request: Request, session_id: Id, body: sc.DoseIn, user: Clinician, database: DB
) -> sc.SessionPublic:
    """Record the dose. Times with an offset (``Z``, ``+01:00``) are converted to UTC; without
    one they are clock time of the clinic's zone. Refused (409) on a stop or on warnings needing
    a prescriber's ``override_reason``; future times or times before the previous session: 422."""
    zone = request.app.state.settings.clinic_tz
    values = body.model_dump()
    values["start_at"] = tz.from_clinic_clock(body.start_at, zone, "start_at")
    values["end_at"] = tz.from_clinic_clock(body.end_at, zone, "end_at")
    with database.session() as s:
        return _session_out(se.give_dose(s, actor(user), session_id, zone=zone, **values))


@router.post("/sessions/{session_id}/cancel", tags=["sessions"])
def sessions_cancel(
    session_id: Id, body: sc.SessionCancel, user: Clinician, database: DB
) -> sc.SessionPublic:
    """Cancel an open session (no dose given) with a reason; it stops blocking the next."""
    with database.session() as s:
        return _session_out(se.cancel_session(s, actor(user), session_id, body.reason))


@router.post("/sessions/{session_id}/amendments", tags=["sessions"], status_code=201)
def sessions_amend(
    session_id: Id, body: sc.AmendmentIn, user: Clinician, database: DB
) -> sc.AmendmentPublic:
    """Correct a field of a discharged or signed session: the original value is kept."""
    with database.session() as s:
        return sc.AmendmentPublic.model_validate(
            se.amend_session(
                s, actor(user), session_id, field=body.field, value=body.value, reason=body.reason
            )
        )


@router.post("/sessions/{session_id}/observations", tags=["sessions"], status_code=201)
def sessions_observe(
    request: Request, session_id: Id, body: sc.ObservationIn, user: Clinician, database: DB
) -> sc.ObservationPublic:
    """Timed vitals (BP, HR, SpO2) and dissociation/sedation scores."""
    st = request.app.state.settings
    with database.session() as s:
        return sc.ObservationPublic.model_validate(
            se.add_observation(
                s,
                actor(user),
                session_id,
                bp_alert=(st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg),
                **body.model_dump(),
            )
        )


@router.post("/sessions/{session_id}/adverse-events", tags=["sessions"], status_code=201)
def sessions_ae(
    session_id: Id, body: sc.AdverseEventIn, user: Clinician, database: DB
) -> sc.AdverseEventPublic:
    with database.session() as s:
        return sc.AdverseEventPublic.model_validate(
            se.add_adverse_event(s, actor(user), session_id, **body.model_dump())
        )


@router.post("/sessions/{session_id}/discharge", tags=["sessions"])
def sessions_discharge(
    request: Request, session_id: Id, body: sc.DischargeIn, user: Clinician, database: DB
) -> sc.SessionPublic:
    values = body.model_dump(exclude_unset=True)
    zone = request.app.state.settings.clinic_tz
    for name in ("discharged_at", "monitoring_end_at"):
        if name in values:
            values[name] = tz.from_clinic_clock(values[name], zone, name)
    with database.session() as s:
        return _session_out(se.discharge(s, actor(user), session_id, **values))


@router.post("/sessions/{session_id}/sign", tags=["sessions"])
def sessions_sign(session_id: Id, user: Clinician, database: DB) -> sc.SessionPublic:
    """Sign the session (refused while a required field, e.g. of the REMS form, is missing)."""
    with database.session() as s:
        return _session_out(se.sign_session(s, actor(user), session_id))


@router.get("/sessions/{session_id}/rems-form", tags=["sessions"])
def sessions_rems(
    request: Request, session_id: Id, user: Anyone, database: DB
) -> dict[str, object]:
    """The REMS patient monitoring form filled from the record, with the missing fields."""
    with database.read() as s:
        rec = get_or_404(s, TreatmentSession, session_id, "session")
        form = se.rems_form(s, rec, request.app.state.settings.clinic_tz)
        form["missing"] = se.missing_fields(s, rec)
        return form


# --- ratings, alerts, reports, audit -------------------------------------------------------------
@router.get("/patients/{patient_id}/ratings", tags=["ratings"])
def ratings_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.RatingPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.RatingPublic.model_validate(r) for r in ra.list_ratings(s, patient_id)]


@router.post("/patients/{patient_id}/ratings", tags=["ratings"], status_code=201)
def ratings_create(
    patient_id: Id, body: sc.RatingCreate, user: Clinician, database: DB
) -> sc.RatingPublic:
    with database.session() as s:
        if body.items is not None:  # item-level (clinician-rated MADRS, or PHQ-9/GAD-7 items)
            from ketasim.clinic.services.questionnaires import record_items

            return sc.RatingPublic.model_validate(
                record_items(
                    s,
                    actor(user),
                    patient_id,
                    scale=body.scale,
                    items=body.items,
                    taken_on=body.taken_on,
                    score=body.score,
                )
            )
        if body.score is None:
            from ketasim.clinic.services.base import Invalid

            raise Invalid("score", "required unless items are given")
        return sc.RatingPublic.model_validate(
            ra.add_rating(
                s,
                actor(user),
                patient_id,
                scale=body.scale,
                score=body.score,
                taken_on=body.taken_on,
            )
        )


@router.get("/patients/{patient_id}/ratings/{scale}/course", tags=["ratings"])
def ratings_course(
    patient_id: Id, scale: str, user: Anyone, database: DB
) -> list[sc.CoursePointPublic]:
    """Scores with change from baseline, response (>= 50 % drop) and remission."""
    if scale.upper() not in ra.SCALES:
        from ketasim.clinic.services.base import Invalid

        raise Invalid("scale", f"{scale!r}; accepted: {', '.join(ra.SCALES)}")
    with database.read() as s:
        pa.get_patient(s, patient_id)
        rows: list[Rating] = ra.list_ratings(s, patient_id)
        return [sc.CoursePointPublic.model_validate(p) for p in ra.course(rows, scale.upper())]


@router.get("/alerts", tags=["alerts"])
def alerts_list(
    user: Anyone, database: DB, open_only: bool = False, patient_id: QId = None
) -> list[sc.AlertPublic]:
    with database.read() as s:
        return [
            sc.AlertPublic.model_validate(a)
            for a in al.list_alerts(s, open_only=open_only, patient_id=patient_id)
        ]


@router.post("/alerts/{alert_id}/acknowledge", tags=["alerts"])
def alerts_ack(alert_id: Id, user: Prescriber, database: DB) -> sc.AlertPublic:
    with database.session() as s:
        return sc.AlertPublic.model_validate(al.acknowledge(s, actor(user), alert_id))


@router.get("/reports/equity", tags=["reports"])
def report_equity(
    user: Reporter,
    database: DB,
    dimension: str = "sex",
    min_cell: Annotated[int, Query(ge=1, le=100)] = 5,
) -> dict[str, object]:
    """Access and outcomes by demographic group with small-cell suppression."""
    with database.read() as s:
        return rp.equity_report(s, dimension, min_cell=min_cell)


@router.get("/audit", tags=["audit"])
def audit_list(
    user: Oversight,
    database: DB,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[sc.AuditEntryPublic]:
    with database.read() as s:
        rows = s.execute(
            select(AuditEntry)
            .where(AuditEntry.seq > after_seq)
            .order_by(AuditEntry.seq)
            .limit(max(1, min(limit, 1000)))
        ).scalars()
        return [sc.AuditEntryPublic.model_validate(r) for r in rows]


@router.get("/audit/verify", tags=["audit"])
def audit_verify(request: Request, user: Oversight, database: DB) -> sc.AuditVerifyPublic:
    """Verify the keyed hash chain, the signed checkpoints and every clinical row."""
    request.app.state.access.flush()
    with database.read() as s:
        n, problems = audit.verify_chain(s)
    return sc.AuditVerifyPublic(
        entries=n, intact=not problems, problems=[p.message for p in problems]
    )
