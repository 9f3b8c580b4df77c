"""Time-varying parameters: Flint 2017's S-norketamine clearance rising with the time after the
first dose, against an independent scipy ODE solution of the hand-written equations."""

from __future__ import annotations

import numpy as np
import pytest
from flint_reference import flint_reference

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate

PATIENT = Patient(7.0, 0.5)
LOAD_MG = 7.0  # 1 mg/kg bolus at 0
RATE_MG_PER_MIN = 7.0 / 60.0  # 1 mg/kg/h
INFUSION_END_MIN = 48 * 60.0


def _reference(times_min: np.ndarray) -> np.ndarray:
    """S-ketamine and S-norketamine (ng/mL) from dA/dt written out by hand."""
    return flint_reference(PATIENT, LOAD_MG, RATE_MG_PER_MIN, INFUSION_END_MIN, times_min)


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
