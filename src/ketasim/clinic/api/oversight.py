"""/api/v1 oversight: who read a patient's record (the access log)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from ketasim.clinic.api.deps import Id, db, require
from ketasim.clinic.auth import CurrentUser
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import AccessLog
from ketasim.clinic.services import patients as pa

__all__ = ["AccessPublic", "router"]

router = APIRouter(prefix="/api/v1")
DB = Annotated[Database, Depends(db)]
Oversight = Annotated[CurrentUser, Depends(require("admin", "auditor"))]


class AccessPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: dt.datetime
    user_id: int
    username: str
    entity: str
    entity_id: str
    path: str


@router.get("/patients/{patient_id}/access-log", tags=["audit"])
def access_log(
    request: Request,
    patient_id: Id,
    user: Oversight,
    database: DB,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AccessPublic]:
    """Who read this patient's record (newest first; reads are written within a second)."""
    request.app.state.access.flush()
    with database.read() as s:
        pa.get_patient(s, patient_id)
        rows = s.execute(
            select(AccessLog)
            .where(AccessLog.patient_id == patient_id)
            .order_by(AccessLog.id.desc())
            .limit(limit)
        ).scalars()
        return [AccessPublic.model_validate(r) for r in rows]
