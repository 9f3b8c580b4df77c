"""The batched kernel against the single-patient engine (``ketasim.pk.simulate``).

Endpoints are checked against independent numpy computations on the profiles.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import simulate
from ketasim.population.batch import batch_inputs, batch_system
from ketasim.population.kernel import (
    ENDPOINT_AUC,
    ENDPOINT_MAX,
    ENDPOINT_TIME_ABOVE,
    HAVE_NUMBA,
    EndpointPlan,
    build_programs,
    propagators,
    run_group,
)
from ketasim.population.summaries import LogBins
from ketasim.regimens import parse_regimen

ENGINES = [False, True] if HAVE_NUMBA else [False]
CASES = [
    ("domino", "0.5 mg/kg over 40.3 min", np.arange(0, 601, 1.0)),  # infusion ends off-grid
    ("otto", "20 mg at 3 min; 0.3 mg/kg over 60 min at 90 min", np.arange(0, 721, 4.0)),
    ("perez-ruixo", "56 mg intranasal every 84h x 2", np.arange(0, 60 * 96 + 1, 15.0)),
]


def _run(
    model_name: str, regimen_text: str, grid: np.ndarray, compiled: bool, plan: EndpointPlan
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, list[str], dict[str, np.ndarray], dict[str, np.ndarray]
]:
    model = resolve_model(model_name)
    rng = np.random.default_rng(5)
    n = 5
    cov = {
        "WT": rng.uniform(50, 100, n),
        "AGE": rng.uniform(20, 60, n),
        "HT": rng.uniform(150, 190, n),
        "FEMALE": np.array([0, 1, 0, 1, 0.0]),
    }
    etas = {name: rng.normal(0, 0.25, n) for name in model.iiv}
    regimen = parse_regimen(regimen_text)
    system = batch_system(model, cov, etas)
    inputs = batch_inputs(model, system, regimen, cov["WT"])
    bins = LogBins(1e-3, 1e6)
    hist = np.zeros((grid.size, len(system.output_names), bins.n_bins), dtype=np.int32)
    acc = np.zeros((plan.size, n))
    prof = np.zeros((n, grid.size, len(system.output_names)))
    for prog in build_programs(inputs, grid, system.K.shape[1]):
        g_acc = np.zeros((plan.size, prog.patients.size))
        g_prof = np.zeros((prog.patients.size, grid.size, len(system.output_names)))
        run_group(system, prog, grid, bins, plan, hist, g_acc, g_prof, compiled=compiled)
        acc[:, prog.patients] = g_acc
        prof[prog.patients] = g_prof
    return prof, acc, hist, list(system.output_names), cov, etas


@pytest.mark.parametrize("compiled", ENGINES)
@pytest.mark.parametrize(("model_name", "regimen_text", "grid"), CASES, ids=[c[0] for c in CASES])
def test_profiles_match_simulate(
    model_name: str, regimen_text: str, grid: np.ndarray, compiled: bool
) -> None:
    prof, _, hist, names, cov, etas = _run(
        model_name, regimen_text, grid, compiled, EndpointPlan.empty()
    )
    model = resolve_model(model_name)
    regimen = parse_regimen(regimen_text)
    for i in range(prof.shape[0]):
        patient = Patient(
            weight_kg=cov["WT"][i],
            age_years=cov["AGE"][i],
            height_cm=cov["HT"][i],
            sex="female" if cov["FEMALE"][i] else "male",
        )
        ref = simulate(
            model,
            patient,
            regimen,
            times_min=grid,
            etas={k: v[i] for k, v in etas.items()},
            allow_extrapolation=True,
        )
        for o, name in enumerate(names):
            expect = ref.concentrations_ng_per_ml[name]
            np.testing.assert_allclose(prof[i, :, o], expect, rtol=1e-9, atol=1e-12 * expect.max())
    # every patient is counted once per output and time
    assert np.all(hist.sum(axis=2) == prof.shape[0])


@pytest.mark.parametrize("compiled", ENGINES)
def test_endpoints_against_numpy_on_profiles(compiled: bool) -> None:
    grid = np.arange(0, 481, 2.0)
    thr = 150.0
    plan = EndpointPlan(
        output=np.array([0, 0, 1, 1]),
        kind=np.array([ENDPOINT_MAX, ENDPOINT_AUC, ENDPOINT_TIME_ABOVE, ENDPOINT_MAX]),
        start=np.array([0, 10, 0, 30]),
        stop=np.array([240, 200, 240, 240]),
        threshold=np.array([0.0, 0.0, thr, 0.0]),
    )
    prof, acc, _, _, _, _ = _run("domino", "0.5 mg/kg over 40 min", grid, compiled, plan)
    np.testing.assert_allclose(acc[0], prof[:, :, 0].max(axis=1), rtol=1e-12)
    seg = slice(10, 201)
    np.testing.assert_allclose(acc[1], np.trapezoid(prof[:, seg, 0], grid[seg], axis=1), rtol=1e-12)
    np.testing.assert_allclose(acc[3], prof[:, 30:, 1].max(axis=1), rtol=1e-12)
    # time above: fine linear interpolation of each interval, counted independently
    for i in range(prof.shape[0]):
        y = prof[i, :, 1]
        fine_t = np.linspace(grid[0], grid[-1], 200 * (grid.size - 1) + 1)
        fine = np.interp(fine_t, grid, y)
        expect = np.sum(fine[:-1] > thr) * (fine_t[1] - fine_t[0])
        assert abs(acc[2, i] - expect) < 0.02, (acc[2, i], expect)
        assert acc[2, i] > 0


def test_numpy_propagators_against_scipy_expm() -> None:
    from scipy.linalg import expm

    model = resolve_model("otto")
    rng = np.random.default_rng(9)
    system = batch_system(
        model, {"WT": rng.uniform(40, 120, 6)}, {k: rng.normal(0, 0.3, 6) for k in model.iiv}
    )
    for h in (0.25, 1.0, 37.0):
        phi, gamma = propagators(system.K, h)
        for i in range(6):
            n = system.K.shape[1]
            aug = np.zeros((2 * n, 2 * n))
            aug[:n, :n] = system.K[i] * h
            aug[:n, n:] = np.eye(n) * h
            e = expm(aug)
            np.testing.assert_allclose(phi[i], e[:n, :n], rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(gamma[i], e[:n, n:], rtol=1e-10, atol=1e-12)
