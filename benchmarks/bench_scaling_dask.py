"""``bench_scaling.py dask``: the same trial with local threads, a Dask ``LocalCluster`` and a
running ``tcp://`` scheduler with 1 .. W worker processes (see :mod:`bench_scaling`, whose
command line runs it: ``python benchmarks/bench_scaling.py dask [--n 200000] [--workers 2]``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_scaling import SPECS, TIMES, _child, _env, _trees


def _start_cluster(workers: int, src: str | None) -> tuple[str, list[subprocess.Popen[bytes]]]:
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
    tmp = tempfile.mkdtemp()
    sched_file = Path(tmp) / "scheduler.json"
    env = _env(src)
    procs = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--scheduler-file",
                str(sched_file),
                "--dashboard-address",
                ":0",
                "--port",
                "0",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for _ in range(100):
        if sched_file.exists():
            break
        time.sleep(0.2)
    address = json.loads(sched_file.read_text())["address"]
    for _ in range(workers):
        procs.append(
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--dashboard-address",
                    ":0",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from distributed import Client

    with Client(address) as client:  # type: ignore[no-untyped-call]
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def dask(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Local threads vs LocalCluster vs a tcp:// scheduler with 1..W worker processes."""
    rows = []
    w = args.workers
    steps = args.n * TIMES
    for case in args.cases.split(","):
        for label, src in _trees(args):
            for sched in (f"local:{w}", f"local-cluster:{w}"):
                row = _child(SPECS[case], args.n, sched, src)
                rows.append({"case": case, "tree": label, "scheduler": sched, "n": args.n, **row})
                print(
                    f"dask {case:<7} {label:<10} {sched:<16} run {row['run_s']:6.2f} s "
                    f"(load {row['load']:.1f})",
                    flush=True,
                )
            for k in range(1, w + 1):
                address, procs = _start_cluster(k, src)
                try:
                    row = _child(SPECS[case], args.n, address, src)
                finally:
                    for p in reversed(procs):
                        p.terminate()
                    for p in procs:
                        p.wait(timeout=30)
                per_worker = steps / row["run_s"] / k
                rows.append(
                    {
                        "case": case,
                        "tree": label,
                        "scheduler": "tcp",
                        "workers": k,
                        "n": args.n,
                        "patient_steps_per_s_per_worker": per_worker,
                        **row,
                    }
                )
                print(
                    f"dask {case:<7} {label:<10} tcp:// {k} worker(s)  run {row['run_s']:6.2f} s"
                    f"  {per_worker:.3g} patient-steps/s per worker (load {row['load']:.1f})",
                    flush=True,
                )
    return rows
