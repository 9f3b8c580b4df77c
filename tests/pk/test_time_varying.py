"""Time-varying parameters: Flint 2017's S-norketamine clearance rising with the time after the
first dose, against an independent scipy ODE solution of the hand-written equations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate
from ketasim.pk.system import individual_parameters

PATIENT = Patient(7.0, 0.5)
LOAD_MG = 7.0  # 1 mg/kg bolus at 0
RATE_MG_PER_MIN = 7.0 / 60.0  # 1 mg/kg/h
INFUSION_END_MIN = 48 * 60.0
SLOPE_PER_MIN = 0.0087 / 60.0  # Flint 2017 Table 3: +0.870% per hour


def _reference(times_min: np.ndarray) -> np.ndarray:
    """S-ketamine and S-norketamine (ng/mL) from dA/dt written out by hand."""
    model = resolve_model("flint-2017")
    p = individual_parameters(model, PATIENT.covariates())  # baseline values, TAFD = 0
    cl, v1, q, v2 = p["CL"], p["V1"], p["Q"], p["V2"]
    cl_nk0, v_nk = p["CL_nk"], p["V_nk"]

    def rhs(t: float, a: np.ndarray, rate: float) -> list[float]:
        c1 = a[0] / v1
        cl_nk = cl_nk0 * (1.0 + SLOPE_PER_MIN * t)  # time after the first dose (at 0)
        return [
            rate - cl * c1 - q * c1 + q * a[1] / v2,
            q * c1 - q * a[1] / v2,
            cl * c1 - cl_nk * a[2] / v_nk,
        ]

    first = solve_ivp(
        rhs,
        (0.0, INFUSION_END_MIN),
        [LOAD_MG, 0.0, 0.0],
        method="Radau",
        rtol=1e-11,
        atol=1e-14,
        args=(RATE_MG_PER_MIN,),
        dense_output=True,
    )
    second = solve_ivp(
        rhs,
        (INFUSION_END_MIN, float(times_min[-1])),
        first.y[:, -1],
        method="Radau",
        rtol=1e-11,
        atol=1e-14,
        args=(0.0,),
        dense_output=True,
    )
    out = []
    for t in times_min:
        a = first.sol(t) if t <= INFUSION_END_MIN else second.sol(t)
        out.append([a[0] / v1 * 1000.0, a[2] / v_nk * 1000.0])
    return np.array(out)


def test_flint_time_varying_clearance_matches_scipy_ode() -> None:
    model = resolve_model("flint-2017")
    assert model.time_varying
    times = np.array([10.0, 60.0, 600.0, 1440.0, 2400.0, 2880.0, 2890.0, 2940.0, 3300.0, 4320.0])
    regimen = Regimen.of(
        Dose(LOAD_MG, "mg"),
        Dose(RATE_MG_PER_MIN * INFUSION_END_MIN, "mg", duration_min=INFUSION_END_MIN),
    )
    res = simulate(model, PATIENT, regimen, times_min=times)
    ref = _reference(times)
    got = np.column_stack(
        [
            res.concentrations_ng_per_ml["ketamine_plasma"],
            res.concentrations_ng_per_ml["norketamine_plasma"],
        ]
    )
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    # the time effect matters: after 40 h S-norketamine is ~1/(1 + 0.0087 x 40) of baseline
    k = int(np.flatnonzero(times == 2400.0)[0])
    baseline = model.model_copy(
        update={"derived": {**model.derived, "CL_nk": "CL_nk_70 * (WT / 70) ** exponent_clearance"}}
    )
    res0 = simulate(baseline, PATIENT, regimen, times_min=times)
    ratio = got[k, 1] / res0.concentrations_ng_per_ml["norketamine_plasma"][k]
    assert ratio == pytest.approx(1.0 / (1.0 + 0.0087 * 40.0), rel=0.02)
