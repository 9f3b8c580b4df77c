"""Issue 12, item 7: private files (data directory 0700; database, exports, backups 0600) and
CSV exports that cannot smuggle a formula into a spreadsheet."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clinic_support import PATIENT, ok

from ketasim.clinic.app import create_app
from ketasim.clinic.services.export import backup, export_tables, neutralise_cell
from ketasim.clinic.settings import Settings

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common default umask: without care, new files are world-readable (0644)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_data_directory_and_database_are_private(tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "clinic-data"
    app = create_app(Settings(data_dir=data, plan_samples=0))
    try:
        with app.state.db.session() as s:
            s.connection()
        assert _mode(data) == 0o700
        files = sorted(p.name for p in data.iterdir())
        assert "clinic.sqlite3" in files
        for p in data.iterdir():
            assert _mode(p) == 0o600, (p.name, oct(_mode(p)))
    finally:
        app.state.db.dispose()
    # an existing, too open data directory and database are tightened at start
    os.chmod(data, 0o755)
    os.chmod(data / "clinic.sqlite3", 0o644)
    app = create_app(Settings(data_dir=data, plan_samples=0))
    app.state.db.dispose()
    assert _mode(data) == 0o700 and _mode(data / "clinic.sqlite3") == 0o600


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_exports_and_backups_are_private_and_csv_is_neutralised(
    app: Any, as_role: dict[str, Any], tmp_path: Path, loose_umask: None
) -> None:
    evil = {
        **PATIENT,
        "mrn": "-2+3",
        "given_name": '=HYPERLINK("http://x","y")',
        "family_name": "@SUM(A1)",
        "language": "+cmd|' /C calc'!A0",
    }
    ok(as_role["nurse"].post("/api/v1/patients", json=evil), 201)
    out = tmp_path / "export"
    with app.state.db.session() as s:
        files = export_tables(s, out, "csv")
    assert _mode(out) == 0o700 and files
    assert all(_mode(f) == 0o600 for f in files)
    with (out / "patients.csv").open(newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert row["mrn"] == "'-2+3" and row["given_name"].startswith("'=HYPERLINK")
    assert row["family_name"] == "'@SUM(A1)" and row["language"].startswith("'+cmd")
    assert row["weight_kg"] == "70.0"  # numbers are not touched
    with app.state.db.session() as s:
        jfile = next(
            f for f in export_tables(s, tmp_path / "j", "json") if f.name == "patients.json"
        )
    assert json.loads(jfile.read_text())[0]["family_name"] == "@SUM(A1)"  # JSON is data
    dest = backup(app.state.settings, tmp_path / "backups" / "clinic-backup.sqlite3")
    assert _mode(dest) == 0o600 and dest.stat().st_size > 0


def test_formula_starts() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise_cell(start + "1") == "'" + start + "1"
    assert neutralise_cell("plain") == "plain" and neutralise_cell(-3.5) == -3.5
    assert neutralise_cell(None) is None
