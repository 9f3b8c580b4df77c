"""/api/v1 ratings: scores of the rating scales (totals or items) and their course."""

from __future__ import annotations

from fastapi import APIRouter

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Anyone, Clinician, Id, actor
from ketasim.clinic.db.models import Rating
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import ratings as ra

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


@router.get("/patients/{patient_id}/ratings", tags=["ratings"])
def ratings_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.RatingPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.RatingPublic.model_validate(r) for r in ra.list_ratings(s, patient_id)]


@router.post("/patients/{patient_id}/ratings", tags=["ratings"], status_code=201)
def ratings_create(
    patient_id: Id, body: sc.RatingCreate, user: Clinician, database: DB
) -> sc.RatingPublic:
    with database.session() as s:
        if body.items is not None:  # item-level (clinician-rated MADRS, or PHQ-9/GAD-7 items)
            from ketasim.clinic.services.questionnaires import record_items

            return sc.RatingPublic.model_validate(
                record_items(
                    s,
                    actor(user),
                    patient_id,
                    scale=body.scale,
                    items=body.items,
                    taken_on=body.taken_on,
                    score=body.score,
                )
            )
        if body.score is None:
            from ketasim.clinic.services.base import Invalid

            raise Invalid("score", "required unless items are given")
        return sc.RatingPublic.model_validate(
            ra.add_rating(
                s,
                actor(user),
                patient_id,
                scale=body.scale,
                score=body.score,
                taken_on=body.taken_on,
            )
        )


@router.get("/patients/{patient_id}/ratings/{scale}/course", tags=["ratings"])
def ratings_course(
    patient_id: Id, scale: str, user: Anyone, database: DB
) -> list[sc.CoursePointPublic]:
    """Scores with change from baseline, response (>= 50 % drop) and remission."""
    if scale.upper() not in ra.SCALES:
        from ketasim.clinic.services.base import Invalid

        raise Invalid("scale", f"{scale!r}; accepted: {', '.join(ra.SCALES)}")
    with database.read() as s:
        pa.get_patient(s, patient_id)
        rows: list[Rating] = ra.list_ratings(s, patient_id)
        return [sc.CoursePointPublic.model_validate(p) for p in ra.course(rows, scale.upper())]
