"""Antidepressant endpoints in trial arms whose systems change with time (covariate changes,
steady state): the exposure memory follows the segments the concentration bands follow.

References: for a covariate change, each patient's parent concentration from the single-patient
piecewise solver (:func:`ketasim.pk.piecewise.solve_piecewise`, 70 kg then 56 kg, the state
carried) and the PD layer's exposure memory (:func:`ketasim.pd.antidepressant_parts.
exposure_memory`, of the model's powered concentration since the seventh session); for steady
state, the same regimen given 50 intervals earlier (the memory's half-life is ~100 h, so
50 x 72 h leave < 1e-10 of its start)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ketasim.patient import Patient
from ketasim.pd import potency_factor
from ketasim.pd.antidepressant_parts import exposure_memory
from ketasim.pk import Dose, SystemInputs, build_system, simulate
from ketasim.pk.events import resolve_inputs
from ketasim.pk.occasions import Occasion
from ketasim.pk.piecewise import Segment, solve_piecewise
from ketasim.population import parse_trial_spec, run_trial
from ketasim.population.arms import resolve_arms
from ketasim.population.exposure_memory import exposure_memory_at
from ketasim.population.pd_endpoints import _exposure_memory_at
from ketasim.population.segments import segment_batch
from ketasim.population.variability import sample_etas

N = 4
II_H = 72.0


def _spec(regimen: str, **arm: Any) -> dict[str, Any]:
    return {
        "n": N,
        "seed": 9,
        "chunk_size": N,
        "population": {"kind": "fixed", "weight_kg": 70.0, "age_years": 40.0},
        "outputs": {"until": "2h", "every": "1h"},
        "arms": [
            {
                "name": "a",
                "model": "domino",
                "regimen": regimen,
                "assumed_iiv": {"k10": {"cv_percent": 30.0, "source": "ASSUMED for the test"}},
                **arm,
            }
        ],
        "endpoints": [{"name": "resp", "kind": "response_rate", "at": "150h"}],
    }


def _memory(spec: dict[str, Any], times_h: list[float]) -> tuple[np.ndarray, dict[str, Any]]:
    """The trial's exposure memory of the spec's first arm (fixed population) at ``times_h``,
    with what it was made from: arm, covariates, etas, segments and plan."""
    arm = resolve_arms(parse_trial_spec(spec))[0]
    pop = spec["population"]
    cov = {"WT": np.full(N, pop["weight_kg"]), "AGE": np.full(N, pop["age_years"])}
    etas = sample_etas(arm.omega, N, np.random.default_rng(3))
    occ = segment_batch(
        arm.model, arm.regimen, cov, etas, np.random.default_rng(4), arm.pd_sites, arm.changes
    )
    plan = next(iter(arm.response_plans.values()))
    ce = _exposure_memory_at(plan, arm.model, occ.systems[0], arm.regimen, cov["WT"], times_h, occ)
    return ce, {"arm": arm, "cov": cov, "etas": etas, "occ": occ, "plan": plan}


def test_memory_follows_a_covariate_change() -> None:
    regimen = "35 mg over 40 min every 72h x 3"  # mg, not mg/kg: the change shows
    change = [{"at": "100h", "set": {"WT": 56.0}}]
    times = [96.0, 150.0, 160.0]
    ce, got = _memory(_spec(regimen, covariate_changes=change), times)
    arm, etas, plan = got["arm"], got["etas"], got["plan"]
    model = arm.model
    grid_min = np.arange(0.0, 160.0 * 60.0 + 1.0, 2.0)
    for p in range(N):
        mine = {k: float(v[p]) for k, v in etas.items()}
        before = build_system(model, Patient(70.0, 40.0), etas=mine)
        after = build_system(model, Patient(56.0, 40.0), etas=mine)
        doses = [
            *resolve_inputs(
                before,
                [Dose(35.0, "mg", time_min=t, duration_min=40.0) for t in (0.0, 4320.0)],
                70.0,
            ).infusions,
            *resolve_inputs(
                after, [Dose(35.0, "mg", time_min=8640.0, duration_min=40.0)], 56.0
            ).infusions,
        ]
        segments = [
            Segment(-np.inf, before.K, before.output_matrix() * 1000.0),
            Segment(6000.0, after.K, after.output_matrix() * 1000.0),
        ]
        conc = solve_piecewise(segments, SystemInputs(infusions=tuple(doses)), grid_min)
        c = conc[:, [o.name for o in before.outputs].index("ketamine_plasma")]
        # the memory of C^p (exposure_power, seventh session; domino's potency factor is 1)
        ref = exposure_memory(
            c, 2.0 / 60.0, plan.params.ke0_per_h, power=plan.params.exposure_power
        )
        want = ref[np.round(np.array(times) * 30.0).astype(int)]
        np.testing.assert_allclose(ce[p], want, rtol=1e-9)
    # the change matters (smaller volumes from 100 h); before it, the arms agree
    plain, _ = _memory(_spec(regimen), times)
    assert np.all(ce[:, 1] > 1.05 * plain[:, 1])
    np.testing.assert_allclose(ce[:, 0], plain[:, 0], rtol=1e-12)


def test_memory_at_steady_state_equals_a_long_course() -> None:
    times = [0.5, 24.0, 71.0, 100.0]
    ss, _ = _memory(
        _spec("0.5 mg/kg over 40 min every 72h x 2", steady_state=True, interval_h=II_H), times
    )
    shift = 50 * II_H
    long, _ = _memory(_spec("0.5 mg/kg over 40 min every 72h x 52"), [t + shift for t in times])
    np.testing.assert_allclose(ss, long, rtol=1e-7)
    assert np.all(ss[:, 0] > 0.5 * ss[:, 2])  # carried from before t0, not starting at 0


def test_trial_runs_antidepressant_endpoints_with_changes() -> None:
    """Refused before this change; now an arm at steady state and one with a covariate change
    report their rates."""
    for arm in (
        {"steady_state": True, "interval_h": II_H},
        {"covariate_changes": [{"at": "100h", "scale": {"WT": 0.8}}]},
    ):
        spec = _spec("0.5 mg/kg over 40 min every 72h x 3", **arm)
        spec["n"], spec["chunk_size"] = 200, 200
        row = run_trial(parse_trial_spec(spec), scheduler="local:1").endpoints.iloc[0]
        assert row["denominator"] == 200 and 0.0 <= row["probability"] <= 1.0


def test_trial_warns_about_patients_under_18() -> None:
    """The antidepressant model is calibrated on adults: a trial counts the virtual patients
    under 18 in arms with antidepressant endpoints (and not elsewhere)."""

    def warnings(age: float, endpoints: bool) -> list[str]:
        spec = _spec("35 mg over 40 min")
        spec["population"]["age_years"] = age
        if not endpoints:
            spec["endpoints"] = []
        result = run_trial(parse_trial_spec(spec), scheduler="local:1")
        return [f.message for f in result.findings if f.rule_id == "antidepressant.age"]

    assert warnings(40.0, True) == []
    assert warnings(16.0, False) == []
    (message,) = warnings(16.0, True)
    assert f"{N} of {N} virtual patients are under 18" in message


def test_memory_follows_occasions() -> None:
    """Simons 2022 (inter-occasion variability on sublingual absorption and bioavailability):
    each dosing day's kappas drive the memory, as in the single-patient ``simulate`` with the
    same occasions followed by the PD layer's ``exposure_memory``."""
    spec = {
        "n": N,
        "seed": 2,
        "chunk_size": N,
        "population": {"kind": "fixed", "weight_kg": 70.0, "age_years": 25.0},
        "outputs": {"until": "2h", "every": "1h"},
        "arms": [
            {"name": "a", "model": "simons-2022", "regimen": "20 mg sublingual every 24h x 3"}
        ],
        "endpoints": [{"name": "resp", "kind": "response_rate", "at": "60h"}],
    }
    times = [30.0, 60.0]
    ce, got = _memory(spec, times)
    arm, cov, etas, occ, plan = got["arm"], got["cov"], got["etas"], got["occ"], got["plan"]
    assert len(occ.systems) == 3  # one occasion per dosing day
    grid_min = np.arange(0.0, 60.0 * 60.0 + 1.0, 2.0)
    factor = potency_factor(plan.parent_output, plan.params)
    for p in range(N):
        occasions = [
            Occasion(start, {k: float(v[p, j]) for k, v in occ.kappas.items()})
            for j, start in enumerate((0.0, 1440.0, 2880.0))
        ]
        res = simulate(
            arm.model,
            Patient(70.0, 25.0),
            arm.regimen,
            times_min=grid_min,
            etas={k: float(v[p]) for k, v in etas.items()},
            occasions=occasions,
        )
        c = res.concentrations_ng_per_ml[plan.parent_output]
        ref = exposure_memory(
            c * factor, 2.0 / 60.0, plan.params.ke0_per_h, power=plan.params.exposure_power
        )
        want = ref[np.round(np.array(times) * 30.0).astype(int)]
        np.testing.assert_allclose(ce[p], want, rtol=1e-8)
    first_only = _exposure_memory_at(plan, arm.model, occ.systems[0], arm.regimen, cov["WT"], times)
    assert not np.allclose(ce[:, 1], first_only[:, 1], rtol=1e-3)  # the occasions matter


def test_memory_powers_the_scaled_concentration() -> None:
    """The potency factor scales the concentration before the exposure power (seventh session):
    the memory of (2 C)^p is 2^p times the memory of C^p, and p = 1 gives C's memory."""
    times = [24.0, 100.0]
    _, got = _memory(_spec("0.5 mg/kg over 40 min every 72h x 2"), times)
    occ, plan = got["occ"], got["plan"]
    args = (occ, occ.inputs, plan.parent_output, plan.params.ke0_per_h, times)
    one = exposure_memory_at(*args, scale=1.0, power=1.75)
    two = exposure_memory_at(*args, scale=2.0, power=1.75)
    np.testing.assert_allclose(two, 2.0**1.75 * one, rtol=1e-12)
    lin = exposure_memory_at(*args, scale=2.0, power=1.0)
    np.testing.assert_allclose(lin, 2.0 * exposure_memory_at(*args), rtol=1e-12)
    assert np.all(one > 10.0 * exposure_memory_at(*args))  # C^1.75 vs C, peaks of tens of ng/mL
