"""Benchmark: `ketasim trial` end to end beside the same trial with a kernel that records
nothing (issue 9, the 3 s / 4 s targets).

The "records nothing" tree is this tree's ``src`` exported from git (``HEAD``), with two
changes to the compiled kernel (:mod:`ketasim.population.kernel`): no output is computed,
binned or counted, and no endpoint is updated. The states are still stepped exactly, and
everything else of a trial runs as usual: start-up and imports, sampling covariates and etas,
systems, propagators, block layout, result tables from the (empty) histograms, Parquet/CSV/
JSON and the PNG. Its wall time is therefore a lower bound for any kernel that records the
trial's 1-min percentile bands: what the recording may cost is the target minus this.

Run (one command; both trees in the same run, interleaved, fresh processes)::

    python benchmarks/bench_trial_floor.py [--n 1000000] [--cases domino,otto]
        [--precision float64,float32] [--repeat 1]

It prints ``bench_scaling.py timeline`` for this tree ("this tree") and the records-nothing
tree ("baseline"), each per precision.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_scaling  # the benchmark next to this one

ROOT = Path(__file__).resolve().parents[1]

# (text in kernel.py, its replacement): each must occur exactly once
NOTHING_RECORDED = (
    (
        "    n_e = ep_out.shape[0]\n",
        "    n_e = 0  # records nothing: no endpoint\n",
    ),
    (
        "                j = record[b]\n                if j >= 0:\n",
        "                j = record[b]\n                if j >= 0 and n_prof < 0:  # never\n",
    ),
)


def records_nothing_tree(dest: Path) -> Path:
    """Export ``HEAD``'s ``src`` into ``dest`` and make its kernel record nothing."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "HEAD", "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    kernel = dest / "src" / "ketasim" / "population" / "kernel.py"
    text = kernel.read_text()
    for old, new in NOTHING_RECORDED:
        if text.count(old) != 1:
            raise SystemExit(
                f"kernel.py changed: {old.strip()!r} not found once; update this script"
            )
        text = text.replace(old, new)
    kernel.write_text(text)
    return dest / "src"


def main() -> int:
    """Parse the command line and run both trees' timelines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--cases", default="domino,otto")
    parser.add_argument("--precision", default="float64,float32")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = records_nothing_tree(Path(tmp))
        return bench_scaling.main(
            [
                "timeline",
                "--n",
                str(args.n),
                "--cases",
                args.cases,
                "--repeat",
                str(args.repeat),
                "--precision",
                args.precision,
                "--baseline-src",
                str(src),
                "--baseline-precision",
            ]
        )


if __name__ == "__main__":
    raise SystemExit(main())
