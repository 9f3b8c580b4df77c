"""Screening: contraindications, history, baseline vitals, substance use, pregnancy; the
eligibility decision is the safety checker's findings for the chosen protocol."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Patient, Screening
from ketasim.clinic.services.base import Actor, Invalid, get_or_404, log
from ketasim.clinic.services.clinical import (
    finding_dicts,
    library_protocol,
    patient_record,
    prior_sessions,
)
from ketasim.clinic.services.patients import age_years
from ketasim.safety import default_rules, make_plan

__all__ = ["create_screening", "latest_screening", "list_screenings"]


def create_screening(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    protocol_id: str,
    sbp_mmhg: float | None = None,
    dbp_mmhg: float | None = None,
    heart_rate_bpm: float | None = None,
    spo2_percent: float | None = None,
    conditions: Sequence[str] = (),
    medications: Sequence[str] = (),
    pregnant: bool | None = None,
    substance_use: str = "",
    history: str = "",
) -> Screening:
    """Screen a patient for a protocol: every finding of the safety rules with its source;
    eligible when no finding is a hard stop."""
    patient = get_or_404(session, Patient, patient_id, "patient")
    protocol = library_protocol(protocol_id)
    if spo2_percent is not None and not 50.0 <= spo2_percent <= 100.0:
        raise Invalid("spo2_percent", f"{spo2_percent:g} % is out of range; accepted 50 to 100")
    rules = default_rules()
    record = patient_record(
        patient,
        rules,
        vitals={"sbp_mmhg": sbp_mmhg, "dbp_mmhg": dbp_mmhg, "heart_rate_bpm": heart_rate_bpm},
        conditions=conditions,
        medications=medications,
        pregnant=pregnant,
        previous=prior_sessions(session, patient_id),
        on=clinic_now(session).date(),
    )
    plan = make_plan(protocol, record, rules=rules, simulate_concentrations=False)
    findings = finding_dicts(plan.findings)
    screening = Screening(
        patient_id=patient.id,
        recorded_by=actor.id or 0,
        protocol_id=protocol.id,
        age_years=age_years(patient.birth_date, clinic_now(session).date()),
        weight_kg=patient.weight_kg,
        sbp_mmhg=sbp_mmhg,
        dbp_mmhg=dbp_mmhg,
        heart_rate_bpm=heart_rate_bpm,
        spo2_percent=spo2_percent,
        conditions=sorted(set(conditions)),
        medications=list(medications),
        pregnant=pregnant,
        substance_use=substance_use,
        history=history,
        findings=findings,
        eligible=not any(f["severity"] == "stop" for f in findings),
        rules_version=rules.version,
    )
    session.add(screening)
    log(session, actor, "create", screening, None)
    return screening


def list_screenings(session: Session, patient_id: int) -> list[Screening]:
    """A patient's screenings, newest first."""
    return list(
        session.execute(
            select(Screening)
            .where(Screening.patient_id == patient_id)
            .order_by(Screening.id.desc())
        ).scalars()
    )


def latest_screening(session: Session, patient_id: int) -> Screening | None:
    """The newest screening of a patient."""
    found = list_screenings(session, patient_id)
    return found[0] if found else None
