"""Load benchmark of the clinic (not a timed test): mixed reads and writes from concurrent
clients on loopback against ``ketasim serve`` on SQLite.

``--mix api`` (default): API calls only, as described below. ``--mix pages``: half of the
requests are the HTML pages a nurse opens (the patient, the session, the plan with its
predicted curves; cookie login), half the API mix. ``--src DIR`` runs the server from another
source tree (e.g. a checkout of an older commit: a baseline measured in the same run).

The server runs in its own process (uvicorn; ``--workers N``: N worker processes) on 127.0.0.1 with
a fresh data directory. Setup through the API: a nurse, a consent document, ``--patients`` patients
each with an open, dosed esketamine session. Then ``--clients`` threads, each with its own keep-
alive connection, loop for ``--seconds``: 70 % reads (the patient, the session with its vitals, the
open alerts) and 30 % writes (a timed vital sign on a session, audited). Reported: requests/s,
p50/p99 latency (ms) overall and by kind, errors; afterwards the observations are counted and the
audit chain verified (no lost write, nothing corrupted). Target on the 2-core machine: 200
requests/s with p99 < 50 ms.

Run::

    python benchmarks/bench_clinic_load.py [--clients 4] [--seconds 15] [--mix api|pages]
        [--workers N] [--src DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

PASSWORD = "bench-password-1"
CODE = "from ketasim.cli import main; main()"
COOKIE = "ketasim_session"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc): the server's worker processes."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its descendants (every server process)."""
    return sum(_cpu_s(p) for p in _tree(pid))


def _setup(url: str, n_patients: int) -> tuple[dict[str, str], list[tuple[int, int, int]]]:
    c = httpx.Client(base_url=url, timeout=300)
    tok = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}).json()[
        "token"
    ]
    admin = {"Authorization": f"Bearer {tok}"}
    c.post(
        "/api/v1/users",
        headers=admin,
        json={"username": "nurse", "full_name": "N", "role": "nurse", "password": PASSWORD},
    )
    c.post(
        "/api/v1/users",
        headers=admin,
        json={"username": "doc", "full_name": "D", "role": "prescriber", "password": PASSWORD},
    )
    doc_id = c.post(
        "/api/v1/consent-documents",
        headers=admin,
        json={"code": "k", "title": "Consent", "body": "Risks explained to the patient in full."},
    ).json()["id"]

    def login(name: str) -> dict[str, str]:
        t = c.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD}).json()[
            "token"
        ]
        return {"Authorization": f"Bearer {t}"}

    nurse, presc = login("nurse"), login("doc")
    pairs = []
    for i in range(n_patients):
        pid = c.post(
            "/api/v1/patients",
            headers=nurse,
            json={
                "mrn": f"B{i}",
                "given_name": "Bench",
                "family_name": f"P{i}",
                "birth_date": "1975-01-01",
                "sex": "female" if i % 2 else "male",
                "weight_kg": 70,
            },
        ).json()["id"]
        c.post(
            f"/api/v1/patients/{pid}/consents",
            headers=nurse,
            json={"document_id": doc_id, "signed_by_name": "x"},
        )
        sid_scr = c.post(
            f"/api/v1/patients/{pid}/screenings",
            headers=nurse,
            json={"protocol_id": "esketamine-trd-us", "sbp_mmhg": 125, "dbp_mmhg": 80},
        ).json()["id"]
        plan = c.post(
            f"/api/v1/patients/{pid}/plans", headers=presc, json={"screening_id": sid_scr}
        ).json()["id"]
        c.post(f"/api/v1/plans/{plan}/sign", headers=presc)
        sid = c.post("/api/v1/sessions", headers=nurse, json={"plan_id": plan}).json()["id"]
        c.post(
            f"/api/v1/sessions/{sid}/predose",
            headers=nurse,
            json={"sbp_mmhg": 125, "dbp_mmhg": 80, "heart_rate_bpm": 70, "spo2_percent": 98},
        )
        c.post(
            f"/api/v1/sessions/{sid}/dose",
            headers=nurse,
            json={"dose_mg": 56, "lot_number": "L", "start_at": "2026-01-01T10:00:00"},
        )
        pairs.append((pid, sid, plan))
    c.close()
    return nurse, pairs


def start_server(
    data_dir: str, src: Path | None, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """``ketasim serve`` on a free port over a fresh data directory with one admin
    (``PASSWORD``), from ``src`` when given; returns the process, its URL (once /health
    answers) and the environment for further ``ketasim`` commands on the same data."""
    env = {**os.environ, "KETASIM_DATA_DIR": data_dir, "KETASIM_PASSWORD": PASSWORD}
    env.pop("DATABASE_URL", None)
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
    subprocess.run(
        [sys.executable, "-c", CODE, "clinic", "create-user", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", CODE, "serve", "--port", str(port)]
        + (["--workers", str(workers)] if workers > 1 else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return proc, url, env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--patients", type=int, default=10)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--mix", choices=["api", "pages"], default="api")
    ap.add_argument(
        "--src", type=Path, default=None, help="run the server from this source tree (PYTHONPATH)"
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (`ketasim serve --workers N`; 1: the flag is not passed, so an "
        "older --src tree runs too)",
    )
    ap.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        dest="py_spy",
        help="sample the server with py-spy during the load phase (raw stacks of "
        "the threads holding the GIL, to this file; needs py-spy)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, env = start_server(tmp, args.src, args.workers)
        try:
            headers, pairs = _setup(url, args.patients)
            lat: dict[str, list[float]] = {"read": [], "write": [], "page": []}
            errors: list[str] = []
            written = [0]
            lock = threading.Lock()
            # logins (a deliberately slow password hash) and the pages' first rendering happen
            # before the timed window: every client starts when all are logged in
            stop = [0.0]
            cpu_start = [0.0]

            client_cpu_start = [0.0]

            def _go() -> None:  # runs once, when every client is ready
                stop[0] = time.perf_counter() + args.seconds
                cpu_start[0] = _tree_cpu_s(proc.pid)
                client_cpu_start[0] = _cpu_s(os.getpid())

            ready = threading.Barrier(args.clients + 1, action=_go)
            login_lock = threading.Lock()
            if args.mix == "pages":
                with httpx.Client(base_url=url, timeout=60) as warm:
                    warm.post(
                        "/login", data={"username": "nurse", "password": PASSWORD, "next": "/"}
                    )
                    pid0, sid0, plan0 = pairs[0]
                    for path in (f"/patients/{pid0}", f"/sessions/{sid0}", f"/plans/{plan0}"):
                        warm.get(path)

            def client(k: int) -> None:
                rng = random.Random(k)
                mine: dict[str, list[float]] = {"read": [], "write": [], "page": []}
                n_w = 0
                with (
                    httpx.Client(base_url=url, headers=headers, timeout=30) as c,
                    httpx.Client(base_url=url, timeout=30) as web,
                ):
                    if args.mix == "pages":
                        # one login at a time: the server counts parallel attempts of one user
                        # name against its login limit (and refuses the excess)
                        with login_lock:
                            r = web.post(
                                "/login",
                                data={"username": "nurse", "password": PASSWORD, "next": "/"},
                            )
                        if r.status_code != 303 or COOKIE not in web.cookies:
                            errors.append(f"login {r.status_code}")
                    ready.wait()
                    while time.perf_counter() < stop[0]:
                        pid, sid, plan = rng.choice(pairs)
                        u = rng.random()
                        t0 = time.perf_counter()
                        if args.mix == "pages" and u < 0.5:
                            kind = "page"
                            r = web.get(
                                rng.choice(
                                    [f"/patients/{pid}", f"/sessions/{sid}", f"/plans/{plan}"]
                                )
                            )
                            ok = r.status_code == 200
                        elif (u - 0.5) * 2 < 0.3 if args.mix == "pages" else u < 0.3:
                            kind = "write"
                            r = c.post(
                                f"/api/v1/sessions/{sid}/observations",
                                json={
                                    "minutes_after_dose": rng.randint(0, 120),
                                    "sbp_mmhg": rng.randint(110, 150),
                                    "dbp_mmhg": 80,
                                    "spo2_percent": 97,
                                },
                            )
                            ok = r.status_code == 201
                            n_w += ok
                        else:
                            kind = "read"
                            path = rng.choice(
                                [
                                    f"/api/v1/patients/{pid}",
                                    f"/api/v1/sessions/{sid}",
                                    "/api/v1/alerts?open_only=true",
                                ]
                            )
                            r = c.get(path)
                            ok = r.status_code == 200
                        mine[kind].append((time.perf_counter() - t0) * 1000.0)
                        if not ok:
                            errors.append(f"{r.status_code} {r.text[:100]}")
                with lock:
                    for key in lat:
                        lat[key] += mine[key]
                    written[0] += n_w

            threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
            for t in threads:
                t.start()
            ready.wait()
            t_start = stop[0] - args.seconds
            spy = None
            if args.py_spy is not None:
                exe = Path(sys.executable).with_name("py-spy")
                spy = subprocess.Popen(
                    [
                        str(exe) if exe.exists() else "py-spy",
                        "record",
                        "-p",
                        str(proc.pid),
                        "--duration",
                        str(int(args.seconds)),
                        "-r",
                        "200",
                        "--gil",
                        "--subprocesses",
                        "-f",
                        "raw",
                        "-o",
                        str(args.py_spy),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t_start
            cpu_used = _tree_cpu_s(proc.pid) - cpu_start[0]
            client_cpu = _cpu_s(os.getpid()) - client_cpu_start[0]
            if spy is not None:
                spy.wait(timeout=60)
            with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
                stored = sum(
                    len(c.get(f"/api/v1/sessions/{sid}").json()["observations"])
                    for _, sid, _ in pairs
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        verify = subprocess.run(
            [sys.executable, "-c", CODE, "clinic", "verify-audit"],
            env=env,
            capture_output=True,
            text=True,
        )
    allv = np.array(lat["read"] + lat["write"] + lat["page"])
    out: dict[str, object] = {
        "mix": args.mix,
        "server": str(args.src or "this tree"),
        "clients": args.clients,
        "server_processes": args.workers,
        "seconds": round(elapsed, 2),
        "requests": int(allv.size),
        "requests_per_s": round(allv.size / elapsed, 1),
        "p50_ms": round(float(np.percentile(allv, 50)), 2),
        "p99_ms": round(float(np.percentile(allv, 99)), 2),
        "errors": len(errors),
        "writes_acknowledged": written[0],
        # load-independent: the server's CPU time per request (all its processes)
        "server_cpu_ms_per_request": round(1000.0 * cpu_used / max(1, allv.size), 2),
        # the clients (this process) share the machine's cores with the server
        "client_cpu_ms_per_request": round(1000.0 * client_cpu / max(1, allv.size), 2),
        "observations_stored": stored,
        "audit_intact": verify.returncode == 0,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    for kind, v in lat.items():
        if v:
            out[f"{kind}_p50_ms"] = round(float(np.percentile(v, 50)), 2)
            out[f"{kind}_p99_ms"] = round(float(np.percentile(v, 99)), 2)
    for k, v in out.items():
        print(f"{k:>22}: {v}")
    if errors:
        print("first errors:", errors[:3])
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
