"""Session pages: the pre-dose check, the dose (with a prescriber's override), vitals, adverse
events, discharge with the REMS answers, signature, cancellation and amendments; times are clock
time of the clinic's zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from ketasim.clinic.api.deps import DB, Anyone, Clinician, FormIn, Id, actor
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import TreatmentPlan, TreatmentSession
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import sessions as se
from ketasim.clinic.services import timezones as tz
from ketasim.clinic.services.base import Invalid, ServiceError, get_or_404
from ketasim.clinic.services.lifecycle import AMENDABLE
from ketasim.clinic.web.forms import (
    form_bool,
    form_list,
    form_number,
    form_required,
    form_text,
    form_time,
    utc_now,
)
from ketasim.clinic.web.render import render, see_other
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
        now = tz.local(utc_now(s), zone)
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
    moaas = form_number(form, "moaas")
    return {
        "checkpoint": form_text(form, "checkpoint"),
        "sbp_mmhg": form_number(form, "sbp_mmhg"),
        "dbp_mmhg": form_number(form, "dbp_mmhg"),
        "heart_rate_bpm": form_number(form, "heart_rate_bpm"),
        "spo2_percent": form_number(form, "spo2_percent"),
        "cadss": form_number(form, "cadss"),
        "moaas": None if moaas is None else int(moaas),
    }


def _amend_value(form: FormData, field: str) -> object:
    raw = form_text(form, "value")
    kind = AMENDABLE.get(field)
    if kind == "bool":
        if raw not in ("yes", "no"):
            raise Invalid("value", f"{field} takes yes or no")
        return raw == "yes"
    if kind in ("minutes", "dose"):
        return form_required(form, "value")
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
                    sbp_mmhg=form_required(form, "sbp_mmhg"),
                    dbp_mmhg=form_required(form, "dbp_mmhg"),
                    heart_rate_bpm=form_required(form, "heart_rate_bpm"),
                    spo2_percent=form_required(form, "spo2_percent"),
                    medications=form_list(form, "medications"),
                    fasting_confirmed=form_bool(form, "fasting_confirmed"),
                    transport_arranged=form_bool(form, "transport_arranged"),
                    new_conditions=form_list(form, "new_conditions"),
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
                    sbp_mmhg=form_required(form, "sbp_mmhg"),
                    dbp_mmhg=form_required(form, "dbp_mmhg"),
                    heart_rate_bpm=form_required(form, "heart_rate_bpm"),
                    spo2_percent=form_required(form, "spo2_percent"),
                    taken_at=utc_now(s),
                    bp_alert=None,
                )
            elif step == "dose":
                se.give_dose(
                    s,
                    who,
                    session_id,
                    dose_mg=form_required(form, "dose_mg"),
                    lot_number=form_text(form, "lot_number"),
                    start_at=form_time(form, "start_at", zone) or utc_now(s),
                    end_at=form_time(form, "end_at", zone),
                    rationale=form_text(form, "rationale") or None,
                    override_reason=form_text(form, "override_reason") or None,
                    zone=zone,
                )
            elif step == "cancel":
                se.cancel_session(s, who, session_id, form_text(form, "reason"))
            elif step == "amend":
                field = form_text(form, "field")
                se.amend_session(
                    s,
                    who,
                    session_id,
                    field=field,
                    value=_amend_value(form, field),
                    reason=form_text(form, "reason"),
                    override_reason=form_text(form, "override_reason") or None,
                    zone=zone,
                )
            elif step == "vitals":
                se.add_observation(
                    s,
                    who,
                    session_id,
                    minutes_after_dose=form_required(form, "minutes_after_dose"),
                    bp_alert=(st.bp_alert_sbp_mmhg, st.bp_alert_dbp_mmhg),
                    **vitals_from_form(form),
                )
            elif step == "adverse-event":
                se.add_adverse_event(
                    s,
                    who,
                    session_id,
                    category=form_text(form, "category"),
                    severity=form_text(form, "severity"),
                    description=form_text(form, "description"),
                    serious=form_bool(form, "serious") or False,
                )
            elif step == "discharge":
                se.discharge(
                    s,
                    who,
                    session_id,
                    discharged_at=form_time(form, "discharged_at", zone) or utc_now(s),
                    criteria_met=bool(form_bool(form, "criteria_met")),
                    ready_to_leave_min=form_number(form, "ready_to_leave_min"),
                    vitals_acceptable_end=form_bool(form, "vitals_acceptable_end"),
                    transport_arranged=form_bool(form, "transport_arranged"),
                    first_treatment=form_bool(form, "first_treatment"),
                    monitoring_provider=form_text(form, "monitoring_provider") or None,
                    setting=form_text(form, "setting") or None,
                    vitals_acceptable_before=form_bool(form, "vitals_acceptable_before"),
                    sedation_observed=form_bool(form, "sedation_observed"),
                    dissociation_observed=form_bool(form, "dissociation_observed"),
                    respiratory_depression_observed=form_bool(
                        form, "respiratory_depression_observed"
                    ),
                    serious_adverse_event=form_bool(form, "serious_adverse_event"),
                )
            elif step == "sign":
                se.sign_session(s, who, session_id)
            else:
                raise Invalid("step", f"unknown step {step!r}")
    except ServiceError as exc:
        # the form comes back as typed (a refused dose keeps its start time, lot and reason)
        return render(
            request,
            "session.html",
            _session_context(database, session_id, zone),
            status_code=exc.status,
            error=str(exc),
            form_values={k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"},
            form_error={"form": step, "field": exc.field or "", "message": str(exc)},
        )
    anchor = {"vitals": "#vitals", "adverse-event": "#vitals", "discharge": "#rems"}.get(step, "")
    return see_other(f"/sessions/{session_id}{anchor}")
