"""/api/v1/patients: the patient records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Anyone, Id, Recorder, actor
from ketasim.clinic.api.json_out import json_model
from ketasim.clinic.services import patients as pa

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


@router.get("/patients", tags=["patients"])
def patients_list(
    user: Anyone,
    database: DB,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[sc.PatientPublic]:
    with database.read() as s:
        return [
            sc.PatientPublic.model_validate(p)
            for p in pa.list_patients(s, q=q, limit=max(1, min(limit, 1000)), offset=max(0, offset))
        ]


@router.post("/patients", tags=["patients"], status_code=201)
def patients_create(body: sc.PatientCreate, user: Recorder, database: DB) -> sc.PatientPublic:
    with database.session() as s:
        return sc.PatientPublic.model_validate(
            pa.create_patient(s, actor(user), **body.model_dump())
        )


@router.get("/patients/{patient_id}", tags=["patients"], response_model=sc.PatientPublic)
def patients_get(patient_id: Id, user: Anyone, database: DB) -> Response:
    with database.read() as s:
        return json_model(sc.PatientPublic.model_validate(pa.get_patient(s, patient_id)))


@router.patch("/patients/{patient_id}", tags=["patients"])
def patients_update(
    patient_id: Id, body: sc.PatientUpdate, user: Recorder, database: DB
) -> sc.PatientPublic:
    with database.session() as s:
        return sc.PatientPublic.model_validate(
            pa.update_patient(s, actor(user), patient_id, body.model_dump(exclude_unset=True))
        )
