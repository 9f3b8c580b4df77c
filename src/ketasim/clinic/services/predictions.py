"""A plan's predicted curves, computed once and stored (``plan_predictions``), not per view.

The prediction is made when the plan is created; it is made again only when its inputs change
(the plan, the patient or the screening it was made from: ``plan_digest``) or when the number
of samples configured changes. It is derived data, recomputable from the audited records, so
it is not itself audited.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import Patient, PlanPrediction, Screening, TreatmentPlan
from ketasim.clinic.services import plans as pl
from ketasim.clinic.services.base import get_or_404

__all__ = ["ensure", "inputs_digest"]


def inputs_digest(session: Session, plan_id: int) -> str:
    """SHA-256 of everything a prediction is computed from."""
    row = get_or_404(session, TreatmentPlan, plan_id, "plan")
    patient = get_or_404(session, Patient, row.patient_id, "patient")
    screening = get_or_404(session, Screening, row.screening_id, "screening")
    keep = ("protocol_id", "dose", "duration_min", "weeks", "rules_version", "drug", "route")
    data = {
        "plan": {k: v for k, v in audit.snapshot(row).items() if k in keep},
        "patient": audit.snapshot(patient),
        "screening": audit.snapshot(screening),
    }
    data["patient"].pop("created_at", None)
    return hashlib.sha256(audit.canonical(data).encode("utf-8")).hexdigest()


def _stored(
    session: Session, plan_id: int, digest: str, n_samples: int
) -> dict[str, object] | None:
    row = session.get(PlanPrediction, plan_id)
    if row is None or row.plan_digest != digest or row.n_samples != n_samples:
        return None
    return {"figures": dict(row.figures), "note": row.note, "effects_note": row.effects_note}


def ensure(database: Database, plan_id: int, n_samples: int) -> dict[str, object]:
    """The stored prediction of a plan (figures, notes), computing and storing it first when
    it is missing or out of date. The simulation runs outside any write transaction."""
    from ketasim.report.plan_report import plan_figures

    with database.read() as s:
        digest = inputs_digest(s, plan_id)
        hit = _stored(s, plan_id, digest, n_samples)
        if hit is not None:
            return hit
        full = pl.predict(s, plan_id, n_samples)
    data: dict[str, object] = {
        "figures": plan_figures(full),
        "note": full.concentration_note or "",
        "effects_note": full.effects_note or "",
    }
    with database.session() as s:
        s.merge(
            PlanPrediction(
                plan_id=plan_id,
                plan_digest=digest,
                n_samples=n_samples,
                figures=data["figures"],
                note=data["note"],
                effects_note=data["effects_note"],
            )
        )
    return data
