"""The float32 kernel (``outputs.precision = "float32"``) against its stated accuracy bound.

- Bins: the compiled float32 kernel bins a value exactly as the bin edges say of the value
  rounded to float32, count for count on 10^6 random values with 0, -0.0, NaN, infinities and
  float32/float64 subnormals, and value for value on every edge and the float32 either side.
- Concentrations: every concentration of 2,000 patients over 24 h at 1 min (Domino + effect
  site, 4 states; otto-2021, 5 states) within ``relative_error_bound`` of the float64 kernel's.
- Bands: the percentile bands of 10^5 patients within one bin width (plus the bound) of
  ``np.percentile`` of the exact (float64) concentrations of the same patients.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kernel_support import kernel_counts
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.errors import InputError
from ketasim.population import kernel, parse_trial_spec, run_trial
from ketasim.population.precision import MAX_BOUND, relative_error_bound
from ketasim.population.summaries import LogBins

pytestmark = pytest.mark.skipif(not kernel.HAVE_NUMBA, reason="numba not installed")

ROOT = Path(__file__).resolve().parents[2]
BINS = LogBins(1e-3, 1e6)


def _kernel_counts(values: np.ndarray) -> np.ndarray:
    return kernel_counts(values, BINS, single=True)


def _reference_cells(values: np.ndarray) -> np.ndarray:
    """From the edges alone: the value rounded to float32 (0 + value: -0.0 becomes +0.0),
    then how many edges are <= it; NaN and values beyond float32 (inf) in the top cell."""
    edges = BINS.edges()
    with np.errstate(over="ignore"):
        v = (np.float32(0.0) + values.astype(np.float32)).astype(np.float64)
    cells = np.searchsorted(edges, v, side="right")
    cells = np.where(v < edges[0], 0, np.minimum(cells, BINS.n_bins - 1))
    return np.where(np.isnan(v), BINS.n_bins - 1, cells)


def test_float32_bins_follow_the_edges_on_random_and_special_values() -> None:
    rng = np.random.default_rng(20261205)
    values = np.exp(rng.uniform(np.log(1e-9), np.log(1e9), 1_000_000))
    special = np.array(
        [0.0, -0.0, -1.0, -1e-300, np.nan, np.inf, -np.inf, 5e-324, 1e-45, 1e-40, 1.2e-38,
         1e-3, 1e6, np.nextafter(1e-3, 0), np.nextafter(1e6, 2e6), 3.5e38, 1e300]
    )  # fmt: skip
    values = np.concatenate([values, special])
    with np.errstate(over="ignore", invalid="ignore"):
        got = _kernel_counts(values)
    want = np.bincount(_reference_cells(values), minlength=BINS.n_bins)
    np.testing.assert_array_equal(got, want)
    assert got[0] > 0 and got[-1] > 0  # underflow and overflow cells both exercised


def test_float32_bins_on_every_edge_and_its_float32_neighbours() -> None:
    edges = BINS.edges().astype(np.float32)
    below = np.nextafter(edges, np.float32(0.0))
    above = np.nextafter(edges, np.float32(np.inf))
    for values in (edges, below, above):
        v = values.astype(np.float64)
        cells = _reference_cells(v)
        for i in range(0, v.size, 512):  # one kernel call per slice: cell for cell
            got = _kernel_counts(v[i : i + 512])
            want = np.bincount(cells[i : i + 512], minlength=BINS.n_bins)
            np.testing.assert_array_equal(got, want)


def _spec(path: str, **outputs: Any) -> dict[str, Any]:
    with open(ROOT / "examples" / "trials" / path, "rb") as fh:
        data = tomllib.load(fh)
    data["outputs"].pop("precision", None)
    data["outputs"] = {**data["outputs"], **outputs}
    return data


def _run(data: dict[str, Any], n: int, precision: str, individuals: int) -> Any:
    data = {**data, "n": n, "chunk_size": min(n, 50_000)}
    data["outputs"] = {**data["outputs"], "precision": precision}
    return run_trial(parse_trial_spec(data), individuals=individuals, scheduler="local:1")


@pytest.mark.parametrize(("path", "n_states"), [("domino-1e6.toml", 4), ("otto-1e6.toml", 5)])
def test_float32_concentrations_within_the_stated_bound(path: str, n_states: int) -> None:
    data = _spec(path)
    exact = _run(data, 2000, "float64", 2000).individuals
    single = _run(data, 2000, "float32", 2000).individuals
    bound = relative_error_bound(n_states, 1441)
    for col in [c for c in exact.columns if c.endswith("_ng_per_ml")]:
        want = exact[col].to_numpy()
        got = single[col].to_numpy()
        assert got.dtype == np.float64 and want.max() > 10.0
        rel = np.abs(got - want) / np.maximum(want, 1e-300)
        assert np.all(rel[want > 0] <= bound), (col, rel.max(), bound)
        assert np.all(got[want == 0] == 0)
        assert rel[want > 0].max() > 0  # it is float32: not the float64 values


def test_float32_bands_within_one_bin_of_the_exact_percentiles() -> None:
    n = 100_000
    data = _spec("domino-1e6.toml", every="60min")
    exact = _run(data, n, "float64", n).individuals
    result = _run(data, n, "float32", 0)
    bound = relative_error_bound(4, 25)
    width = 2.0**-7  # the widest bin, relative to its lower edge
    percentiles = data["outputs"]["percentiles"]
    checked = 0
    for output in ("ketamine_plasma", "ketamine_effect"):
        values = exact[f"{output}_ng_per_ml"].to_numpy().reshape(n, -1)  # patient-major
        bands = result.summary[result.summary["output"] == output].sort_values("time_min")
        assert bands["time_min"].to_numpy().size == values.shape[1]
        for q in percentiles:
            want = np.percentile(values, q, axis=0)
            got = bands[f"p{q:g}"].to_numpy()
            below = want < BINS.floor
            assert np.all(got[below] == 0)
            rel = np.abs(got[~below] / want[~below] - 1.0)
            assert np.all(rel <= width + bound), (output, q, rel.max())
            checked += int((~below).sum())
    assert checked > 300


def test_float32_refused_where_the_bound_would_pass_a_bin() -> None:
    # 28 days at 1 min: 40,321 breakpoints x 7 roundings x 2^-24 > 2^-8
    data = _spec("domino-1e6.toml", until="28d", every="1min")
    data["endpoints"] = []
    assert relative_error_bound(4, 40_321) > MAX_BOUND
    with pytest.raises(InputError, match=r"outputs\.precision") as err:
        _run(data, 10, "float32", 0)
    assert "breakpoints" in str(err.value)


def test_float32_refused_with_a_floor_below_float32() -> None:
    data = _spec("domino-1e6.toml", every="60min", floor_ng_per_ml=1e-40)
    with pytest.raises(InputError, match=r"outputs\.precision"):
        _run(data, 10, "float32", 0)


def test_precision_must_be_float64_or_float32() -> None:
    data = _spec("domino-1e6.toml", every="60min", precision="float16")
    with pytest.raises(InputError, match="precision"):
        parse_trial_spec({**data, "n": 10})


def test_cli_precision_flag(tmp_path: Path) -> None:
    spec = ROOT / "examples" / "trials" / "domino-1e6.toml"
    runner = CliRunner()
    base = ["trial", str(spec), "--n", "500", "-q"]
    bad = runner.invoke(app, [*base, "--out", str(tmp_path / "x"), "--precision", "half"])
    assert bad.exit_code != 0 and "--precision" in bad.output
    ok = runner.invoke(app, [*base, "--out", str(tmp_path / "s"), "--precision", "float32"])
    assert ok.exit_code == 0, ok.output
    record = (tmp_path / "s" / "run.json").read_text()
    assert '"precision": "float32"' in record


def test_float32_on_the_segment_path_within_the_bound() -> None:
    """An arm with a covariate change runs the occasion kernel (segments): float32 there too."""
    data = _spec("otto-1e6.toml", every="10min")
    data["arms"] = [{**data["arms"][0], "covariate_changes": [{"at": "12h", "scale": {"WT": 0.8}}]}]
    exact = _run(data, 300, "float64", 300).individuals
    single = _run(data, 300, "float32", 300).individuals
    bound = relative_error_bound(5, 145 + 1)  # the grid and the change's breakpoint
    for col in [c for c in exact.columns if c.endswith("_ng_per_ml")]:
        want, got = exact[col].to_numpy(), single[col].to_numpy()
        rel = np.abs(got - want)[want > 0] / want[want > 0]
        assert 0 < rel.max() <= bound, (col, rel.max(), bound)
