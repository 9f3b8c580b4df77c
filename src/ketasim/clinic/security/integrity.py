"""Tamper evidence against someone who can write the database but not read the audit key.

Three checks, all run by :func:`verify` (``ketasim clinic verify-audit``, ``GET
/api/v1/audit/verify``, the audit page):

1. The keyed chain: every entry from the first keyed one on must carry
   ``HMAC-SHA256(key, ...)`` of its fields chained to the entry before; an edited entry, a
   deleted one, or a chain recomputed with plain SHA-256 does not match.
2. Signed checkpoints outside the database: after every committed write transaction the chain's
   head (sequence number and hash) is appended to a checkpoint file (one JSON line, signed with
   the key). Entries removed at the end of the log, or a rewritten entry the checkpoints name,
   are found even when the attacker also rewinds ``audit_head``.
3. Row coverage: every clinical row must equal the after-image of its latest audit entry (which
   the keyed chain protects); a row edited, inserted or deleted outside the app is named. Reads
   of patient records (``access_log``) are covered in batches by digest entries.

The checkpoint file's first line marks where the keyed chain starts (``keyed_from``): a database
created before the key existed keeps its older plain-SHA-256 entries, verified as such.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.audit import (
    GENESIS,
    INFO_KEY,
    INFO_PENDING,
    AuditProblem,
    canonical,
    entry_hash,
    row_image,
)
from ketasim.clinic.db.models import AccessLog, AuditEntry, AuditHead, Base, utcnow
from ketasim.clinic.security.keys import key_id

__all__ = [
    "CLINICAL_TABLES",
    "INFO_CHECKPOINTS",
    "Checkpoints",
    "access_digest",
    "after_commit",
    "after_rollback",
    "anchor",
    "verify",
]

INFO_CHECKPOINTS = "ketasim_audit_checkpoints"
#: tables whose every row must match its latest audit entry (plus any other audited table)
CLINICAL_TABLES = frozenset(
    {
        "users",
        "patients",
        "consent_documents",
        "consents",
        "screenings",
        "treatment_plans",
        "treatment_sessions",
        "observations",
        "adverse_events",
        "ratings",
        "alerts",
    }
)
#: never row-checked: login sessions, the log itself, derived caches, migration bookkeeping
_NOT_ROWS = frozenset(
    {
        "auth_sessions",
        "audit_log",
        "audit_head",
        "access_log",
        "plan_predictions",
        "alembic_version",
    }
)
_MAX_LISTED = 20


class Checkpoints:
    """The signed checkpoint file (JSON lines appended; each line HMAC-signed)."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self.key = key
        self.key_id = key_id(key)
        self._lock = threading.Lock()

    def _line(self, kind: str, seq: int, hash_: str) -> bytes:
        at = utcnow().isoformat(timespec="microseconds")
        sig = self._sign(kind, seq, hash_, at, self.key_id)
        return (
            json.dumps(
                {
                    "kind": kind,
                    "seq": seq,
                    "hash": hash_,
                    "at": at,
                    "key_id": self.key_id,
                    "sig": sig,
                },
                separators=(",", ":"),
            )
            + "\n"
        ).encode("ascii")

    def _sign(self, kind: str, seq: int, hash_: str, at: str, kid: str) -> str:
        msg = "\x1f".join([kind, str(seq), hash_, at, kid]).encode("utf-8")
        return hmac.new(self.key, msg, hashlib.sha256).hexdigest()

    def start(self, keyed_from: int, head_seq: int, head_hash: str) -> bool:
        """Create the file with its start line (False when it exists already)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except FileExistsError:
            return False
        try:
            os.write(
                fd,
                self._line("start", keyed_from, "")
                + (self._line("head", head_seq, head_hash) if head_seq else b""),
            )
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def head(self, seq: int, hash_: str) -> None:
        """Append the chain head after a committed write."""
        line = self._line("head", seq, hash_)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def read(self) -> tuple[int | None, dict[int, str], list[AuditProblem]]:
        """(keyed_from or None, {seq: hash} of the head checkpoints, problems)."""
        problems: list[AuditProblem] = []
        heads: dict[int, str] = {}
        start: int | None = None
        if not self.path.exists():
            return None, heads, [AuditProblem(0, f"checkpoint file {self.path} is missing")]
        bad = 0
        with self.path.open("r", encoding="ascii", errors="replace") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.endswith("\n"):
                    continue  # a line still being written
                try:
                    d = json.loads(raw)
                    ok = hmac.compare_digest(
                        self._sign(d["kind"], int(d["seq"]), d["hash"], d["at"], d["key_id"]),
                        str(d["sig"]),
                    )
                except (ValueError, KeyError, TypeError):
                    ok = False
                if not ok:
                    bad += 1
                    if bad <= _MAX_LISTED:
                        problems.append(
                            AuditProblem(
                                0,
                                f"checkpoint line {number}: signature "
                                "does not match (forged or edited)",
                            )
                        )
                    continue
                if d["kind"] == "start":
                    start = int(d["seq"]) if start is None else start
                elif d["kind"] == "head":
                    heads[int(d["seq"])] = str(d["hash"])
        if start is None:
            problems.append(
                AuditProblem(0, f"checkpoint file {self.path} has no signed start line")
            )
        return start, heads, problems


def after_commit(session: Session) -> None:
    """Session event: write the checkpoint of a committed transaction that appended entries."""
    pending = session.info.pop(INFO_PENDING, None)
    cp = session.info.get(INFO_CHECKPOINTS)
    if pending is not None and isinstance(cp, Checkpoints):
        cp.head(*pending)


def after_rollback(session: Session) -> None:
    """Session event: a rolled-back transaction leaves no checkpoint."""
    session.info.pop(INFO_PENDING, None)


def anchor(session: Session, cp: Checkpoints) -> None:
    """Create the checkpoint file of a database that has none: a new database is keyed from
    entry 1; one written before the key existed (its head a valid plain-SHA-256 entry) is keyed
    from the next entry. Otherwise (keyed entries but no file) nothing is created and
    :func:`verify` reports the missing file."""
    if cp.path.exists():
        return
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None or head.seq == 0:
        cp.start(1, 0, "")
        return
    last = session.execute(
        select(AuditEntry).where(AuditEntry.seq == head.seq)
    ).scalar_one_or_none()
    if last is not None and last.hash == head.hash and _plain(last) == last.hash:
        cp.start(head.seq + 1, head.seq, head.hash)


def _plain(e: AuditEntry, key: bytes | None = None) -> str:
    """The hash of a stored entry: keyed with ``key``, plain SHA-256 without."""
    return entry_hash(
        e.prev_hash,
        e.seq,
        e.at,
        e.user_id,
        e.username,
        e.action,
        e.entity,
        e.entity_id,
        e.before,
        e.after,
        key,
    )


def access_digest(rows: list[dict[str, object]]) -> str:
    """SHA-256 of a batch of access-log rows (canonical JSON, in id order)."""
    return hashlib.sha256("\n".join(canonical(r) for r in rows).encode("utf-8")).hexdigest()


class _Problems:
    def __init__(self) -> None:
        self.items: list[AuditProblem] = []
        self.counts: dict[str, int] = {}

    def add(self, kind: str, seq: int, message: str) -> None:
        n = self.counts[kind] = self.counts.get(kind, 0) + 1
        if n <= _MAX_LISTED:
            self.items.append(AuditProblem(seq, message))

    def finish(self) -> list[AuditProblem]:
        for kind, n in self.counts.items():
            if n > _MAX_LISTED:
                self.items.append(
                    AuditProblem(0, f"... and {n - _MAX_LISTED} more {kind} problems")
                )
        return self.items


def verify(session: Session) -> tuple[int, list[AuditProblem]]:
    """Check the keyed chain, the checkpoints and the rows; return (entries, problems)."""
    key = session.info.get(INFO_KEY)
    cp = session.info.get(INFO_CHECKPOINTS)
    if not isinstance(key, bytes) or not isinstance(cp, Checkpoints):
        raise RuntimeError("no audit key on this session (open it with Database.read())")
    out = _Problems()
    keyed_from, heads, cp_problems = cp.read()
    keyed_from = 1 if keyed_from is None else keyed_from
    prev, expected_seq, count = GENESIS, 1, 0
    hashes: dict[int, str] = {}
    latest: dict[tuple[str, str], AuditEntry] = {}
    access_batches: list[AuditEntry] = []
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
        count += 1
        if e.seq != expected_seq:
            out.add(
                "sequence",
                e.seq,
                f"entry {e.seq}: expected sequence number {expected_seq} (an entry is missing)",
            )
        if e.prev_hash != prev:
            out.add("link", e.seq, f"entry {e.seq}: previous hash does not match entry before it")
        keyed = e.seq >= keyed_from
        h = _plain(e, key if keyed else None)
        if h != e.hash:
            why = (
                "does not match its keyed hash (edited, or the chain recomputed without the "
                "audit key)"
                if keyed
                else "does not match its hash (edited)"
            )
            out.add(
                "content",
                e.seq,
                f"entry {e.seq} ({e.action} {e.entity} {e.entity_id}): content {why}",
            )
        hashes[e.seq] = e.hash
        if e.entity == "access_log":
            access_batches.append(e)
        else:
            latest[(e.entity, e.entity_id)] = e
        prev = e.hash
        expected_seq = e.seq + 1
    last_seq = expected_seq - 1
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    if head is None:
        out.add("head", 0, "audit head row is missing")
    elif head.seq != count or head.hash != prev:
        out.add(
            "head",
            head.seq,
            f"the chain ends at entry {last_seq} but the head records "
            f"entry {head.seq} (entries removed at the end)",
        )
    if count or heads:
        for p in cp_problems:
            out.add("checkpoint", p.seq, p.message)
    _check_checkpoints(out, heads, hashes, last_seq)
    _check_rows(session, out, latest)
    _check_access_log(session, out, access_batches)
    return count, out.finish()


def _check_checkpoints(
    out: _Problems, heads: dict[int, str], hashes: dict[int, str], last_seq: int
) -> None:
    if heads:
        top = max(heads)
        if top > last_seq:
            out.add(
                "truncation",
                top,
                f"the signed checkpoint records entry {top} but the log "
                f"ends at entry {last_seq}: {top - last_seq} entries removed at the end",
            )
    for seq in sorted(heads):
        if seq in hashes and hashes[seq] != heads[seq]:
            out.add(
                "checkpoint-hash",
                seq,
                f"entry {seq}: hash differs from the signed "
                "checkpoint (entry rewritten or chain recomputed)",
            )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            da, db = dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)
        except ValueError:
            return False
        return _utc(da) == _utc(db)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _utc(d: dt.datetime) -> dt.datetime:
    return d.astimezone(dt.UTC).replace(tzinfo=None) if d.tzinfo is not None else d


def _check_rows(
    session: Session, out: _Problems, latest: dict[tuple[str, str], AuditEntry]
) -> None:
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    audited = {entity for entity, _ in latest}
    for name in sorted((CLINICAL_TABLES | audited) - _NOT_ROWS):
        table = tables.get(name)
        if table is None or "id" not in table.c:
            continue
        seen: set[str] = set()
        for row in session.execute(select(table).order_by(table.c.id)).mappings():
            rid = str(row["id"])
            seen.add(rid)
            entry = latest.get((name, rid))
            if entry is None:
                out.add("row", 0, f"row {name} {rid} has no audit entry (inserted outside the app)")
                continue
            if not entry.after:
                out.add(
                    "row",
                    entry.seq,
                    f"row {name} {rid} exists but entry {entry.seq} records its deletion",
                )
                continue
            recorded = json.loads(entry.after)
            current = json.loads(canonical(row_image(dict(row))))
            fields = [k for k in recorded if not _same(recorded[k], current.get(k))]
            if fields:
                out.add(
                    "row",
                    entry.seq,
                    f"row {name} {rid}: {', '.join(sorted(fields))} "
                    f"differ from its last audited state (entry {entry.seq}; edited "
                    "outside the app)",
                )
        for (entity, rid), entry in latest.items():
            if entity == name and rid not in seen and entry.after:
                out.add(
                    "row",
                    entry.seq,
                    f"row {name} {rid} is missing (deleted outside the "
                    f"app; last audited in entry {entry.seq})",
                )


def _check_access_log(session: Session, out: _Problems, batches: list[AuditEntry]) -> None:
    rows = [
        dict(r)
        for r in session.execute(select(AccessLog.__table__).order_by(AccessLog.id)).mappings()
    ]
    by_id = {int(str(r["id"])): r for r in rows}
    covered: set[int] = set()
    for e in batches:
        try:
            d = json.loads(e.after)
            first, last, digest = int(d["first_id"]), int(d["last_id"]), str(d["digest"])
        except (ValueError, KeyError, TypeError):
            out.add("access", e.seq, f"entry {e.seq}: unreadable access-log batch")
            continue
        batch = [by_id[i] for i in range(first, last + 1) if i in by_id]
        covered.update(range(first, last + 1))
        if access_digest(batch) != digest:
            out.add(
                "access",
                e.seq,
                f"access_log rows {first}-{last} differ from their digest "
                f"(entry {e.seq}; edited or deleted outside the app)",
            )
    extra = sorted(set(by_id) - covered)
    if extra:
        out.add(
            "access",
            0,
            f"access_log rows {extra[0]}..{extra[-1]} ({len(extra)}) have no "
            "audit entry (inserted outside the app)",
        )
