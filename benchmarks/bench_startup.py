"""Start-up time of the command line: ``ketasim --version`` and ``ketasim models``.

Each command is run as a fresh process ``--repeat`` times, interleaved with baselines measured in
the same run so that a loaded machine shows as such:

- ``python -c pass``: the interpreter alone (the floor);
- the same commands on a **baseline revision** (``--baseline``, default ``main``): its
  ``src/ketasim`` is exported with ``git archive`` into a temporary folder and put first on
  ``PYTHONPATH`` (same interpreter and packages), so "this / baseline" compares code, not
  machines;
- ``ketasim models (cache miss)``: the catalogue's cards rebuilt with full validation (the
  first run after a model file or the schema changed);
- ``eager import``: importing every command module at start-up, as the command line did before
  commands were loaded lazily (numba, scipy, pandas and the estimation stack included).

Prints the median and minimum wall time of each (seconds) and the ratio baseline / this.

    .venv/bin/python benchmarks/bench_startup.py --repeat 15
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EAGER = (
    "import pkgutil, importlib, ketasim.cli as c; "
    "[importlib.import_module('ketasim.cli.' + m.name) for m in pkgutil.iter_modules(c.__path__)]"
)
CLI = "import sys; from ketasim.cli import main; sys.argv[0] = 'ketasim'; main()"


def _time(cmd: list[str], env: dict[str, str], before: Path | None = None) -> float:
    if before is not None:
        shutil.rmtree(before, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def _export(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src/ketasim"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--baseline", default="main", help="git revision to compare with")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        base_src = _export(args.baseline, Path(tmp))
        cache = Path(tmp) / "cache"
        miss = Path(tmp) / "cache-miss"
        this_env = {**os.environ, "KETASIM_CACHE_DIR": str(cache)}
        miss_env = {**os.environ, "KETASIM_CACHE_DIR": str(miss)}
        base_env = {**this_env, "PYTHONPATH": str(base_src)}
        cases: dict[str, tuple[list[str], dict[str, str], Path | None]] = {
            "python -c pass": ([py, "-c", "pass"], this_env, None),
            "ketasim --version": ([py, "-c", CLI, "--version"], this_env, None),
            f"ketasim --version [{args.baseline}]": ([py, "-c", CLI, "--version"], base_env, None),
            "ketasim models": ([py, "-c", CLI, "models"], this_env, None),
            f"ketasim models [{args.baseline}]": ([py, "-c", CLI, "models"], base_env, None),
            "ketasim models (cache miss)": ([py, "-c", CLI, "models"], miss_env, miss),
            "eager import (before lazy)": ([py, "-c", EAGER], this_env, None),
        }
        for cmd, env, before in cases.values():  # warm the file cache, .pyc files, the cache
            _time(cmd, env, before)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):
            for name, (cmd, env, before) in cases.items():
                samples[name].append(_time(cmd, env, before))
    rows = {
        name: {"median_s": statistics.median(v), "min_s": min(v)} for name, v in samples.items()
    }
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}; baseline {args.baseline}")
    print(f"{'case':<36} {'median s':>9} {'min s':>7} {'baseline/this':>13}")
    for name, r in rows.items():
        base = rows.get(f"{name} [{args.baseline}]")
        ratio = f"{base['median_s'] / r['median_s']:.2f}" if base else ""
        print(f"{name:<36} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {ratio:>13}")
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "cases": rows}, indent=2))


if __name__ == "__main__":
    main()
