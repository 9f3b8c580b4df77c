"""Benchmark: virtual trials of 10^4, 10^5 and 10^6 patients, 24 h at 1-min output.

Cases (each N runs in a fresh process, so its peak RSS is its own):

- **domino**: ``examples/trials/domino-1e6.toml`` (Domino 1982 + effect site, 0.5 mg/kg over
  40 min, ASSUMED variability, parametric adult population, 4 endpoints; plasma and effect site
  summarised at 1441 times).
- **otto**: the same population and infusion on Otto 2021 (S-ketamine + S-norketamine, 5 states,
  published variability with correlations), 2 endpoints.

Reported per case: wall time, CPU time, patient-steps per second (patients x 1441 output
times / wall), peak RSS of the process, and two ratios: the fraction of the "~1 s limit" the
issue derives from the machine's peak (1 s / wall), and the useful floating-point rate of the
propagation (2n^2 + 2n + 2 x output nonzeros per patient-step) against ~130 GFLOP/s.

Baseline: opentiva 1.1.2 patient by patient, through ``bench_single_patient.opentiva_runner``
(the same Domino infusion, 24 h; opentiva always computes every second, so its job has 60 times
more time points than ours: the ratio is the honest throughput of the two tools for the job
"24 h profile of N patients", not a like-for-like flop count). A subset of patients is timed and
scaled to N.

Run::

    python benchmarks/bench_population.py [--sizes 10000,100000,1000000] [--models domino,otto]
        [--opentiva-subset 20] [--json FILE]

The machine is shared: the load average before and after each case is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "trials" / "domino-1e6.toml"
TIMES = 1441
PEAK_FLOPS = 130e9
TARGET_WALL_S = 10.0
TARGET_RSS_MB = 2048.0
TARGET_RATIO = 1000.0


def _spec(model: str, n: int) -> Any:
    from ketasim.population import load_trial_spec, parse_trial_spec

    spec = load_trial_spec(SPEC).with_n(n)
    if model == "domino":
        return spec
    data = spec.model_dump(mode="python", by_alias=True)
    data["title"] = "Otto 2021 S-ketamine + S-norketamine, 0.5 mg/kg over 40 min"
    data["arms"] = [
        {"name": "0.5 mg/kg over 40 min", "model": "otto-2021", "regimen": "0.5 mg/kg over 40 min"}
    ]
    data["outputs"]["names"] = ["ketamine_plasma", "norketamine_plasma"]
    data["endpoints"] = [
        {"name": "cmax_ketamine", "kind": "cmax", "output": "ketamine_plasma"},
        {"name": "auc_norketamine", "kind": "auc", "output": "norketamine_plasma"},
    ]
    return parse_trial_spec(data)


def child(model: str, n: int) -> dict[str, Any]:
    """Run one case in this process and return its figures."""
    from ketasim.population import run_trial
    from ketasim.population.batch import batch_system
    from ketasim.population.kernel import HAVE_NUMBA
    from ketasim.population.trial import resolve_arms

    spec = _spec(model, n)
    warm = spec.with_n(min(n, 500))
    run_trial(warm)  # compile/load the kernel outside the timing
    load_before = os.getloadavg()
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = run_trial(spec)
    wall = time.perf_counter() - start_wall
    cpu = time.process_time() - start_cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    arm = resolve_arms(spec)[0]
    import numpy as np

    system = batch_system(arm.model, {"WT": np.array([70.0]), "AGE": np.array([40.0])}, None)
    n_states = system.K.shape[1]
    nnz = int(np.count_nonzero(system.C[0]))
    flops_per_step = 2 * n_states**2 + 2 * n_states + 2 * nnz
    steps = n * TIMES
    median_peak = float(result.summary.groupby("output")["p50"].max().iloc[0])
    return {
        "model": arm.model.id,
        "n": n,
        "times": TIMES,
        "states": n_states,
        "outputs": list(system.output_names),
        "endpoints": len(spec.endpoints),
        "wall_s": wall,
        "cpu_s": cpu,
        "patient_steps_per_s": steps / wall,
        "peak_rss_mb": rss_mb,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "fraction_of_1s_limit": 1.0 / wall,
        "useful_gflops": flops_per_step * steps / wall / 1e9,
        "fraction_of_peak_flops": flops_per_step * steps / wall / PEAK_FLOPS,
        "kernel": "numba" if HAVE_NUMBA else "numpy",
        "chunk_size": spec.chunk_size,
        "check_median_peak_ng_per_ml": median_peak,
    }


def opentiva_per_patient_s(subset: int) -> float | None:
    """Mean wall time of one opentiva patient (bench_single_patient's job), or None."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from bench_single_patient import opentiva_runner
    except ImportError:  # pragma: no cover - opentiva missing
        return None
    try:
        run = opentiva_runner()
    except ImportError:
        return None
    run()  # warm
    start = time.perf_counter()
    for _ in range(subset):
        run()
    return (time.perf_counter() - start) / subset


def main(argv: list[str] | None = None) -> int:
    """Run every case in its own process, then the opentiva subset; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--models", default="domino,otto")
    parser.add_argument("--opentiva-subset", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    for model in args.models.split(","):
        for n in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", model, str(n)],
                check=True,
                capture_output=True,
                text=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(
                f"{row['model']:<12} N={n:>9,}  wall {row['wall_s']:7.2f} s  cpu "
                f"{row['cpu_s']:7.2f} s  {row['patient_steps_per_s']:.3g} patient-steps/s  "
                f"RSS {row['peak_rss_mb']:6.0f} MB  {row['useful_gflops']:.1f} GFLOP/s "
                f"({100 * row['fraction_of_peak_flops']:.1f}% of peak)  load "
                f"{row['load_before'][0]:.1f}->{row['load_after'][0]:.1f}",
                flush=True,
            )
    per_patient = opentiva_per_patient_s(args.opentiva_subset)
    summary: dict[str, Any] = {
        "cases": rows,
        "cpus": os.cpu_count(),
        "opentiva_subset": args.opentiva_subset,
    }
    if per_patient is not None:
        summary["opentiva_s_per_patient"] = per_patient
        print(
            f"\nopentiva (bench_single_patient job, 1-s steps): {per_patient * 1e3:.1f} ms per "
            f"patient, measured on {args.opentiva_subset} patients"
        )
        for row in rows:
            if row["model"] != "domino-1982":
                continue
            ratio = per_patient * row["n"] / row["wall_s"]
            row["ratio_vs_opentiva"] = ratio
            verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
            print(
                f"  N={row['n']:>9,}: opentiva scaled {per_patient * row['n']:9.0f} s vs "
                f"ketasim {row['wall_s']:.2f} s -> {ratio:,.0f}x (target >= "
                f"{TARGET_RATIO:g}x {verdict})"
            )
    for row in rows:
        if row["n"] == 10**6:
            ok_t = "met" if row["wall_s"] < TARGET_WALL_S else "NOT met"
            ok_m = "met" if row["peak_rss_mb"] < TARGET_RSS_MB else "NOT met"
            print(
                f"{row['model']}: 10^6 patients in {row['wall_s']:.1f} s (target < "
                f"{TARGET_WALL_S:g} s: {ok_t}), peak RSS {row['peak_rss_mb']:.0f} MB (target "
                f"< {TARGET_RSS_MB:g} MB: {ok_m}); {100 * row['fraction_of_1s_limit']:.0f}% of "
                "the ~1 s limit"
            )
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"\nWrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
