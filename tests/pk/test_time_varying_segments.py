"""Time-varying parameters (Flint 2017's S-norketamine clearance rising with the time after the
first dose) combined with inter-occasion variability and with a covariate that changes in an
event table.

Reference: the hand-written equations of Flint's model solved by scipy's Radau solver, piece by
piece, with each occasion's clearance (``TV x exp(eta + kappa_k)``) or each weight's parameters
and the amounts carried across a change; nothing of ketasim's rate matrices is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

from ketasim.catalogue import resolve_model
from ketasim.catalogue.sections import IOV
from ketasim.io import read_event_table
from ketasim.io.individual import simulate_individual
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate
from ketasim.pk.occasions import Occasion
from ketasim.pk.system import individual_parameters

SLOPE_PER_MIN = 0.0087 / 60.0  # Flint 2017 Table 3: +0.870% per hour after the first dose
LOAD_MG = 7.0
RATE_MG_PER_MIN = 7.0 / 60.0  # 1 mg/kg/h at 7 kg
INFUSION_END_MIN = 48 * 60.0
OCCASION_MIN = 24 * 60.0
TIMES = np.array([10.0, 60.0, 600.0, 1439.0, 1441.0, 2000.0, 2880.0, 2890.0, 3300.0, 4320.0])


def _typical(weight_kg: float, age: float) -> dict[str, float]:
    p = individual_parameters(resolve_model("flint-2017"), Patient(weight_kg, age).covariates())
    return {k: float(p[k]) for k in ("CL", "V1", "Q", "V2", "CL_nk", "V_nk")}


def _flint_ode(
    pieces: list[tuple[float, float, dict[str, float]]], times: np.ndarray
) -> np.ndarray:
    """S-ketamine and S-norketamine (ng/mL): ``pieces`` of (start, end, parameters) in time
    order; the 1 mg/kg/h infusion runs until 48 h after the 7-mg load at 0."""

    def rhs(t: float, a: np.ndarray, p: dict[str, float]) -> list[float]:
        rate = RATE_MG_PER_MIN if t < INFUSION_END_MIN else 0.0
        c1 = a[0] / p["V1"]
        cl_nk = p["CL_nk"] * (1.0 + SLOPE_PER_MIN * t)
        return [
            rate - p["CL"] * c1 - p["Q"] * c1 + p["Q"] * a[1] / p["V2"],
            p["Q"] * c1 - p["Q"] * a[1] / p["V2"],
            p["CL"] * c1 - cl_nk * a[2] / p["V_nk"],
        ]

    cuts = sorted({INFUSION_END_MIN, *(s for s, _, _ in pieces)})
    a = np.array([LOAD_MG, 0.0, 0.0])
    out = np.zeros((times.size, 2))
    for start, end, p in pieces:
        lo = start
        for hi in [c for c in cuts if start < c < end] + [end]:
            sol = solve_ivp(
                rhs, (lo, hi), a, method="Radau", rtol=1e-11, atol=1e-14, args=(p,),
                dense_output=True,
            )  # fmt: skip
            for i, t in enumerate(times):
                if lo <= t < hi:
                    y = sol.sol(t)
                    out[i] = [y[0] / p["V1"] * 1000.0, y[2] / p["V_nk"] * 1000.0]
            a = sol.y[:, -1]
            lo = hi
    return out


def test_iov_with_time_varying_clearance_matches_scipy_ode() -> None:
    flint = resolve_model("flint-2017")
    # a test model: Flint 2017 with an inter-occasion effect on clearance (variance not used)
    model = flint.model_copy(
        update={"iov": {"CL_70": IOV(omega_sq=0.1, source="test only: not a published value")}}
    )
    etas = {"CL_70": 0.2, "CL_nk_70": -0.3}
    kappas = (0.25, -0.4)
    occasions = [Occasion(0.0, {"CL_70": kappas[0]}), Occasion(OCCASION_MIN, {"CL_70": kappas[1]})]
    regimen = Regimen.of(
        Dose(LOAD_MG, "mg"),
        Dose(RATE_MG_PER_MIN * INFUSION_END_MIN, "mg", duration_min=INFUSION_END_MIN),
    )
    res = simulate(
        model, Patient(7.0, 0.5), regimen, times_min=TIMES, etas=etas, occasions=occasions
    )
    got = np.column_stack(
        [
            res.concentrations_ng_per_ml["ketamine_plasma"],
            res.concentrations_ng_per_ml["norketamine_plasma"],
        ]
    )
    base = _typical(7.0, 0.5)
    pieces = []
    for k, (start, end) in enumerate(((0.0, OCCASION_MIN), (OCCASION_MIN, float(TIMES[-1]) + 1))):
        p = dict(base)
        p["CL"] *= np.exp(etas["CL_70"] + kappas[k])
        p["CL_nk"] *= np.exp(etas["CL_nk_70"])
        pieces.append((start, end, p))
    want = _flint_ode(pieces, TIMES)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # the occasion matters: without it the second day differs
    same = simulate(model, Patient(7.0, 0.5), regimen, times_min=TIMES, etas=etas,
                    occasions=[Occasion(0.0, {"CL_70": kappas[0]})])  # fmt: skip
    assert abs(same.concentrations_ng_per_ml["ketamine_plasma"][-1] / got[-1, 0] - 1) > 0.1


def test_event_table_weight_change_with_time_varying_clearance_matches_scipy_ode(
    tmp_path: Path,
) -> None:
    # 7 kg until the record at 24 h says 8 kg; load + 48-h infusion at 7 mg/h
    rows = [
        "1,0,7,0,1,1,7,0.5",
        f"1,0,{7 * 48},7,1,1,7,0.5",
        "1,24,.,.,1,2,8,0.5",
    ]
    path = tmp_path / "flint.csv"
    path.write_text("ID,TIME,AMT,RATE,CMT,EVID,WT,AGE\n" + "\n".join(rows) + "\n")
    (ind,) = read_event_table(path)
    model = resolve_model("flint-2017")
    res = simulate_individual(
        model,
        ind,
        lambda part: Patient(part.covariates["WT"], part.covariates["AGE"]),
        TIMES,
    )
    got = np.column_stack(
        [
            res.concentrations_ng_per_ml["ketamine_plasma"],
            res.concentrations_ng_per_ml["norketamine_plasma"],
        ]
    )
    pieces = [
        (0.0, OCCASION_MIN, _typical(7.0, 0.5)),
        (OCCASION_MIN, float(TIMES[-1]) + 1, _typical(8.0, 0.5)),
    ]
    want = _flint_ode(pieces, TIMES)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # the time effect is followed (not the value at the first dose): at 72 h S-norketamine is
    # ~1/(1 + 0.0087 x 72) of what a constant clearance would give
    frozen = model.model_copy(
        update={"derived": {**model.derived, "CL_nk": "CL_nk_70 * (WT / 70) ** exponent_clearance"}}
    )
    flat = simulate_individual(
        frozen, ind, lambda part: Patient(part.covariates["WT"], part.covariates["AGE"]), TIMES
    )
    ratio = got[-1, 1] / flat.concentrations_ng_per_ml["norketamine_plasma"][-1]
    assert abs(ratio - 1.0 / (1.0 + 0.0087 * 72.0)) < 0.02
