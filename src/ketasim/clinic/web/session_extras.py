"""What the session page adds for the clinic day: the planned dose, a vitals chart against clock
time with the protocol's thresholds, quick-entry defaults, IV infusion and REMS submission."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import TreatmentPlan, TreatmentSession, User
from ketasim.clinic.services.board import BP_CHECK_MIN
from ketasim.clinic.web.timecharts import Marker, Series, time_chart_svg

__all__ = ["session_extras", "vitals_chart"]


def _planned_mg(plan: TreatmentPlan, number: int) -> float | None:
    if not plan.doses:
        return None
    v = plan.doses[min(number, len(plan.doses)) - 1].get("amount_mg")
    return float(v) if isinstance(v, int | float) else None


def vitals_chart(s: TreatmentSession, plan: TreatmentPlan, bp_alert: tuple[float, float]) -> str:
    """Systolic and diastolic BP and heart rate against clock time, with the BP alert
    thresholds, the 40-min BP and the earliest discharge."""
    ref = s.dose_start_at or s.created_at
    pts = [
        (o.taken_at or ref + dt.timedelta(minutes=o.minutes_after_dose), o) for o in s.observations
    ]
    if not pts:
        return ""
    series = [
        Series(
            "systolic BP (mmHg)",
            [(t, o.sbp_mmhg) for t, o in pts if o.sbp_mmhg is not None],
            colour="#d62728",
        ),
        Series(
            "diastolic BP (mmHg)",
            [(t, o.dbp_mmhg) for t, o in pts if o.dbp_mmhg is not None],
            dash="6 3",
            colour="#d62728",
        ),
        Series(
            "heart rate (/min)",
            [(t, o.heart_rate_bpm) for t, o in pts if o.heart_rate_bpm is not None],
            colour="#1f77b4",
        ),
    ]
    markers = [
        Marker(f"systolic alert {bp_alert[0]:g}", value=bp_alert[0], colour="#b71c1c"),
        Marker(f"diastolic alert {bp_alert[1]:g}", value=bp_alert[1], colour="#e65100"),
    ]
    if s.dose_start_at is not None:
        markers.append(Marker("dose", at=s.dose_start_at, colour="#2e7d32"))
        markers.append(
            Marker(
                "40-min BP",
                at=s.dose_start_at + dt.timedelta(minutes=BP_CHECK_MIN),
                colour="#6a1b9a",
            )
        )
        if plan.discharge_not_before_min is not None:
            markers.append(
                Marker(
                    "earliest discharge",
                    at=s.dose_start_at + dt.timedelta(minutes=plan.discharge_not_before_min),
                    colour="#455a64",
                )
            )
    return time_chart_svg(
        series,
        x_label="clock time (UTC)",
        y_label="mmHg or beats/min",
        y_range=(40.0, max(200.0, bp_alert[0] + 10)),
        markers=markers,
        title="Blood pressure and heart rate",
        chart_id="vitals-chart",
    )


def session_extras(
    s: Session, row: TreatmentSession, plan: TreatmentPlan, bp_alert: tuple[float, float]
) -> dict[str, object]:
    """Extra template context of the session page, from the session ``row`` and its ``plan``
    already loaded in the read session ``s`` (the page loads each object once)."""
    by = None if row.rems_submitted_by is None else s.get(User, row.rems_submitted_by)
    now = clinic_now(s)
    cps = {o.checkpoint for o in row.observations}
    if row.dose_start_at is None:
        suggested = "" if "pre-dose" in cps else "pre-dose"
    elif "40-min" not in cps:
        suggested = "40-min"
    else:
        suggested = "" if "pre-discharge" in cps else "pre-discharge"
    return {
        "planned_mg": _planned_mg(plan, row.number),
        "vitals_chart": vitals_chart(row, plan, bp_alert),
        "clock_now": now.strftime("%H:%M"),
        "suggested_checkpoint": suggested,
        "rems_submitted_by_name": None if by is None else by.full_name,
        "is_iv": plan.route == "iv",
        "prefill": _prefill(s, row),
    }


def _yn(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _prefill(session: Session, row: TreatmentSession) -> dict[str, str]:
    """Discharge answers the record already holds (the nurse confirms or changes them): first
    treatment from the session count, vitals before dosing from the pre-dose check, transport
    from the pre-dose check, respiratory depression and serious adverse events from the adverse
    events recorded. Sedation, dissociation and the vitals at the end are left to the nurse."""
    earlier = session.execute(
        select(func.count(TreatmentSession.id)).where(
            TreatmentSession.patient_id == row.patient_id,
            TreatmentSession.id < row.id,
            TreatmentSession.status != "cancelled",
        )
    ).scalar_one()
    cats = {a.category for a in row.adverse_events}
    out = {
        "first_treatment": "no" if earlier else "yes",
        "vitals_acceptable_before": _yn(
            None if row.predose_blocked is None else not row.predose_blocked
        ),
        "transport_arranged": _yn(row.transport_arranged),
        "respiratory_depression_observed": "yes" if "respiratory-depression" in cats else "no",
        "serious_adverse_event": "yes" if any(a.serious for a in row.adverse_events) else "no",
    }
    for name, cat in (("sedation_observed", "sedation"), ("dissociation_observed", "dissociation")):
        if cat in cats:
            out[name] = "yes"
    return {k: v for k, v in out.items() if v}
