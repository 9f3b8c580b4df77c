"""Treatment plans from the protocol library, checked by the safety checker, signed by a
prescriber; predicted curves from :func:`ketasim.safety.make_plan`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Patient, Screening, TreatmentPlan
from ketasim.clinic.services.base import Actor, Conflict, Invalid, get_or_404, log
from ketasim.clinic.services.clinical import finding_dicts, library_protocol, patient_record
from ketasim.errors import KetasimError
from ketasim.safety import Plan, default_rules, make_plan

__all__ = ["create_plan", "list_plans", "predict", "sign_plan"]


def _make(
    session: Session,
    plan_row: TreatmentPlan | None,
    patient: Patient,
    screening: Screening,
    *,
    dose: float | None,
    duration_min: float | None,
    weeks: int | None,
    n_samples: int,
    simulate: bool,
) -> Plan:
    protocol = library_protocol(screening.protocol_id)
    rules = default_rules()
    record = patient_record(patient, rules, screening=screening)
    try:
        return make_plan(
            protocol,
            record,
            dose=dose,
            duration_min=duration_min,
            weeks=weeks,
            rules=rules,
            n_samples=n_samples,
            rng=1,
            simulate_concentrations=simulate,
        )
    except KetasimError as exc:
        field = str(getattr(exc, "field", "plan")).lstrip("-").replace("over", "duration_min")
        raise Invalid(field, str(exc).split(": ", 1)[-1]) from None


def create_plan(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    screening_id: int,
    dose: float | None = None,
    duration_min: float | None = None,
    weeks: int | None = None,
) -> TreatmentPlan:
    """A draft plan for the screening's protocol (dose in the protocol's unit)."""
    patient = get_or_404(session, Patient, patient_id, "patient")
    screening = get_or_404(session, Screening, screening_id, "screening")
    if screening.patient_id != patient.id:
        raise Invalid("screening_id", f"screening {screening_id} belongs to another patient")
    if dose is not None and not dose > 0:
        raise Invalid("dose", f"{dose:g} must be > 0")
    if weeks is not None and not 1 <= weeks <= 104:
        raise Invalid("weeks", f"{weeks} is out of range; accepted 1 to 104")
    plan = _make(
        session,
        None,
        patient,
        screening,
        dose=dose,
        duration_min=duration_min,
        weeks=weeks,
        n_samples=0,
        simulate=False,
    )
    p = plan.protocol
    row = TreatmentPlan(
        patient_id=patient.id,
        screening_id=screening.id,
        protocol_id=p.id,
        drug=p.drug,
        route=p.route,
        dose=dose if dose is not None else plan.doses[0].amount,
        dose_unit=p.dose.unit,
        duration_min=duration_min if duration_min is not None else plan.doses[0].duration_min,
        weeks=weeks or 0,
        doses=[d.as_dict() for d in plan.doses],
        findings=finding_dicts(plan.findings),
        monitoring=[m.as_dict() for m in plan.monitoring],
        discharge_not_before_min=plan.discharge_not_before_min,
        has_stop=plan.has_stop,
        rules_version=plan.rules_version,
        status="draft",
        created_by=actor.id or 0,
    )
    session.add(row)
    log(session, actor, "create", row, None)
    return row


def sign_plan(session: Session, actor: Actor, plan_id: int) -> TreatmentPlan:
    """The prescriber's signature; refused while the plan has a hard-stop finding."""
    row = get_or_404(session, TreatmentPlan, plan_id, "plan")
    if row.status != "draft":
        raise Conflict(f"plan {plan_id} is {row.status}, not a draft")
    if row.has_stop:
        stops = [f["rule_id"] for f in row.findings if f["severity"] == "stop"]
        raise Conflict(
            f"plan {plan_id} has hard-stop findings: {', '.join(stops)}", extra={"stops": stops}
        )
    before = audit.snapshot(row)
    row.status, row.signed_by, row.signed_at = "signed", actor.id, clinic_now(session)
    log(session, actor, "sign", row, before)
    return row


def list_plans(session: Session, patient_id: int) -> list[TreatmentPlan]:
    """A patient's plans, newest first."""
    return list(
        session.execute(
            select(TreatmentPlan)
            .where(TreatmentPlan.patient_id == patient_id)
            .order_by(TreatmentPlan.id.desc())
        ).scalars()
    )


def predict(session: Session, plan_id: int, n_samples: int) -> Plan:
    """The full plan of a stored plan row with predicted concentrations (and effects)."""
    row = get_or_404(session, TreatmentPlan, plan_id, "plan")
    patient = get_or_404(session, Patient, row.patient_id, "patient")
    screening = get_or_404(session, Screening, row.screening_id, "screening")
    return _make(
        session,
        row,
        patient,
        screening,
        dose=row.dose,
        duration_min=row.duration_min,
        weeks=row.weeks or None,
        n_samples=n_samples,
        simulate=True,
    )
