"""A plan's predicted curves, computed once and stored (``plan_predictions``), not per view.

The prediction is made when the plan is created; it is made again only when its inputs change
(the plan, the patient or the screening it was made from: ``plan_digest``) or when the number
of samples configured changes. It is derived data, recomputable from the audited records, so
it is not itself audited.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import Patient, PlanPrediction, Screening, TreatmentPlan
from ketasim.clinic.services import plans as pl
from ketasim.clinic.services.base import get_or_404

__all__ = ["Figures", "ensure", "figures", "inputs_digest"]


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


@dataclass(frozen=True)
class Figures:
    """A plan's stored prediction ready to serve: the notes, the figures' captions and their
    PNG bytes (decoded once), and ``version``, which changes whenever the prediction does."""

    version: str
    note: str
    effects_note: str
    captions: tuple[str, ...]
    pngs: tuple[bytes, ...]


#: decoded figures by (plan, inputs digest, samples): a view neither loads nor decodes the
#: stored JSON again (bounded; each entry is the ~250 kB of one plan's PNGs)
_CACHE: OrderedDict[tuple[int, str, int], Figures] = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


def _decoded(plan_id: int, digest: str, n_samples: int, data: dict[str, object]) -> Figures:
    figs = data["figures"]
    assert isinstance(figs, dict)
    out = Figures(
        version=f"{digest[:32]}-{n_samples}",
        note=str(data["note"]),
        effects_note=str(data["effects_note"]),
        captions=tuple(str(k) for k in figs),
        pngs=tuple(base64.b64decode(v) for v in figs.values()),
    )
    with _LOCK:
        _CACHE[(plan_id, digest, n_samples)] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return out


def figures(database: Database, plan_id: int, n_samples: int) -> Figures:
    """The plan's prediction as :class:`Figures`: from the in-process cache when the stored
    prediction is current (only its digest and sample count are read from the database),
    otherwise loaded (and computed first if missing or out of date, as :func:`ensure`)."""
    with database.read() as s:
        digest = inputs_digest(s, plan_id)
        key = (plan_id, digest, n_samples)
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                _CACHE.move_to_end(key)
        if hit is not None:
            stored = s.execute(
                select(PlanPrediction.plan_digest, PlanPrediction.n_samples).where(
                    PlanPrediction.plan_id == plan_id
                )
            ).first()
            if stored is not None and tuple(stored) == (digest, n_samples):
                return hit
    return _decoded(plan_id, digest, n_samples, ensure(database, plan_id, n_samples))
