"""/api/v1/sessions: opening, the pre-dose check, the dose, vitals, adverse events, discharge,
signature, cancellation, amendments and the REMS form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Anyone, Clinician, Id, QId, actor
from ketasim.clinic.api.json_out import json_model
from ketasim.clinic.api.session_read import session_public
from ketasim.clinic.db.models import TreatmentSession
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services.base import get_or_404

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


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


@router.get("/sessions/{session_id}", tags=["sessions"], response_model=sc.SessionPublic)
def sessions_get(session_id: Id, user: Anyone, database: DB) -> Response:
    with database.read() as s:
        return json_model(session_public(s, session_id))


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
    request: Request, session_id: Id, body: sc.AmendmentIn, user: Clinician, database: DB
) -> sc.AmendmentPublic:
    """Correct a field of a discharged or signed session: the original value is kept. An
    amended ``dose_mg`` passes the dose rules again: a hard stop is refused (409), a warning
    needs a prescriber's ``override_reason``."""
    with database.session() as s:
        return sc.AmendmentPublic.model_validate(
            se.amend_session(
                s,
                actor(user),
                session_id,
                field=body.field,
                value=body.value,
                reason=body.reason,
                override_reason=body.override_reason,
                zone=request.app.state.settings.clinic_tz,
            )
        )


@router.post(
    "/sessions/{session_id}/observations",
    tags=["sessions"],
    status_code=201,
    response_model=sc.ObservationPublic,
)
def sessions_observe(
    request: Request, session_id: Id, body: sc.ObservationIn, user: Clinician, database: DB
) -> Response:
    """Timed vitals (BP, HR, SpO2) and dissociation/sedation scores."""
    st = request.app.state.settings
    with database.session() as s:
        out = sc.ObservationPublic.model_validate(
            se.add_observation(
                s,
                actor(user),
                session_id,
                bp_alert=(st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg),
                **body.model_dump(),
            )
        )
    return json_model(out, status_code=201)


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
