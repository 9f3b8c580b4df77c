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
        [--rate R | --sweep R1,R2,...] [--client threads|asyncio] [--warmup-s S]

Without ``--rate``/``--sweep`` the clients run closed loop (each sends when answered: the
latency is then mostly queueing at saturation). ``--rate R`` offers R requests/s over the
clients and counts each latency from the request's intended send time (wrk2's model, no
coordinated omission; ``clinic_load_client.py``); ``--sweep`` runs one fresh server per rate and
prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinic_load_client as lc

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
        # dosed now: a dose must start within its session (opened just above) and not in the future
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        c.post(
            f"/api/v1/sessions/{sid}/dose",
            headers=nurse,
            json={"dose_mg": 56, "lot_number": "L", "start_at": now},
        ).raise_for_status()
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


def _web_logins(url: str, n: int) -> list[httpx.Client]:
    """``n`` cookie logins of the nurse, one after another (the server counts parallel attempts
    of one user name against its login limit), with the pages rendered once."""
    clients = []
    for _ in range(n):
        web = httpx.Client(base_url=url, timeout=60)
        r = web.post("/login", data={"username": "nurse", "password": PASSWORD, "next": "/"})
        if r.status_code != 303 or COOKIE not in web.cookies:
            raise SystemExit(f"login {r.status_code}")
        clients.append(web)
    return clients


def _thread_clients(
    args: argparse.Namespace,
    url: str,
    headers: dict[str, str],
    webs: list[httpx.Client],
    pairs: list[tuple[int, int, int]],
    on_start: Callable[[], None],
) -> lc.Result:
    """Closed loop with one thread and one httpx keep-alive connection (two for the pages mix)
    per client (the original client of this benchmark)."""
    out = lc.Result()
    lock = threading.Lock()
    stop = [0.0]

    def _go() -> None:  # runs once, when every client is ready
        stop[0] = time.perf_counter() + args.seconds
        on_start()

    ready = threading.Barrier(args.clients, action=_go)

    def client(k: int) -> None:
        rng = random.Random(k)
        mine = lc.Result()
        with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
            web = webs[k] if webs else c
            ready.wait()
            while time.perf_counter() < stop[0]:
                req = lc.pick(rng, args.mix, pairs)
                t0 = time.perf_counter()
                r = (web if req.kind == "page" else c).request(req.method, req.path, json=req.body)
                mine.latencies[req.kind].append((time.perf_counter() - t0) * 1000.0)
                if r.status_code != req.expect:
                    mine.errors.append(f"{r.status_code} {r.text[:100]}")
                elif req.kind == "write":
                    mine.writes_acknowledged += 1
        with lock:
            for key, v in mine.latencies.items():
                out.latencies[key] += v
            out.errors += mine.errors
            out.writes_acknowledged += mine.writes_acknowledged

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            str(exe) if exe.exists() else "py-spy",
            *("record", "-p", str(pid), "--duration", str(int(seconds)), "-r", "200"),
            *("--gil", "--subprocesses", "-f", "raw", "-o", str(out)),
        ],
        stdout=subprocess.DEVNULL,
    )


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def measure(args: argparse.Namespace, rate: float | None) -> dict[str, object]:
    """One run on a fresh server: setup, (warm-up,) the timed window, then the stored vitals
    counted and the audit chain verified."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, env = start_server(tmp, args.src, args.workers)
        try:
            headers, pairs = _setup(url, args.patients)
            webs = _web_logins(url, args.clients) if args.mix == "pages" else []
            for web in webs[:1]:  # the pages' first rendering before the timed window
                pid0, sid0, plan0 = pairs[0]
                for path in (f"/patients/{pid0}", f"/sessions/{sid0}", f"/plans/{plan0}"):
                    web.get(path)
            cookies = [f"{COOKIE}={w.cookies[COOKIE]}" for w in webs]
            marks: dict[str, float] = {}

            def on_start() -> None:
                marks["t"] = time.perf_counter()
                marks["server_cpu"] = _tree_cpu_s(proc.pid)
                marks["client_cpu"] = _cpu_s(os.getpid())

            warm = 0
            if args.warmup_s > 0:  # discarded: first statements compiled, caches filled
                w = lc.run_clients(
                    url, headers, cookies, args.mix, pairs, args.clients, args.warmup_s, rate
                )
                warm = w.writes_acknowledged
            spy = None
            if args.py_spy is not None:
                spy = _py_spy(proc.pid, args.seconds, args.py_spy)
            if args.client == "threads":
                res = _thread_clients(args, url, headers, webs, pairs, on_start)
            else:
                res = lc.run_clients(
                    url,
                    headers,
                    cookies,
                    args.mix,
                    pairs,
                    args.clients,
                    args.seconds,
                    rate,
                    on_start,
                )
            elapsed = time.perf_counter() - marks["t"]
            cpu_used = _tree_cpu_s(proc.pid) - marks["server_cpu"]
            client_cpu = _cpu_s(os.getpid()) - marks["client_cpu"]
            if spy is not None:
                spy.wait(timeout=60)
            for web in webs:
                web.close()
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
    lat = res.latencies
    allv = lat["read"] + lat["write"] + lat["page"]
    out: dict[str, object] = {
        "mix": args.mix,
        "server": str(args.src or "this tree"),
        "client": args.client,
        "clients": args.clients,
        "server_processes": args.workers,
        "offered_rate_per_s": rate if rate is not None else "closed loop",
        "seconds": round(elapsed, 2),
        "requests": len(allv),
        "requests_per_s": round(len(allv) / elapsed, 1),
        "p50_ms": _pct(allv, 50),
        "p95_ms": _pct(allv, 95),
        "p99_ms": _pct(allv, 99),
        "max_ms": round(max(allv), 2),
        "errors": len(res.errors),
        "late_sends": res.late_sends,
        "writes_acknowledged": res.writes_acknowledged,
        # load-independent: the server's CPU time per request (all its processes)
        "server_cpu_ms_per_request": round(1000.0 * cpu_used / max(1, len(allv)), 2),
        # the clients (this process) share the machine's cores with the server
        "client_cpu_ms_per_request": round(1000.0 * client_cpu / max(1, len(allv)), 2),
        "observations_stored": stored,
        # every acknowledged write (timed window and warm-up) is stored
        "no_lost_write": stored >= res.writes_acknowledged + warm,
        "audit_intact": verify.returncode == 0,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    for kind, v in lat.items():
        if v:
            out[f"{kind}_p50_ms"] = _pct(v, 50)
            out[f"{kind}_p99_ms"] = _pct(v, 99)
    if res.errors:
        out["first_errors"] = res.errors[:3]
    return out


_COLUMNS = [
    ("offered req/s", "offered_rate_per_s"),
    ("req/s", "requests_per_s"),
    ("p50 ms", "p50_ms"),
    ("p95 ms", "p95_ms"),
    ("p99 ms", "p99_ms"),
    ("reads p99", "read_p99_ms"),
    ("writes p99", "write_p99_ms"),
    ("pages p99", "page_p99_ms"),
    ("late sends", "late_sends"),
    ("server CPU ms/req", "server_cpu_ms_per_request"),
    ("client CPU ms/req", "client_cpu_ms_per_request"),
    ("errors", "errors"),
    ("load 1 min", "load_average_1min"),
]


def sweep_table(rows: list[dict[str, object]]) -> str:
    """The sweep as a Markdown table (one row per offered rate)."""
    cols = [(h, k) for h, k in _COLUMNS if any(k in r for r in rows)]
    lines = ["| " + " | ".join(h for h, _ in cols) + " |", "|" + " --- |" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(k, "-")) for _, k in cols) + " |" for r in rows]
    return "\n".join(lines)


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
    ap.add_argument(
        "--rate",
        type=float,
        default=None,
        help="constant rate (requests/s over all clients, latency from each request's "
        "intended send time, as wrk2); default: closed loop (each client sends when answered)",
    )
    ap.add_argument(
        "--sweep",
        default=None,
        help="comma-separated rates (requests/s): one constant-rate run each, on a fresh "
        "server, printed as a table",
    )
    ap.add_argument(
        "--client",
        choices=["threads", "asyncio"],
        default=None,
        help="threads: a thread and an httpx connection per client (closed loop only; the "
        "default without --rate/--sweep); asyncio: one event loop, raw HTTP/1.1 keep-alive "
        "connections (the default with --rate/--sweep)",
    )
    ap.add_argument(
        "--warmup-s",
        type=float,
        default=None,
        dest="warmup_s",
        help="seconds of the same load before the timed window, discarded (default 2 with "
        "--rate/--sweep, 0 otherwise)",
    )
    args = ap.parse_args()
    rated = args.rate is not None or args.sweep is not None
    if args.client is None:
        args.client = "asyncio" if rated else "threads"
    if rated and args.client == "threads":
        ap.error("--client threads runs closed loop only: drop --rate/--sweep or use asyncio")
    if args.warmup_s is None:
        args.warmup_s = 2.0 if rated else 0.0
    if args.sweep is None:
        out = measure(args, args.rate)
        for k, v in out.items():
            print(f"{k:>26}: {v}")
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
        return
    rows = []
    for rate in [float(x) for x in args.sweep.split(",") if x.strip()]:
        row = measure(args, rate)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(
        f"mix {args.mix}, {args.clients} clients, {args.workers} server process(es), "
        f"{args.seconds:g} s per rate, server {args.src or 'this tree'}"
    )
    print(sweep_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
