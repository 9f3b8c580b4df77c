"""Patients: demographics needed by the models and the equity report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.db.models import Patient
from ketasim.clinic.services.base import Actor, Conflict, Invalid, assign, get_or_404, log

__all__ = ["age_years", "create_patient", "get_patient", "list_patients", "update_patient"]

FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "weight_kg",
    "height_cm",
    "ethnicity",
    "language",
    "postcode_area",
)


def age_years(birth_date: dt.date, on: dt.date | None = None) -> float:
    """Age in years (days / 365.25) on ``on`` (default today)."""
    on = on or dt.date.today()
    return (on - birth_date).days / 365.25


def _validate(values: Mapping[str, object]) -> None:
    bd = values.get("birth_date")
    if isinstance(bd, dt.date) and not dt.date(1900, 1, 1) <= bd <= dt.date.today():
        raise Invalid("birth_date", f"{bd} is out of range; accepted 1900-01-01 to today")
    w = values.get("weight_kg")
    if isinstance(w, int | float) and not 2.0 <= w <= 400.0:
        raise Invalid("weight_kg", f"{w:g} kg is out of range; accepted 2 to 400 kg")
    h = values.get("height_cm")
    if isinstance(h, int | float) and not 40.0 <= h <= 250.0:
        raise Invalid("height_cm", f"{h:g} cm is out of range; accepted 40 to 250 cm")
    sex = values.get("sex")
    if sex is not None and sex not in ("female", "male"):
        raise Invalid("sex", f"{sex!r}; accepted female, male")


def create_patient(session: Session, actor: Actor, **values: object) -> Patient:
    """Register a patient (the medical record number must be new)."""
    _validate(values)
    mrn = str(values.get("mrn", "")).strip()
    if not mrn:
        raise Invalid("mrn", "required")
    if session.execute(select(Patient.id).where(Patient.mrn == mrn)).first():
        raise Conflict(f"a patient with mrn {mrn!r} exists", field="mrn")
    patient = Patient(**{k: v for k, v in values.items() if k in FIELDS and v is not None})
    patient.mrn = mrn
    session.add(patient)
    log(session, actor, "create", patient, None)
    return patient


def update_patient(
    session: Session, actor: Actor, patient_id: int, values: Mapping[str, object]
) -> Patient:
    """Change some fields of a patient."""
    patient = get_or_404(session, Patient, patient_id, "patient")
    _validate(values)
    before = audit.snapshot(patient)
    for k in values:
        if k not in FIELDS or k == "mrn":
            raise Invalid(k, "cannot be changed")
    assign(patient, dict(values))
    log(session, actor, "update", patient, before)
    return patient


def get_patient(session: Session, patient_id: int) -> Patient:
    """One patient or NotFound."""
    return get_or_404(session, Patient, patient_id, "patient")


def list_patients(
    session: Session, *, q: str | None = None, limit: int = 200, offset: int = 0
) -> list[Patient]:
    """Patients by family name; ``q`` filters by name or MRN (case-insensitive substring)."""
    stmt = select(Patient).order_by(Patient.family_name, Patient.given_name, Patient.id)
    if q:
        like = f"%{q.lower()}%"
        from sqlalchemy import func, or_

        stmt = stmt.where(
            or_(
                func.lower(Patient.family_name).like(like),
                func.lower(Patient.given_name).like(like),
                func.lower(Patient.mrn).like(like),
            )
        )
    return list(session.execute(stmt.limit(limit).offset(offset)).scalars())
