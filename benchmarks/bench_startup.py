"""Start-up time of the command line: ``ketasim --version`` and ``ketasim models``.

Each command is run as a fresh process ``--repeat`` times, interleaved with two baselines
measured in the same run so that a loaded machine shows as such:

- ``python -c pass``: the interpreter alone (the floor);
- ``eager import``: importing every command module at start-up, as the command line did before
  commands were loaded lazily (numba, scipy, pandas and the estimation stack included).

Prints the median and minimum wall time of each (seconds) and the ratio eager / lazy.

    .venv/bin/python benchmarks/bench_startup.py --repeat 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
EAGER = (
    "import pkgutil, importlib, ketasim.cli as c; "
    "[importlib.import_module('ketasim.cli.' + m.name) for m in pkgutil.iter_modules(c.__path__)]"
)

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "ketasim --version": [str(BIN / "ketasim"), "--version"],
    "ketasim models": [str(BIN / "ketasim"), "models"],
    "eager import (before)": [sys.executable, "-c", EAGER],
}


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    for cmd in CASES.values():  # warm the file cache and the .pyc files
        _time(cmd)
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeat):
        for name, cmd in CASES.items():
            samples[name].append(_time(cmd))
    rows = {
        name: {"median_s": statistics.median(v), "min_s": min(v)} for name, v in samples.items()
    }
    eager = rows["eager import (before)"]["median_s"]
    print(f"{'case':<24} {'median s':>9} {'min s':>7} {'eager/this':>10}")
    for name, r in rows.items():
        print(f"{name:<24} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {eager / r['median_s']:>10.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
