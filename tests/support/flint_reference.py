"""Flint 2017's equations written out by hand (S-norketamine clearance rising with the time
after the first dose), solved by scipy: an independent reference for the time-varying path.

Dosing: a bolus of ``load_mg`` at 0 and an infusion of ``rate_mg_per_min`` from 0 to
``infusion_end_min``. ``cl_nk_factor`` multiplies the S-norketamine clearance (an individual's
``exp(eta)``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk.system import individual_parameters

SLOPE_PER_MIN = 0.0087 / 60.0  # Flint 2017 Table 3: +0.870% per hour after the first dose


def _equations(
    patient: Patient, cl_nk_factor: float
) -> tuple[Callable[..., list[float]], float, float]:
    """dA/dt (mg/min) of central, peripheral and S-norketamine amounts, written by hand, with
    the central and S-norketamine volumes (L)."""
    model = resolve_model("flint-2017")
    p = individual_parameters(model, patient.covariates())  # baseline values, TAFD = 0
    cl, v1, q, v2 = p["CL"], p["V1"], p["Q"], p["V2"]
    cl_nk0, v_nk = p["CL_nk"] * cl_nk_factor, p["V_nk"]

    def rhs(t: float, a: np.ndarray, rate: float) -> list[float]:
        c1 = a[0] / v1
        cl_nk = cl_nk0 * (1.0 + SLOPE_PER_MIN * t)  # time after the first dose (at 0)
        return [
            rate - cl * c1 - q * c1 + q * a[1] / v2,
            q * c1 - q * a[1] / v2,
            cl * c1 - cl_nk * a[2] / v_nk,
        ]

    return rhs, float(v1), float(v_nk)


def flint_reference(
    patient: Patient,
    load_mg: float,
    rate_mg_per_min: float,
    infusion_end_min: float,
    times_min: np.ndarray,
    *,
    cl_nk_factor: float = 1.0,
) -> np.ndarray:
    """S-ketamine and S-norketamine (ng/mL), columns, at ``times_min`` (ascending, > 0)."""
    rhs, v1, v_nk = _equations(patient, cl_nk_factor)

    end = max(float(times_min[-1]), infusion_end_min)
    first = solve_ivp(
        rhs,
        (0.0, infusion_end_min),
        [load_mg, 0.0, 0.0],
        method="Radau",
        rtol=1e-11,
        atol=1e-14,
        args=(rate_mg_per_min,),
        dense_output=True,
    )
    second = solve_ivp(
        rhs,
        (infusion_end_min, end),
        first.y[:, -1],
        method="Radau",
        rtol=1e-11,
        atol=1e-14,
        args=(0.0,),
        dense_output=True,
    )
    out = []
    for t in times_min:
        a = first.sol(t) if t <= infusion_end_min else second.sol(t)
        out.append([a[0] / v1 * 1000.0, a[2] / v_nk * 1000.0])
    return np.array(out)


def flint_reference_rates(
    patient: Patient, rates_mg_per_min: np.ndarray, interval_min: float
) -> np.ndarray:
    """The same equations under a pump's piecewise-constant rates (one per interval from 0):
    S-ketamine and S-norketamine (ng/mL) at every interval boundary, 0 included."""
    rhs, v1, v_nk = _equations(patient, 1.0)

    a = np.zeros(3)
    out = [[0.0, 0.0]]
    for k, rate in enumerate(rates_mg_per_min):
        span = (k * interval_min, (k + 1) * interval_min)
        sol = solve_ivp(rhs, span, a, method="Radau", rtol=1e-11, atol=1e-14, args=(rate,))
        a = sol.y[:, -1]
        out.append([a[0] / v1 * 1000.0, a[2] / v_nk * 1000.0])
    return np.array(out)
