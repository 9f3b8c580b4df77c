"""Server CPU per request of single clinic requests (not a timed test): one client, sequential,
against ``ketasim serve`` on SQLite (the setup of ``bench_clinic_load.py`` with 2 patients and
60 vitals on one session). Prints, per request kind, the response size, the server's CPU time
per request (user + system / requests: the figure least affected by other load) and the median
latency. ``--src DIR`` runs the server from another source tree (a baseline in the same run).

Run::

    python benchmarks/bench_clinic_per_request.py [--src DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_clinic_load as b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=None, help="run the server from this tree")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, _env = b.start_server(tmp, args.src)
        try:
            headers, pairs = b._setup(url, 2)
            pid, sid, plan = pairs[0]
            api = httpx.Client(base_url=url, headers=headers, timeout=30)
            for k in range(60):
                api.post(
                    f"/api/v1/sessions/{sid}/observations",
                    json={"minutes_after_dose": k, "sbp_mmhg": 120, "dbp_mmhg": 80},
                )
            web = httpx.Client(base_url=url, timeout=30)
            web.post("/login", data={"username": "nurse", "password": b.PASSWORD, "next": "/"})
            cases = [
                ("plan page", web, f"/plans/{plan}", 150),
                ("session API", api, f"/api/v1/sessions/{sid}", 300),
                ("patient API", api, f"/api/v1/patients/{pid}", 300),
                ("alerts API", api, "/api/v1/alerts?open_only=true", 300),
            ]
            for name, client, path, n in cases:
                for _ in range(10):  # warm
                    r = client.get(path)
                size = len(r.content)
                c0 = b._tree_cpu_s(proc.pid)
                lat = []
                for _ in range(n):
                    t = time.perf_counter()
                    r = client.get(path)
                    lat.append((time.perf_counter() - t) * 1000.0)
                    if r.status_code != 200:
                        raise SystemExit(f"{path}: HTTP {r.status_code}")
                cpu = 1000.0 * (b._tree_cpu_s(proc.pid) - c0) / n
                print(
                    f"{name:12s} {size:7d} B  server CPU {cpu:6.2f} ms/request  "
                    f"median {statistics.median(lat):6.2f} ms  load {os.getloadavg()[0]:.2f}"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
