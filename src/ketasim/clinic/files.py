"""Files of the clinic readable by their owner only: the data directory 0700; the database,
exports and backups 0600 (they hold patient records).

POSIX modes; on systems without them (Windows) ``chmod`` changes only the read-only flag and
these helpers do no harm.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, tighten_existing: bool = True) -> Path:
    """Create ``path`` (and parents) if needed as ``0700``; an existing directory is made
    ``0700`` too unless ``tighten_existing`` is false (a directory the user chose for an
    export keeps its mode; the files in it are ``0600``). Returns ``path``."""
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if tighten_existing or not existed:
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if absent, without a moment of wider access, and make it ``0600``;
    returns it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return path
