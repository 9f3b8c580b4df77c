"""Benchmark: `ketasim trial` end to end, thread scaling and Dask (issue 9, speed).

Three measurements, each one command, each optionally beside a baseline source tree run
interleaved in the same session (``--baseline-src DIR``: a ``src`` directory of another commit,
e.g. extracted with ``git archive <commit> src | tar -x -C /tmp/base``), because the machine is
shared and only ratios measured together are comparable:

- ``e2e``: ``ketasim trial SPEC --out DIR -q`` as a fresh process (imports, kernel, writing the
  parquet/CSV/PNG files): wall time, CPU time and peak RSS of the process, for
  ``examples/trials/domino-1e6.toml`` and ``examples/trials/otto-1e6.toml``.
- ``threads``: ``run_trial`` in a fresh process with ``local:1`` and ``local:2`` (after a small
  warm-up run of 16 chunks that loads the compiled kernel in every worker): the speed-up from 1
  to 2 threads.
- ``phases``: where the CPU time of one ``ketasim trial`` goes, run on ONE thread in a fresh
  process (so that CPU time per phase adds up): imports, then each population function
  (covariates, etas, systems, programs, propagators, the kernel, quantiles, result tables)
  and writing (Parquet/CSV, the PNG), each as CPU seconds and share of the total.
- ``timeline``: one ``ketasim trial SPEC --out DIR -q`` (default scheduler: every core) in a
  fresh process, wall clock cut into its serial and parallel parts: interpreter start and
  imports, set-up until the first chunk starts, the chunks (kernel phase, parallel), result
  tables, writing (Parquet/CSV), the PNG, and the end of the process after the last file
  (interpreter teardown unless skipped): what the end-to-end figure is made of.
- ``dask``: the same trial with local threads (``local:W``), a Dask ``LocalCluster`` of W
  single-threaded worker processes (``local-cluster:W``, cluster start included) and a running
  ``tcp://`` scheduler with 1 .. W worker processes (``dask scheduler`` and ``dask worker
  --nthreads 1`` started as separate processes, warmed with one small trial): wall time and
  patient-steps per second per worker, the figure that predicts N machines.

Run::

    python benchmarks/bench_scaling.py e2e [--n 1000000] [--repeat 2] [--baseline-src DIR]
        [--precision float64,float32]   # also e2e/threads/timeline: this tree per precision
    python benchmarks/bench_scaling.py threads [--n 200000] [--repeat 2] [--baseline-src DIR]
    python benchmarks/bench_scaling.py phases [--n 1000000] [--cases domino] [--baseline-src DIR]
    python benchmarks/bench_scaling.py timeline [--n 1000000] [--repeat 2] [--baseline-src DIR]
    python benchmarks/bench_scaling.py dask [--n 200000] [--workers 2] [--baseline-src DIR]

Every row records the 1-min load average when it started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPECS = {
    "domino": ROOT / "examples" / "trials" / "domino-1e6.toml",
    "otto": ROOT / "examples" / "trials" / "otto-1e6.toml",
}
TIMES = 1441


def _env(src: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    return env


def _timed(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``cmd``; its wall time, CPU time (user + system) and peak RSS (MB)."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out}\n{err}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
        "load": load,
        "stdout": out,
    }  # type: ignore[dict-item]


def _trees(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    trees: list[tuple[str, str | None]] = [("this tree", str(ROOT / "src"))]
    if args.baseline_src:
        trees.append(("baseline", args.baseline_src))
    return trees


def _variants(args: argparse.Namespace) -> list[tuple[str, str | None, list[str]]]:
    """This tree once per ``--precision`` (``--precision X`` passed on), then the baseline:
    once at its own default (older specs know no precision), or once per precision with
    ``--baseline-precision``."""
    rows: list[tuple[str, str | None, list[str]]] = []
    trees = [("this tree", str(ROOT / "src"))]
    if args.baseline_src and args.baseline_precision:
        trees.append(("baseline", args.baseline_src))
    for name, src in trees:
        for p in args.precision.split(","):
            label = name if p == "float64" else f"{name} {p}"
            rows.append((label, src, [] if p == "float64" else ["--precision", p]))
    if args.baseline_src and not args.baseline_precision:
        rows.append(("baseline", args.baseline_src, []))
    return rows


def _band_differences(tmp: Path, case: str, labels: list[str]) -> None:
    """Max relative difference of each band column of every variant's bands.csv against the
    baseline's (same patients, same spec): where float32 moved a percentile."""
    import pandas as pd

    base = pd.read_csv(tmp / f"{case}-0-baseline" / "bands.csv")
    cols = [c for c in base.columns if c.startswith("p") and c[1:].replace(".", "").isdigit()]
    for label in labels:
        other = pd.read_csv(tmp / f"{case}-0-{label.replace(' ', '_')}" / "bands.csv")
        diffs = []
        for c in cols:
            a, b = base[c].to_numpy(), other[c].to_numpy()
            rel = abs(a - b) / abs(a).clip(min=1e-300)
            pos = rel[a > 0]  # a baseline that records nothing has no positive value
            diffs.append(f"{c} {pos.max():.1e}" if pos.size else f"{c} n/a")
        same = (tmp / f"{case}-0-baseline" / "bands.csv").read_bytes() == (
            tmp / f"{case}-0-{label.replace(' ', '_')}" / "bands.csv"
        ).read_bytes()
        print(
            f"bands.csv {case} {label} vs baseline: identical={same}; max rel diff: "
            + ", ".join(diffs),
            flush=True,
        )


def e2e(args: argparse.Namespace) -> list[dict[str, Any]]:
    """`ketasim trial` end to end in fresh processes."""
    rows = []
    ketasim = [
        sys.executable,
        "-c",
        "import sys; from ketasim.cli import main; sys.argv[0] = 'ketasim'; sys.exit(main())",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            for _label, src, extra in _variants(args):  # warm-up: numba's on-disk cache
                warm = [*ketasim, "trial", str(SPECS[case]), "--out", f"{tmp}/w", "-q"]
                subprocess.run(
                    [*warm, "--n", "2000", *extra],
                    env=_env(src),
                    check=True,
                    capture_output=True,
                )
            for r in range(args.repeat):
                for label, src, extra in _variants(args):
                    out = Path(tmp) / f"{case}-{r}-{label.replace(' ', '_')}"
                    cmd = [
                        *ketasim,
                        "trial",
                        str(SPECS[case]),
                        "--out",
                        str(out),
                        "-q",
                        "--n",
                        str(args.n),
                        *extra,
                    ]
                    row = {"case": case, "tree": label, "n": args.n, **_timed(cmd, _env(src))}
                    row.pop("stdout")
                    rows.append(row)
                    print(
                        f"e2e {case:<7} {label:<10} N={args.n:,} wall {row['wall_s']:6.2f} s "
                        f"cpu {row['cpu_s']:6.2f} s RSS {row['peak_rss_mb']:5.0f} MB "
                        f"(load {row['load']:.1f})",
                        flush=True,
                    )
            if args.baseline_src:
                labels = [lb for lb, _, _ in _variants(args) if not lb.startswith("baseline")]
                _band_differences(Path(tmp), case, labels)
    return rows


_CHILD = """
import json, sys, time
from ketasim.population import load_trial_spec, parse_trial_spec, run_trial
spec = load_trial_spec(sys.argv[1]).with_n(int(sys.argv[2]))
if len(sys.argv) > 4:
    spec = spec.with_precision(sys.argv[4])
# warm-up: 16 small chunks, so that every worker (thread or process) loads the kernel
data = spec.model_dump(mode="python", by_alias=True)
run_trial(parse_trial_spec({**data, "n": 1600, "chunk_size": 100}), scheduler=sys.argv[3])
start = time.perf_counter()
run_trial(spec, scheduler=sys.argv[3])
print(json.dumps({"wall_s": time.perf_counter() - start}))
"""


def _child(
    spec: Path, n: int, scheduler: str, src: str | None, extra: list[str] | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, "-c", _CHILD, str(spec), str(n), scheduler]
    if extra:
        cmd.append(extra[-1])  # the precision
    row = _timed(cmd, _env(src))
    row["run_s"] = json.loads(str(row.pop("stdout")).strip().splitlines()[-1])["wall_s"]
    return row


def threads(args: argparse.Namespace) -> list[dict[str, Any]]:
    """1 vs 2 local threads, run_trial timed after a warm-up in the same process."""
    rows = []
    for case in args.cases.split(","):
        for _ in range(args.repeat):
            for label, src, extra in _variants(args):
                pair = {}
                for k in (1, 2):
                    row = _child(SPECS[case], args.n, f"local:{k}", src, extra)
                    pair[k] = row["run_s"]
                    rows.append({"case": case, "tree": label, "threads": k, "n": args.n, **row})
                print(
                    f"threads {case:<7} {label:<10} N={args.n:,} 1 thread {pair[1]:6.2f} s, "
                    f"2 threads {pair[2]:6.2f} s: speed-up {pair[1] / pair[2]:.2f}x "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    return rows


_PHASES = """
import json, sys, time
c0 = time.process_time()
import ketasim.cli
import ketasim.cli.trial as ct
from ketasim.population import chunks, kernel, load_trial_spec, results, run_trial
from ketasim.population import trial as trial_module
t_imports = time.process_time() - c0
T = {}
def wrap(mod, name, label):
    f = getattr(mod, name, None)
    if f is None:
        return
    def timed(*a, **k):
        s = time.process_time()
        try:
            return f(*a, **k)
        finally:
            T[label] = T.get(label, 0.0) + time.process_time() - s
    setattr(mod, name, timed)
for name, label in (("sample_covariates", "covariates"), ("sample_etas", "etas"),
                    ("batch_system", "systems"), ("batch_inputs", "inputs"),
                    ("build_programs", "programs"), ("_pd_chunk", "pd endpoints")):
    wrap(chunks, name, label)
wrap(kernel, "compiled_propagators", "propagators (incl. loading compiled code)")
wrap(kernel, "_blocked", "block layout")
wrap(kernel, "_kernel_blocked" if hasattr(kernel, "_kernel_blocked") else "_kernel_compiled",
     "kernel (incl. loading compiled code)")
wrap(results, "quantiles_from_counts", "quantiles")
wrap(trial_module, "assemble_result", "result tables (incl. quantiles)")
import ketasim.report.trial_plots as tp
wrap(tp, "plot_bands", "PNG (incl. matplotlib import)")
from pathlib import Path
spec = load_trial_spec(Path(sys.argv[1])).with_n(int(sys.argv[2]))
c1 = time.process_time()
res = run_trial(spec, scheduler="local:1")
t_run = time.process_time() - c1
c2 = time.process_time()
ct.write_results(res, Path(sys.argv[3]), Path(sys.argv[1]))
t_write = time.process_time() - c2
print(json.dumps({"imports": t_imports, "run_trial": t_run, "write_results": t_write,
                  "total": time.process_time() - c0, **T}))
"""


def phases(args: argparse.Namespace) -> list[dict[str, Any]]:
    """CPU time per phase of one ``ketasim trial`` on one thread (fresh process per tree)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            for label, src in _trees(args):
                warm = [sys.executable, "-c", _PHASES, str(SPECS[case]), "2000", f"{tmp}/w"]
                subprocess.run(warm, env=_env(src), check=True, capture_output=True)
                cmd = [sys.executable, "-c", _PHASES, str(SPECS[case]), str(args.n), f"{tmp}/o"]
                row = _timed(cmd, _env(src))
                cpu = json.loads(str(row.pop("stdout")).strip().splitlines()[-1])
                rows.append({"case": case, "tree": label, "n": args.n, **row, "phases": cpu})
                total = cpu["total"]
                print(
                    f"phases {case} {label} N={args.n:,} one thread: CPU {total:.2f} s "
                    f"(load {row['load']:.1f})",
                    flush=True,
                )
                top = ("imports", "run_trial", "write_results")
                for key in top:
                    print(f"  {key:<34} {cpu[key]:7.2f} s  {cpu[key] / total:6.1%}", flush=True)
                for key, value in sorted(cpu.items(), key=lambda kv: -kv[1]):
                    if key not in (*top, "total"):
                        print(f"    {key:<32} {value:7.2f} s  {value / total:6.1%}", flush=True)
    return rows


_TIMELINE = """
import os, sys, time
def mark(label):
    print(f"@ {time.time():.4f} {label}", flush=True)
mark("python started")
import ketasim.cli.trial as ct
mark("imports done")
from ketasim.population import trial as tm
import ketasim.report.trial_plots as tp
def wrap(mod, name, label, every=False):
    f = getattr(mod, name)
    seen = []
    def timed(*a, **k):
        if every or not seen:
            mark(label + " start")
        seen.append(1)
        try:
            return f(*a, **k)
        finally:
            mark(label + " end")
    setattr(mod, name, timed)
wrap(tm, "run_chunk", "chunk")
wrap(tm, "assemble_result", "tables", every=True)
wrap(ct, "write_results", "writing", every=True)
wrap(tp, "plot_bands", "PNG", every=True)
from ketasim.cli import main
sys.argv = ["ketasim", "trial", sys.argv[1], "--out", sys.argv[2], "-q", "--n", sys.argv[3],
            *sys.argv[4:]]
try:
    main()
except SystemExit as stop:
    if stop.code not in (None, 0):
        raise
"""

_SEGMENTS = (
    ("interpreter start + imports", "launch", "imports done"),
    ("set-up until the first chunk", "imports done", "chunk start"),
    ("chunks (kernel, parallel)", "chunk start", "chunk end"),
    ("gathering until result tables", "chunk end", "tables start"),
    ("result tables (quantiles, frames)", "tables start", "tables end"),
    ("until writing starts", "tables end", "writing start"),
    ("Parquet/CSV/JSON", "writing start", "PNG start"),
    ("PNG", "PNG start", "PNG end"),
    ("rest of writing", "PNG end", "writing end"),
    ("process end after the last file", "writing end", "exit"),
)


def timeline(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Wall-clock timeline of ``ketasim trial`` end to end (fresh process, default scheduler)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            for _label, src, extra in _variants(args):  # warm-up: numba's on-disk cache
                warm = [sys.executable, "-c", _TIMELINE, str(SPECS[case]), f"{tmp}/w", "2000"]
                subprocess.run(warm + extra, env=_env(src), check=True, capture_output=True)
            for _ in range(args.repeat):
                for label, src, extra in _variants(args):
                    cmd = [
                        sys.executable,
                        "-c",
                        _TIMELINE,
                        str(SPECS[case]),
                        f"{tmp}/o",
                        str(args.n),
                        *extra,
                    ]
                    row = _timed(cmd, _env(src))
                    launch = time.time() - row["wall_s"]  # the child's clock is the same
                    marks: dict[str, float] = {"launch": 0.0, "exit": row["wall_s"]}
                    for line in str(row.pop("stdout")).splitlines():
                        if line.startswith("@ "):
                            _, at, name = line.split(" ", 2)
                            marks[name] = float(at) - launch  # "chunk end": the last chunk's
                    segs = {name: marks[b] - marks[a] for name, a, b in _SEGMENTS}
                    rows.append({"case": case, "tree": label, "n": args.n, **row, "segments": segs})
                    print(
                        f"timeline {case} {label} N={args.n:,}: wall {row['wall_s']:.2f} s, "
                        f"CPU {row['cpu_s']:.2f} s, RSS {row['peak_rss_mb']:.0f} MB "
                        f"(load {row['load']:.1f})",
                        flush=True,
                    )
                    for name, value in segs.items():
                        print(f"  {name:<36} {value:7.2f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one measurement."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["e2e", "threads", "phases", "timeline", "dask"])
    parser.add_argument("--n", type=int)
    parser.add_argument("--cases", default="domino,otto")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-src")
    parser.add_argument(
        "--precision",
        default="float64",
        help="e2e, threads, timeline: this tree once per precision, e.g. float64,float32",
    )
    parser.add_argument(
        "--baseline-precision",
        action="store_true",
        help="run the baseline once per --precision too (a baseline that knows --precision)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.n is None:
        args.n = 1_000_000 if args.what in ("e2e", "phases", "timeline") else 200_000
    if args.what == "dask":
        from bench_scaling_dask import dask  # the Dask measurement, in its own module

        rows = dask(args)
    else:
        run = {"e2e": e2e, "threads": threads, "phases": phases, "timeline": timeline}
        rows = run[args.what](args)
    if args.json:
        args.json.write_text(
            json.dumps({"what": args.what, "cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
