"""The audit key: a secret kept outside the database that keys the audit chain and signs its
checkpoints.

``$KETASIM_AUDIT_KEY`` (at least 32 characters) when set; otherwise ``<data dir>/audit.key``,
created on first use with mode 0600 (32 random bytes, hex). Someone who can write the database
but not read this key cannot forge entries, re-chain the log or sign a checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

__all__ = ["KEY_FILE", "AuditKeyError", "key_id", "load_key"]

KEY_FILE = "audit.key"
_ENV = "KETASIM_AUDIT_KEY"


class AuditKeyError(RuntimeError):
    """The audit key cannot be used (too short, unreadable, readable by others)."""


def _ensure_dir(path: Path) -> None:
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)


def load_key(data_dir: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The audit key (created in ``data_dir`` with mode 0600 on first use)."""
    env = os.environ if env is None else env
    given = env.get(_ENV)
    if given:
        if len(given) < 32:
            raise AuditKeyError(f"{_ENV}: at least 32 characters (e.g. `openssl rand -hex 32`)")
        return given.encode("utf-8")
    _ensure_dir(data_dir)
    path = data_dir / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise AuditKeyError(
                f"{path}: mode {mode:o}; the audit key must be readable by its "
                "owner only (chmod 600)"
            ) from None
        text = path.read_text(encoding="ascii").strip()
        if len(text) < 32:
            raise AuditKeyError(f"{path}: too short to be an audit key") from None
        return text.encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path.read_text(encoding="ascii").strip().encode("ascii")


def key_id(key: bytes) -> str:
    """A short public identifier of a key (the first 12 hex digits of its SHA-256)."""
    return hashlib.sha256(key).hexdigest()[:12]
