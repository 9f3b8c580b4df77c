"""/api/v1 oversight: the audit chain and its verification, who read a patient's record (the
access log), and the equity report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from ketasim.clinic import audit
from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Id, Oversight, Reporter
from ketasim.clinic.db.models import AccessLog, AuditEntry
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import reports as rp

__all__ = ["AccessPublic", "router"]

router = APIRouter(prefix="/api/v1")


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


@router.get("/reports/equity", tags=["reports"])
def report_equity(
    user: Reporter,
    database: DB,
    dimension: str = "sex",
    min_cell: Annotated[int, Query(ge=1, le=100)] = 5,
) -> dict[str, object]:
    """Access and outcomes by demographic group with small-cell suppression."""
    with database.read() as s:
        return rp.equity_report(s, dimension, min_cell=min_cell)


@router.get("/audit", tags=["audit"])
def audit_list(
    user: Oversight,
    database: DB,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[sc.AuditEntryPublic]:
    with database.read() as s:
        rows = s.execute(
            select(AuditEntry)
            .where(AuditEntry.seq > after_seq)
            .order_by(AuditEntry.seq)
            .limit(max(1, min(limit, 1000)))
        ).scalars()
        return [sc.AuditEntryPublic.model_validate(r) for r in rows]


@router.get("/audit/verify", tags=["audit"])
def audit_verify(request: Request, user: Oversight, database: DB) -> sc.AuditVerifyPublic:
    """Verify the keyed hash chain, the signed checkpoints and every clinical row."""
    request.app.state.access.flush()
    with database.read() as s:
        n, problems = audit.verify_chain(s)
    return sc.AuditVerifyPublic(
        entries=n, intact=not problems, problems=[p.message for p in problems]
    )
