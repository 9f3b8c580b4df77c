"""Append-only, hash-chained audit log of every write.

Each entry stores who (user id and name), when (UTC, ISO 8601), what (action, entity, id) and the
record before and after (canonical JSON), plus the previous entry's hash and its own:
``hash = HMAC-SHA256(key, prev_hash | seq | at | user_id | username | action | entity |
entity_id | before | after)`` with the audit key kept outside the database
(:mod:`ketasim.clinic.security.keys`; entries written before the key existed are plain SHA-256).
A single ``audit_head`` row, updated in the same transaction as the write, serialises
the chain (row lock on PostgreSQL, the immediate write lock on SQLite), so concurrent writers
never fork it. :func:`verify_chain` recomputes every hash, checks the signed checkpoints kept
outside the database and compares every clinical row with its last audited state
(:mod:`ketasim.clinic.security.integrity`), naming what does not match.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import AuditEntry, AuditHead, Base
from ketasim.clinic.db.models import utcnow as utcnow  # the machine clock, for callers

__all__ = [
    "GENESIS",
    "INFO_KEY",
    "INFO_PENDING",
    "AuditProblem",
    "entry_hash",
    "record",
    "row_image",
    "snapshot",
    "verify_chain",
]

GENESIS = "0" * 64
#: Session.info keys: the audit key (bytes) and the (seq, hash) a transaction appended last
INFO_KEY = "ketasim_audit_key"
INFO_PENDING = "ketasim_audit_pending"
#: columns never copied into the audit log: they appear as a SHA-256 digest (a change to them is
#: still covered by the chain; the secret is not disclosed to readers of the log)
SECRET_COLUMNS = frozenset({"password_hash", "totp_secret"})
_OMITTED = frozenset({"token_hash", "csrf_token"})


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
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), default=_default, ensure_ascii=False
    )


def row_image(values: Mapping[str, object]) -> dict[str, object]:
    """The audited image of a row's column values: secrets as ``<name>_sha256`` digests,
    login tokens left out."""
    out: dict[str, object] = {}
    for k, v in values.items():
        if k in _OMITTED:
            continue
        if k in SECRET_COLUMNS:
            out[f"{k}_sha256"] = (
                None if v is None else hashlib.sha256(str(v).encode("utf-8")).hexdigest()
            )
            continue
        out[k] = v
    return out


def snapshot(obj: Base) -> dict[str, object]:
    """The column values of an ORM object (secrets as digests, see :func:`row_image`)."""
    mapper = inspect(obj).mapper
    return row_image({c.key: getattr(obj, c.key) for c in mapper.column_attrs})


def entry_hash(
    prev_hash: str,
    seq: int,
    at: str,
    user_id: int | None,
    username: str,
    action: str,
    entity: str,
    entity_id: str,
    before: str,
    after: str,
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 under ``key`` (hex) of one entry chained to ``prev_hash``; plain SHA-256
    without a key (entries written before the keyed chain)."""
    fields = [
        prev_hash,
        str(seq),
        at,
        "" if user_id is None else str(user_id),
        username,
        action,
        entity,
        entity_id,
        before,
        after,
    ]
    data = "\x1f".join(fields).encode("utf-8")
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def record(
    session: Session,
    *,
    user_id: int | None,
    username: str,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (so it commits or rolls back with the write).

    The session must carry the audit key (``session.info[INFO_KEY]``, set by
    :class:`~ketasim.clinic.db.Database`)."""
    key = session.info.get(INFO_KEY)
    if not isinstance(key, bytes):
        raise RuntimeError("no audit key on this session (open it with Database.session())")
    session.flush()
    head = session.execute(
        select(AuditHead)
        .where(AuditHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    seq = head.seq + 1
    at = clinic_now(session).isoformat(timespec="microseconds")
    b, a = canonical(before), canonical(after)
    h = entry_hash(head.hash, seq, at, user_id, username, action, entity, str(entity_id), b, a, key)
    entry = AuditEntry(
        seq=seq,
        at=at,
        user_id=user_id,
        username=username,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=b,
        after=a,
        prev_hash=head.hash,
        hash=h,
    )
    session.add(entry)
    head.seq, head.hash = seq, h
    session.flush()
    session.info[INFO_PENDING] = (seq, h)
    return entry


@dataclass(frozen=True)
class AuditProblem:
    """One break in the chain: the entry's sequence number and what is wrong."""

    seq: int
    message: str


def verify_chain(session: Session) -> tuple[int, list[AuditProblem]]:
    """Verify the keyed chain, the signed checkpoints and the clinical rows (see
    :func:`ketasim.clinic.security.integrity.verify`); return (entries checked, problems)."""
    from ketasim.clinic.security.integrity import verify

    return verify(session)
