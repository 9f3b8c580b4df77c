"""`ketasim serve --workers 2`: two real server processes on one SQLite database. Writes from
many connections (spread over both processes by the kernel) are all stored with one intact audit
chain, and the login limit is one limit, whichever process answers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from test_durability import CODE, PASSWORD, _free_port

from ketasim.clinic.app import create_app
from ketasim.clinic.audit import verify_chain
from ketasim.clinic.services.base import Actor
from ketasim.clinic.services.users import create_user
from ketasim.clinic.settings import Settings


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def test_two_server_processes_share_records_chain_and_login_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "KETASIM_DATA_DIR": str(data)}
    env.pop("DATABASE_URL", None)
    app = create_app(Settings(data_dir=data))
    with app.state.db.session() as s:
        create_user(
            s, Actor(None, "test"), username="nurse", full_name="N", role="nurse", password=PASSWORD
        )
    app.state.db.dispose()
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        time.sleep(1.0)  # the second worker may still be importing
        assert len(_children(proc.pid)) >= 2, (tmp_path / "server.log").read_text()
        token = httpx.post(
            f"{url}/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        created: list[str] = []
        lock = threading.Lock()

        def writer(k: int) -> None:
            for j in range(8):  # a new connection each time: both processes take some
                mrn = f"W{k}-{j}"
                r = httpx.post(
                    f"{url}/api/v1/patients",
                    headers=headers,
                    timeout=30,
                    json={
                        "mrn": mrn,
                        "given_name": "Kim",
                        "family_name": "Lee",
                        "birth_date": "1980-01-01",
                        "sex": "female",
                        "weight_kg": 70,
                    },
                )
                assert r.status_code == 201, r.text
                with lock:
                    created.append(mrn)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(created) == 32
        # one login limit: 5 failures on fresh connections, then even the right password waits
        for _ in range(5):
            r = httpx.post(
                f"{url}/api/v1/auth/login", json={"username": "nurse", "password": "wrong-wrong"}
            )
            assert r.status_code == 400, r.text
        for _ in range(4):
            r = httpx.post(
                f"{url}/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD}
            )
            assert r.status_code == 429, r.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    app = create_app(Settings(data_dir=data))
    with app.state.db.read() as s:
        from ketasim.clinic.db.models import Patient

        stored = {p.mrn for p in s.query(Patient)}
        n, problems = verify_chain(s)
    app.state.db.dispose()
    assert set(created) <= stored and n > 32
    assert problems == [], problems
