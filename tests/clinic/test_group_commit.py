"""Group commit on SQLite (db/group_commit.py): concurrent writers share commits, yet every
acknowledged write is stored, every failed one leaves nothing, the audit chain verifies and the
signed checkpoint names the chain's last entry."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

from sqlalchemy import func, select

from ketasim.clinic.audit import verify_chain
from ketasim.clinic.db import Database, migrate
from ketasim.clinic.db.models import AuditHead, Patient
from ketasim.clinic.services.base import Actor
from ketasim.clinic.services.patients import create_patient
from ketasim.clinic.settings import Settings

WRITERS, EACH = 8, 20
_PERSON: dict[str, object] = {
    "given_name": "G",
    "family_name": "H",
    "birth_date": dt.date(1975, 1, 1),
    "sex": "female",
    "weight_kg": 60.0,
}


def _database(tmp_path: Path) -> Database:
    database = Database(Settings(data_dir=tmp_path / "data"))
    migrate(database.engine)
    database.anchor()
    return database


class _RefusedError(Exception):
    pass


def test_concurrent_writers_share_commits_and_lose_nothing(tmp_path: Path) -> None:
    database = _database(tmp_path)
    acknowledged: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def writer(k: int) -> None:
        start.wait()
        for j in range(EACH):
            mrn = f"G{k}-{j}"
            try:
                with database.session() as s:
                    create_patient(s, Actor(None, "test"), mrn=mrn, **_PERSON)
                    if j % 5 == 4:  # written and audited, then the request fails
                        raise _RefusedError(mrn)
            except _RefusedError:
                with lock:
                    refused.append(mrn)
                continue
            with lock:
                acknowledged.append(mrn)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(acknowledged) == WRITERS * EACH * 4 // 5
    with database.read() as s:
        stored = set(s.execute(select(Patient.mrn)).scalars())
        head = s.execute(select(AuditHead)).scalar_one()
        n, problems = verify_chain(s)
    assert stored == set(acknowledged)
    assert not stored & set(refused)
    assert problems == []
    assert n == head.seq == len(acknowledged)  # one entry per stored patient, none of the failed
    lines = [json.loads(x) for x in database.checkpoints.path.read_text().splitlines()]
    heads = [d for d in lines if d["kind"] == "head"]
    assert (heads[-1]["seq"], heads[-1]["hash"]) == (head.seq, head.hash)
    # one checkpoint per committed batch: fewer than the writes when writers shared commits
    assert len(heads) < len(acknowledged)
    database.dispose()


def test_a_failed_first_writer_leaves_no_open_transaction(tmp_path: Path) -> None:
    database = _database(tmp_path)
    try:
        with database.session() as s:
            create_patient(s, Actor(None, "test"), mrn="X1", **_PERSON)
            raise _RefusedError("X1")
    except _RefusedError:
        pass
    # the database is free for another connection (no batch left open by the failed writer)
    with database.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Patient)).scalar_one() == 0
    with database.session() as s:
        create_patient(s, Actor(None, "test"), mrn="X2", **_PERSON)
    with database.read() as s:
        assert list(s.execute(select(Patient.mrn)).scalars()) == ["X2"]
        assert verify_chain(s)[1] == []
    database.dispose()


def test_a_read_session_refuses_writes(tmp_path: Path) -> None:
    import pytest

    database = _database(tmp_path)
    with database.read() as s, pytest.raises(RuntimeError, match="read-only session"):
        s.add(Patient(mrn="R-1", **_PERSON))
        s.flush()
    with database.read() as s:
        assert s.execute(select(func.count()).select_from(Patient)).scalar_one() == 0
    database.dispose()


def test_two_databases_on_one_file_take_turns_on_the_writer_lock(tmp_path: Path) -> None:
    # two server processes: each Database has its own lock-file handle (flock is per handle)
    first, second = _database(tmp_path), Database(Settings(data_dir=tmp_path / "data"))
    errors: list[BaseException] = []

    def write(database: Database, k: int) -> None:
        try:
            for j in range(10):
                with database.session() as s:
                    create_patient(s, Actor(None, "test"), mrn=f"T{k}-{j}", **_PERSON)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(db, k))
        for k, db in enumerate([first, second, first, second])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with first.read() as s:
        assert s.execute(select(func.count()).select_from(Patient)).scalar_one() == 40
        n, problems = verify_chain(s)
    assert n == 40 and problems == [], problems
    assert (tmp_path / "data" / "clinic.sqlite3-writelock").stat().st_mode & 0o777 == 0o600
    first.dispose()
    second.dispose()
