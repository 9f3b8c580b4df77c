"""Bridges to the computational side: protocols, patient records and findings.

Everything clinical is decided by :mod:`ketasim.safety` and :mod:`ketasim.regimens`; this module
only turns database rows into their inputs and their outputs into storable dicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Patient, Screening, TreatmentSession
from ketasim.clinic.services.base import Invalid
from ketasim.clinic.services.patients import age_years
from ketasim.errors import KetasimError
from ketasim.findings import Finding
from ketasim.regimens.protocols import Protocol, available_protocols
from ketasim.safety import PatientRecord, parse_patient_record
from ketasim.safety.rules import RuleSet

__all__ = ["finding_dicts", "library_protocol", "patient_record", "prior_sessions"]


def library_protocol(protocol_id: str) -> Protocol:
    """A protocol of the shipped library by id (never a file path)."""
    for p in available_protocols():
        if p.id == protocol_id:
            return p
    known = ", ".join(p.id for p in available_protocols())
    raise Invalid("protocol_id", f"unknown protocol {protocol_id!r}; known: {known}")


def finding_dicts(findings: Iterable[Finding]) -> list[dict[str, str]]:
    """Findings as stored (rule id, severity, message, source)."""
    return [
        {"rule_id": f.rule_id, "severity": f.severity, "message": f.message, "source": f.source}
        for f in findings
    ]


def prior_sessions(
    session: Session,
    patient_id: int,
    *,
    now: dt.datetime | None = None,
    exclude_session_id: int | None = None,
) -> list[dict[str, float]]:
    """Doses already given to the patient as ``previous_sessions`` of a patient record."""
    now = now or clinic_now(session)
    rows = session.execute(
        select(TreatmentSession).where(
            TreatmentSession.patient_id == patient_id,
            TreatmentSession.dose_mg.is_not(None),
            TreatmentSession.dose_start_at.is_not(None),
        )
    ).scalars()
    out = []
    for r in rows:
        if r.id == exclude_session_id or r.dose_start_at is None or r.dose_mg is None:
            continue
        days = max((now - r.dose_start_at).total_seconds() / 86400.0, 1e-3)
        out.append({"days_ago": days, "amount_mg": float(r.dose_mg)})
    return out


def patient_record(
    patient: Patient,
    rules: RuleSet,
    *,
    screening: Screening | None = None,
    vitals: dict[str, float | None] | None = None,
    conditions: Sequence[str] | None = None,
    medications: Sequence[str] | None = None,
    pregnant: bool | None = None,
    previous: list[dict[str, float]] | None = None,
    on: dt.date | None = None,
) -> PatientRecord:
    """A :class:`~ketasim.safety.PatientRecord` from the stored patient (and screening), with
    newer values where given (age on the day ``on``, default today); errors name the field."""
    data: dict[str, object] = {
        "age_years": age_years(patient.birth_date, on),
        "weight_kg": patient.weight_kg,
        "height_cm": patient.height_cm,
        "sex": patient.sex,
    }
    if screening is not None:
        data.update(
            sbp_mmhg=screening.sbp_mmhg,
            dbp_mmhg=screening.dbp_mmhg,
            heart_rate_bpm=screening.heart_rate_bpm,
            conditions=list(screening.conditions),
            medications=list(screening.medications),
            pregnant=screening.pregnant,
        )
    if vitals is not None:
        data.update(vitals)
    if conditions is not None:
        data["conditions"] = list(conditions)
    if medications is not None:
        data["medications"] = list(medications)
    if pregnant is not None:
        data["pregnant"] = pregnant
    if previous:
        data["previous_sessions"] = previous
    try:
        return parse_patient_record({k: v for k, v in data.items() if v is not None}, rules)
    except KetasimError as exc:
        field = getattr(exc, "field", "record")
        raise Invalid(str(field), str(exc).split(": ", 1)[-1]) from None
