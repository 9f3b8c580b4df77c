"""A killed server (SIGKILL, no shutdown) loses no committed record: every write answered 201
is there after a restart on the same data directory, and the audit chain is intact."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ketasim.clinic.app import create_app
from ketasim.clinic.audit import verify_chain
from ketasim.clinic.services.base import Actor
from ketasim.clinic.services.users import create_user
from ketasim.clinic.settings import Settings

PASSWORD = "durable-password"
CODE = "from ketasim.cli import main; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    fh = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, "serve", "--port", str(port)], env=env, stdout=fh, stderr=fh
    )
    fh.close()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(log.read_text())


def test_sigkill_loses_no_committed_record(tmp_path: Path) -> None:
    env = {**os.environ, "KETASIM_DATA_DIR": str(tmp_path / "data"), "KETASIM_PASSWORD": PASSWORD}
    env.pop("DATABASE_URL", None)
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    with app.state.db.session() as s:
        create_user(
            s, Actor(None, "test"), username="nurse", full_name="N", role="nurse", password=PASSWORD
        )
    app.state.db.dispose()
    port = _free_port()
    proc, url = _start(env, port, tmp_path / "server.log")
    committed: list[str] = []
    lock = threading.Lock()
    try:
        token = httpx.post(
            f"{url}/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def writer(k: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=10) as c:
                for j in range(1000):
                    mrn = f"K{k}-{j}"
                    try:
                        r = c.post(
                            "/api/v1/patients",
                            json={
                                "mrn": mrn,
                                "given_name": "Kim",
                                "family_name": "Lee",
                                "birth_date": "1970-01-01",
                                "sex": "female",
                                "weight_kg": 60,
                            },
                        )
                    except httpx.HTTPError:
                        return  # the server died mid-request: not acknowledged
                    if r.status_code == 201:
                        with lock:
                            committed.append(mrn)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        for t in threads:
            t.join()
    finally:
        proc.kill()
        proc.wait()
    assert len(committed) > 10
    proc, url = _start(env, _free_port(), tmp_path / "server.log")
    try:
        token = httpx.post(
            f"{url}/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD}
        ).json()["token"]
        stored = httpx.get(
            f"{url}/api/v1/patients",
            params={"limit": 1000},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        mrns = {p["mrn"] for p in stored}
        assert set(committed) <= mrns
        assert len(mrns) - len(committed) <= 4  # at most one in flight per writer
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    app = create_app(settings)
    with app.state.db.session() as s:
        n, problems = verify_chain(s)
    app.state.db.dispose()
    assert not problems and n >= len(committed) + 1
