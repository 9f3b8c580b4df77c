"""The fast paths of the population engine against independent references.

- the compiled kernel (written-out steps for 1..MAX_STATES states, a generic loop beyond) and the
  numpy kernel against a per-patient exact solution built here from scipy's ``expm`` of the
  augmented matrix ``[[K h, u h], [0, 0]]`` (no code shared with the engine's Taylor
  propagators), to 1e-9 relative, over several patient blocks and time tiles;
- per-thread histograms and Dask batches against the one-thread run (identical summaries);
- the compacted histogram transfer round trip; the generated steps module is up to date.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import expm

from ketasim.pk.events import InputEvent
from ketasim.population import parse_trial_spec, run_trial
from ketasim.population.backends import batches
from ketasim.population.batch import BatchInputs, BatchSystem
from ketasim.population.chunks import compact_counts, expand_counts
from ketasim.population.kernel import HAVE_NUMBA, EndpointPlan, build_programs, run_group
from ketasim.population.steps import MAX_STATES
from ketasim.population.summaries import LogBins

ROOT = Path(__file__).resolve().parents[2]
ENGINES = [False, True] if HAVE_NUMBA else [False]


def _random_system(n: int, n_pat: int, rng: np.random.Generator) -> BatchSystem:
    """Mammillary-like rate matrices: transfers between states, elimination from state 0."""
    K = np.zeros((n_pat, n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                K[:, i, j] = rng.uniform(0.0, 0.3, n_pat)  # j -> i
    K[:, 0, 0] -= rng.uniform(0.01, 0.2, n_pat)
    K[:, np.arange(n), np.arange(n)] -= K.sum(axis=1) - K[:, np.arange(n), np.arange(n)]
    C = np.zeros((n_pat, 2, n))
    C[:, 0, 0] = 1000.0 / rng.uniform(5, 20, n_pat)  # ng/mL per mg
    C[:, 1, n - 1] = 1000.0 / rng.uniform(5, 20, n_pat)
    return BatchSystem("random", K, C, tuple(f"s{i}" for i in range(n)), ("a", "b"), {})


def _inputs(n: int, n_pat: int, rng: np.random.Generator) -> BatchInputs:
    ones = np.ones(n_pat)
    bolus = InputEvent(0, 3.5 * ones, 3.5 * ones, rng.uniform(10, 50, n_pat))
    infusion = InputEvent(
        n - 1 if n > 1 else 0, 0.7 * ones, 41.3 * ones, rng.uniform(20, 80, n_pat)
    )
    return BatchInputs((bolus, infusion))


def _reference(system: BatchSystem, inputs: BatchInputs, grid: np.ndarray, p: int) -> np.ndarray:
    """Patient p's outputs on the grid by augmented-matrix exponentials (piecewise inputs)."""
    K = system.K[p]
    n = K.shape[0]
    events = inputs.events
    times = sorted(
        {
            *grid.tolist(),
            *(float(e.start_min[p]) for e in events),
            *(float(e.end_min[p]) for e in events if e.end_min[p] <= grid[-1]),
        }
    )
    x = np.zeros(n)
    out = np.zeros((grid.size, system.C.shape[1]))
    for b, t in enumerate(times):
        for e in events:
            if e.start_min[p] == e.end_min[p] == t:
                x[e.state] += e.amount_mg[p]
        hit = np.flatnonzero(grid == t)
        if hit.size:
            out[hit[0]] = system.C[p] @ x
        if b + 1 < len(times):
            h = times[b + 1] - t
            u = np.zeros(n)
            for e in events:
                if e.start_min[p] <= t < e.end_min[p]:
                    u[e.state] += e.amount_mg[p] / (e.end_min[p] - e.start_min[p])
            aug = np.zeros((n + 1, n + 1))
            aug[:n, :n] = K * h
            aug[:n, n] = u * h
            x = (expm(aug) @ np.append(x, 1.0))[:n]
    return out


@pytest.mark.parametrize("compiled", ENGINES)
@pytest.mark.parametrize("n", [*range(1, MAX_STATES + 1), MAX_STATES + 2])
def test_kernel_matches_exact_per_patient_solution(n: int, compiled: bool) -> None:
    rng = np.random.default_rng(100 + n)
    n_pat = 300  # more than one block of patients
    grid = np.arange(0.0, 301.0, 1.5)  # 201 output times: more than one time tile
    system = _random_system(n, n_pat, rng)
    inputs = _inputs(n, n_pat, rng)
    bins = LogBins(1e-3, 1e6)
    hist = np.zeros((grid.size, 2, bins.n_bins), dtype=np.int32)
    prof = np.zeros((n_pat, grid.size, 2))
    (prog,) = build_programs(inputs, grid, n)
    run_group(
        system,
        prog,
        grid,
        bins,
        EndpointPlan.empty(),
        hist,
        np.zeros((0, n_pat)),
        prof,
        compiled=compiled,
    )
    for p in (0, 1, 127, 128, 255, 299):
        expect = _reference(system, inputs, grid, p)
        np.testing.assert_allclose(prof[p], expect, rtol=1e-9, atol=1e-12 * expect.max())
    assert np.all(hist.sum(axis=2) == n_pat)


def _spec(**changes: object) -> dict[str, object]:
    spec: dict[str, object] = {
        "title": "threads",
        "n": 2400,
        "seed": 3,
        "chunk_size": 300,
        "population": {"kind": "fixed", "weight_kg": 70.0, "age_years": 40.0},
        "outputs": {"until": "6h", "every": "5min"},
        "arms": [
            {"name": "a", "model": "otto", "regimen": "0.5 mg/kg over 40 min"},
            {"name": "b", "model": "otto", "regimen": "0.3 mg/kg over 40 min"},
        ],
        "endpoints": [
            {"name": "cmax", "kind": "cmax", "output": "ketamine_plasma"},
            {"name": "auc", "kind": "auc", "output": "norketamine_plasma"},
        ],
    }
    spec.update(changes)
    return spec


def test_per_thread_histograms_give_the_one_thread_result() -> None:
    spec = parse_trial_spec(_spec())
    one = run_trial(spec, scheduler="local:1")
    two = run_trial(spec, scheduler="local:2")
    three = run_trial(spec, scheduler="local:3")
    for other in (two, three):
        assert one.summary.equals(other.summary)
        assert one.endpoints.equals(other.endpoints)


def test_compact_counts_round_trip() -> None:
    rng = np.random.default_rng(1)
    dense = np.zeros((7, 3, 50), dtype=np.int32)
    for t in range(7):
        for o in range(3):
            if (t + o) % 4:
                lo = int(rng.integers(0, 40))
                dense[t, o, lo : lo + 8] = rng.integers(0, 5, 8)
    target = np.ones_like(dense)
    lo, hi, values = compact_counts(dense)
    assert values.size < dense.size
    expand_counts(target, lo, hi, values)
    np.testing.assert_array_equal(target, dense + 1)


def test_batches_keep_order_and_never_mix_keys() -> None:
    tasks = [(arm, chunk) for arm in range(2) for chunk in range(7)]
    groups = batches(tasks, key=lambda t: t[0], count=3)
    assert [t for g in groups for t in g] == tasks
    assert all(len({t[0] for t in g}) == 1 for g in groups)
    assert len(groups) == 6


def test_generated_steps_module_is_up_to_date() -> None:
    path = ROOT / "scripts" / "gen_population_steps.py"
    spec = importlib.util.spec_from_file_location("gen_population_steps", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGET.read_text() == module.source()


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_compiled_endpoints_over_partial_blocks_match_the_profiles() -> None:
    """Patients are laid out block by block (128 per block, the last one partial here): every
    patient's endpoint accumulators (cmax, AUC) must equal those computed with numpy from its
    own profile, time above a threshold the numpy kernel's, and the histograms too."""
    rng = np.random.default_rng(7)
    n, n_pat = 4, 300
    grid = np.arange(0.0, 301.0, 1.5)
    system = _random_system(n, n_pat, rng)
    inputs = _inputs(n, n_pat, rng)
    bins = LogBins(1e-3, 1e6)
    (prog,) = build_programs(inputs, grid, n)
    shape = (grid.size, 2, bins.n_bins)
    first = np.zeros((n_pat, grid.size, 2))
    run_group(
        system,
        prog,
        grid,
        bins,
        EndpointPlan.empty(),
        np.zeros(shape, dtype=np.int32),
        np.zeros((0, n_pat)),
        first,
        compiled=False,
    )
    thr = float(np.median(first[:, :, 1].max(axis=1)))  # half the patients cross it
    plan = EndpointPlan(
        np.array([0, 0, 1], dtype=np.int64),
        np.array([0, 1, 2], dtype=np.int64),  # cmax, AUC, time above
        np.array([0, 10, 0], dtype=np.int64),
        np.array([grid.size - 1, 150, grid.size - 1], dtype=np.int64),
        np.array([0.0, 0.0, thr]),
    )
    runs = {}
    for compiled in (False, True):
        hist = np.zeros(shape, dtype=np.int32)
        acc = np.zeros((3, n_pat))
        prof = np.zeros((n_pat, grid.size, 2))
        run_group(system, prog, grid, bins, plan, hist, acc, prof, compiled=compiled)
        runs[compiled] = (hist, acc, prof)
    hist, acc, prof = runs[True]
    np.testing.assert_array_equal(hist, runs[False][0])
    np.testing.assert_allclose(acc[0], prof[:, :, 0].max(axis=1), rtol=1e-12)
    seg = slice(10, 151)
    np.testing.assert_allclose(acc[1], np.trapezoid(prof[:, seg, 0], grid[seg], axis=1), rtol=1e-12)
    np.testing.assert_allclose(acc[2], runs[False][1][2], rtol=1e-12, atol=1e-9)
    assert 0 < np.count_nonzero(acc[2]) < n_pat
