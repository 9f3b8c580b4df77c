"""Append-only, hash-chained audit log of every write.

Each entry stores who (user id and name), when (UTC, ISO 8601), what (action, entity, id) and the
record before and after (canonical JSON), plus the previous entry's hash and its own:
``hash = sha256(prev_hash | seq | at | user_id | username | action | entity | entity_id | before |
after)``. A single ``audit_head`` row, updated in the same transaction as the write, serialises
the chain (row lock on PostgreSQL, the immediate write lock on SQLite), so concurrent writers
never fork it. :func:`verify_chain` recomputes every hash and names the first entry that does not
match (edited, deleted or reordered rows).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from ketasim.clinic.db.models import AuditEntry, AuditHead, Base, utcnow

__all__ = ["GENESIS", "AuditProblem", "entry_hash", "record", "snapshot", "verify_chain"]

GENESIS = "0" * 64


def _default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical(data: Mapping[str, object] | None) -> str:
    """Canonical JSON (sorted keys, no spaces) of a record snapshot; ``''`` for none."""
    if data is None:
        return ""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=_default,
                      ensure_ascii=False)


def snapshot(obj: Base) -> dict[str, object]:
    """The column values of an ORM object (password hashes left out)."""
    mapper = inspect(obj).mapper
    return {c.key: getattr(obj, c.key) for c in mapper.column_attrs
            if c.key not in ("password_hash", "token_hash", "csrf_token")}


def entry_hash(prev_hash: str, seq: int, at: str, user_id: int | None, username: str,
               action: str, entity: str, entity_id: str, before: str, after: str) -> str:
    """The SHA-256 (hex) of one entry chained to ``prev_hash``."""
    fields = [prev_hash, str(seq), at, "" if user_id is None else str(user_id), username, action,
              entity, entity_id, before, after]
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


def record(session: Session, *, user_id: int | None, username: str, action: str, entity: str,
           entity_id: object, before: Mapping[str, object] | None,
           after: Mapping[str, object] | None) -> AuditEntry:
    """Append one entry in the caller's transaction (so it commits or rolls back with the write)."""
    session.flush()
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()
    seq = head.seq + 1
    at = utcnow().isoformat(timespec="microseconds")
    b, a = canonical(before), canonical(after)
    h = entry_hash(head.hash, seq, at, user_id, username, action, entity, str(entity_id), b, a)
    entry = AuditEntry(seq=seq, at=at, user_id=user_id, username=username, action=action,
                       entity=entity, entity_id=str(entity_id), before=b, after=a,
                       prev_hash=head.hash, hash=h)
    session.add(entry)
    head.seq, head.hash = seq, h
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditProblem:
    """One break in the chain: the entry's sequence number and what is wrong."""

    seq: int
    message: str


def verify_chain(session: Session) -> tuple[int, list[AuditProblem]]:
    """Recompute the chain; return (entries checked, problems). No problems: intact."""
    problems: list[AuditProblem] = []
    prev = GENESIS
    expected_seq = 1
    count = 0
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if e.seq != expected_seq:
            problems.append(AuditProblem(e.seq, f"entry {e.seq}: expected sequence number "
                                         f"{expected_seq} (an entry is missing)"))
        if e.prev_hash != prev:
            problems.append(AuditProblem(e.seq, f"entry {e.seq}: previous hash does not match "
                                         "entry before it"))
        h = entry_hash(e.prev_hash, e.seq, e.at, e.user_id, e.username, e.action, e.entity,
                       e.entity_id, e.before, e.after)
        if h != e.hash:
            problems.append(AuditProblem(e.seq, f"entry {e.seq} ({e.action} {e.entity} "
                                         f"{e.entity_id}): content does not match its hash "
                                         "(edited)"))
        prev = e.hash
        expected_seq = e.seq + 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        problems.append(AuditProblem(0, "audit head row is missing"))
    elif head.seq != count or head.hash != prev:
        problems.append(AuditProblem(head.seq, f"the chain ends at entry {expected_seq - 1} but "
                                     f"the head records entry {head.seq} (entries removed at "
                                     "the end)"))
    return count, problems
