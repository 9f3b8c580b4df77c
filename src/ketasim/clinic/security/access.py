"""Who looked at whom: every successful read of a patient's record (the patient, their plans,
sessions, consents, screenings, ratings; pages and API) is written to ``access_log``.

Reads are queued in memory and written in batches (at least every ``flush_every_s`` seconds, at
shutdown and before the audit is verified), one write transaction per batch, so reading stays a
read. Each batch appends one audit entry carrying the batch's id range and a digest of its rows:
the keyed chain covers the access log as it covers the clinical rows. A server killed with
SIGKILL loses at most the reads of its last ``flush_every_s`` seconds.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from ketasim.clinic import audit
from ketasim.clinic.db import Database
from ketasim.clinic.db.models import AccessLog, TreatmentPlan, TreatmentSession
from ketasim.clinic.security.integrity import access_digest

__all__ = ["AccessLogger", "subject_of"]

_SUBJECTS = [
    (re.compile(r"^/api/v1/patients/(\d+)(?:/[a-z0-9/_-]*)?$", re.I), "patients"),
    (re.compile(r"^/patients/(\d+)$"), "patients"),
    (re.compile(r"^/api/v1/sessions/(\d+)(?:/rems-form)?$"), "treatment_sessions"),
    (re.compile(r"^/sessions/(\d+)$"), "treatment_sessions"),
    (re.compile(r"^/api/v1/plans/(\d+)$"), "treatment_plans"),
    (re.compile(r"^/plans/(\d+)(?:/figures/\d+\.png)?$"), "treatment_plans"),
]
_LISTS = {
    "/api/v1/patients": "patients",
    "/patients": "patients",
    "/": "patients",
    "/api/v1/sessions": "treatment_sessions",
}


def subject_of(path: str) -> tuple[str, str] | None:
    """(entity, id or 'list') of a patient-record read at ``path``; None for other paths."""
    for pattern, entity in _SUBJECTS:
        m = pattern.match(path)
        if m:
            return entity, m.group(1)
    if path in _LISTS:
        return _LISTS[path], "list"
    return None


@dataclass(frozen=True)
class _Read:
    at: object
    user_id: int
    username: str
    entity: str
    entity_id: str
    path: str


class AccessLogger:
    """The queue of reads and its batch writer."""

    def __init__(
        self, database: Database, flush_every_s: float = 1.0, max_batch: int = 500
    ) -> None:
        self.database = database
        self.clock = database.settings.clock
        self.flush_every_s = flush_every_s
        self.max_batch = max_batch
        self._pending: list[_Read] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._last = time.monotonic()

    def note(self, user_id: int, username: str, path: str, query: str = "") -> bool:
        """Queue a read of ``path`` if it is one of a patient's record; True when a flush is
        due."""
        subject = subject_of(path)
        if subject is None:
            return False
        shown = (path + ("?" + query if query else ""))[:200]
        with self._lock:
            self._pending.append(
                _Read(
                    self.clock.now().replace(tzinfo=None),
                    user_id,
                    username,
                    subject[0],
                    subject[1],
                    shown,
                )
            )
            return (
                len(self._pending) >= self.max_batch
                or time.monotonic() - self._last >= self.flush_every_s
            )

    def flush(self) -> int:
        """Write the queued reads (one transaction, one audit entry); return how many."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                self._last = time.monotonic()
            if not batch:
                return 0
            with self.database.session() as s:
                patient_of = self._patients(s, batch)
                rows = [
                    AccessLog(
                        at=r.at,
                        user_id=r.user_id,
                        username=r.username,
                        patient_id=patient_of.get((r.entity, r.entity_id)),
                        entity=r.entity,
                        entity_id=r.entity_id,
                        path=r.path,
                    )
                    for r in batch
                ]
                s.add_all(rows)
                s.flush()
                first, last = rows[0].id, rows[-1].id
                stored = [
                    dict(m)
                    for m in s.execute(
                        select(AccessLog.__table__)
                        .where(AccessLog.id.between(first, last))
                        .order_by(AccessLog.id)
                    ).mappings()
                ]
                audit.record(
                    s,
                    user_id=None,
                    username="access-log",
                    action="read",
                    entity="access_log",
                    entity_id=f"{first}-{last}",
                    before=None,
                    after={
                        "first_id": first,
                        "last_id": last,
                        "count": len(stored),
                        "digest": access_digest(stored),
                    },
                )
            return len(batch)

    @staticmethod
    def _patients(s: object, batch: list[_Read]) -> dict[tuple[str, str], int]:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        out: dict[tuple[str, str], int] = {}
        for r in batch:
            if r.entity_id == "list":
                continue
            if r.entity == "patients":
                out[(r.entity, r.entity_id)] = int(r.entity_id)
        for model, entity in (
            (TreatmentSession, "treatment_sessions"),
            (TreatmentPlan, "treatment_plans"),
        ):
            ids = {int(r.entity_id) for r in batch if r.entity == entity and r.entity_id != "list"}
            if ids:
                for rid, pid in s.execute(
                    select(model.id, model.patient_id).where(model.id.in_(ids))
                ).all():
                    out[(entity, str(rid))] = int(pid)
        return out
