"""Export (CSV or JSON, one file per table) and consistent online backup."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.audit import row_image, snapshot
from ketasim.clinic.db.models import Base
from ketasim.clinic.files import private_dir, private_file
from ketasim.clinic.settings import Settings

__all__ = ["FORMULA_START", "backup", "export_tables", "neutralise_cell"]

EXPORTED = (
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
    "audit_log",
    "users",
)


#: first characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A text cell starting like a formula gets a leading ``'`` so spreadsheets show it as text
    (OWASP CSV Injection guidance); other values are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_tables(session: Session, out_dir: Path, fmt: str = "csv") -> list[Path]:
    """Write every clinical table to ``out_dir/<table>.<fmt>`` (secrets such as password hashes
    only as the digests the audit log holds; a new directory ``0700``, the files ``0600``; CSV
    cells that would start a formula neutralised)."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"format {fmt!r}; accepted csv, json")
    private_dir(out_dir, tighten_existing=False)
    by_name = {m.class_.__tablename__: m.class_ for m in Base.registry.mappers}
    written = []
    for name in EXPORTED:
        model = by_name[name]
        rows = [snapshot(o) for o in session.execute(select(model)).scalars()]
        path = private_file(out_dir / f"{name}.{fmt}")
        if fmt == "json":
            path.write_text(
                json.dumps(rows, default=str, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        else:
            cols = list(row_image({c.key: None for c in model.__mapper__.column_attrs}))
            with path.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=cols)
                w.writeheader()
                for r in rows:
                    w.writerow(
                        {
                            k: neutralise_cell(json.dumps(v) if isinstance(v, list | dict) else v)
                            for k, v in r.items()
                        }
                    )
        written.append(path)
    return written


def backup(settings: Settings, dest: Path) -> Path:
    """A consistent copy of the live database (``0600``): SQLite's online backup API, or
    ``pg_dump``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if settings.is_sqlite:
        src = sqlite3.connect(str(settings.data_dir / "clinic.sqlite3"))
        try:
            dst = sqlite3.connect(str(private_file(dest)))
            with dst:
                src.backup(dst)
            dst.close()
        finally:
            src.close()
        return dest
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise RuntimeError("pg_dump is not installed; install the PostgreSQL client tools")
    from sqlalchemy.engine import make_url

    url = make_url(settings.url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line (visible in ps)
    args = [pg_dump, "--format=custom", f"--file={dest}", f"--dbname={url.database}"]
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    subprocess.run(args, check=True, env=env, capture_output=True, umask=0o077)
    private_file(dest)
    return dest
