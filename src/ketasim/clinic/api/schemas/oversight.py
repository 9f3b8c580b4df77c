"""Oversight: the prescriber's alert queue and the audit chain (entries, verification)."""

from __future__ import annotations

from pydantic import BaseModel

from ketasim.clinic.api.schemas.common import RecordModel, UtcTime

__all__ = ["AlertPublic", "AuditEntryPublic", "AuditVerifyPublic"]


class AlertPublic(RecordModel):
    id: int
    patient_id: int
    session_id: int | None
    kind: str
    severity: str
    message: str
    source: str
    created_at: UtcTime
    acknowledged_at: UtcTime | None


class AuditEntryPublic(RecordModel):
    seq: int
    at: str
    username: str
    action: str
    entity: str
    entity_id: str
    before: str
    after: str
    hash: str


class AuditVerifyPublic(BaseModel):
    entries: int
    intact: bool
    problems: list[str]
