"""Session pages: the pre-dose check, the dose (with a prescriber's override), vitals, adverse
events, discharge with the REMS answers, signature, cancellation and amendments; times are clock
time of the clinic's zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from ketasim.clinic.api.deps import FormIn, Id, actor
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import TreatmentPlan, TreatmentSession
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services.base import Invalid, ServiceError, get_or_404
from ketasim.clinic.services.lifecycle import AMENDABLE
from ketasim.clinic.web.pages import (
    DB,
    Anyone,
    Clinician,
    _bool,
    _list,
    _now,
    _num,
    _redirect,
    _req,
    _text,
    _time,
    render,
)
from ketasim.clinic.web.session_extras import session_extras

__all__ = ["router", "vitals_from_form"]

router = APIRouter(include_in_schema=False)


# --- sessions ------------------------------------------------------------------------------------
def _session_context(database: Database, session_id: Id, zone: str) -> dict[str, object]:
    with database.read() as s:
        row = get_or_404(s, TreatmentSession, session_id, "session")
        plan = get_or_404(s, TreatmentPlan, row.plan_id, "plan")
        patient = pa.get_patient(s, row.patient_id)
        form = se.rems_form(s, row, zone)
        missing = se.missing_fields(s, row)
        now = tz.local(_now(), zone)
        assert now is not None
        ctx: dict[str, object] = {
            "s": row,
            "plan": plan,
            "patient": patient,
            "rems": form,
            "missing": missing,
            "tz": zone,
            "amendable": sorted(AMENDABLE),
            "needs_override": [f for f in row.predose_findings if f.get("override") == "required"],
            "now": now.replace(tzinfo=None).isoformat(timespec="minutes"),
        }
        st = database.settings
        ctx.update(session_extras(s, row, plan, (st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg)))
    return ctx


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: Id, user: Anyone, database: DB) -> HTMLResponse:
    return render(
        request,
        "session.html",
        _session_context(database, session_id, request.app.state.settings.clinic_tz),
    )


def vitals_from_form(form: FormData) -> dict[str, Any]:
    """The vital signs and scores of a vitals form (the session page's and the quick entry's):
    checkpoint, BP (mmHg), heart rate, SpO2, CADSS and MOAA/S; blank fields are None."""
    moaas = _num(form, "moaas")
    return {
        "checkpoint": _text(form, "checkpoint"),
        "sbp_mmhg": _num(form, "sbp_mmhg"),
        "dbp_mmhg": _num(form, "dbp_mmhg"),
        "heart_rate_bpm": _num(form, "heart_rate_bpm"),
        "spo2_percent": _num(form, "spo2_percent"),
        "cadss": _num(form, "cadss"),
        "moaas": None if moaas is None else int(moaas),
    }


def _amend_value(form: FormData, field: str) -> object:
    raw = _text(form, "value")
    kind = AMENDABLE.get(field)
    if kind == "bool":
        if raw not in ("yes", "no"):
            raise Invalid("value", f"{field} takes yes or no")
        return raw == "yes"
    if kind == "minutes":
        return _req(form, "value")
    return raw


@router.post("/sessions/{session_id}/{step}", response_class=HTMLResponse)
def session_step(
    request: Request, session_id: Id, step: str, user: Clinician, database: DB, form: FormIn
) -> Response:
    st = request.app.state.settings
    zone = st.clinic_tz
    who = actor(user)
    try:
        with database.session() as s:
            if step == "predose":
                se.predose_check(
                    s,
                    who,
                    session_id,
                    sbp_mmhg=_req(form, "sbp_mmhg"),
                    dbp_mmhg=_req(form, "dbp_mmhg"),
                    heart_rate_bpm=_req(form, "heart_rate_bpm"),
                    spo2_percent=_req(form, "spo2_percent"),
                    medications=_list(form, "medications"),
                    fasting_confirmed=_bool(form, "fasting_confirmed"),
                    transport_arranged=_bool(form, "transport_arranged"),
                    new_conditions=_list(form, "new_conditions"),
                    bp_alert=(st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg),
                    zone=zone,
                )
                # pre-dose vitals entered once: they are also the REMS form's pre-dose reading
                # (the pre-dose check above has already raised any BP alert for them)
                se.add_observation(
                    s,
                    who,
                    session_id,
                    minutes_after_dose=0.0,
                    checkpoint="pre-dose",
                    sbp_mmhg=_req(form, "sbp_mmhg"),
                    dbp_mmhg=_req(form, "dbp_mmhg"),
                    heart_rate_bpm=_req(form, "heart_rate_bpm"),
                    spo2_percent=_req(form, "spo2_percent"),
                    taken_at=_now(),
                    bp_alert=None,
                )
            elif step == "dose":
                se.give_dose(
                    s,
                    who,
                    session_id,
                    dose_mg=_req(form, "dose_mg"),
                    lot_number=_text(form, "lot_number"),
                    start_at=_time(form, "start_at", zone) or _now(),
                    end_at=_time(form, "end_at", zone),
                    rationale=_text(form, "rationale") or None,
                    override_reason=_text(form, "override_reason") or None,
                    zone=zone,
                )
            elif step == "cancel":
                se.cancel_session(s, who, session_id, _text(form, "reason"))
            elif step == "amend":
                field = _text(form, "field")
                se.amend_session(
                    s,
                    who,
                    session_id,
                    field=field,
                    value=_amend_value(form, field),
                    reason=_text(form, "reason"),
                )
            elif step == "vitals":
                se.add_observation(
                    s,
                    who,
                    session_id,
                    minutes_after_dose=_req(form, "minutes_after_dose"),
                    bp_alert=(st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg),
                    **vitals_from_form(form),
                )
            elif step == "adverse-event":
                se.add_adverse_event(
                    s,
                    who,
                    session_id,
                    category=_text(form, "category"),
                    severity=_text(form, "severity"),
                    description=_text(form, "description"),
                    serious=_bool(form, "serious") or False,
                )
            elif step == "discharge":
                se.discharge(
                    s,
                    who,
                    session_id,
                    discharged_at=_time(form, "discharged_at", zone) or _now(),
                    criteria_met=bool(_bool(form, "criteria_met")),
                    ready_to_leave_min=_num(form, "ready_to_leave_min"),
                    vitals_acceptable_end=_bool(form, "vitals_acceptable_end"),
                    transport_arranged=_bool(form, "transport_arranged"),
                    first_treatment=_bool(form, "first_treatment"),
                    monitoring_provider=_text(form, "monitoring_provider") or None,
                    setting=_text(form, "setting") or None,
                    vitals_acceptable_before=_bool(form, "vitals_acceptable_before"),
                    sedation_observed=_bool(form, "sedation_observed"),
                    dissociation_observed=_bool(form, "dissociation_observed"),
                    respiratory_depression_observed=_bool(form, "respiratory_depression_observed"),
                    serious_adverse_event=_bool(form, "serious_adverse_event"),
                )
            elif step == "sign":
                se.sign_session(s, who, session_id)
            else:
                raise Invalid("step", f"unknown step {step!r}")
    except ServiceError as exc:
        return render(
            request,
            "session.html",
            _session_context(database, session_id, zone),
            status_code=exc.status,
            error=str(exc),
        )
    anchor = {"vitals": "#vitals", "adverse-event": "#vitals", "discharge": "#rems"}.get(step, "")
    return _redirect(f"/sessions/{session_id}{anchor}")
