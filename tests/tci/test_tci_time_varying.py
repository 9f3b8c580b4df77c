"""TCI with a model whose parameters change with the time after the first dose (Flint 2017:
S-norketamine clearance +0.87% per hour). The parent's plan is that of one fixed system; the
plan's S-norketamine follows K(t), checked against Flint's equations written out by hand and
solved by scipy under the planned rates (tests/support/flint_reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
from flint_reference import flint_reference_rates

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.estimation import fit_individual, recommend_infusion_rate
from ketasim.patient import Patient
from ketasim.pk import Dose, build_system
from ketasim.pk.events import resolve_inputs
from ketasim.pk.time_varying import time_varying_outputs
from ketasim.tci import Pump, plan_manual, plan_tci

PATIENT = Patient(7.0, 0.5)


def test_only_the_metabolite_varies_with_time() -> None:
    assert time_varying_outputs(resolve_model("flint-2017"), PATIENT) == {"norketamine_plasma"}
    assert time_varying_outputs(resolve_model("domino"), Patient(70.0, 40.0)) == frozenset()


def test_plan_metabolite_follows_time_varying_clearance() -> None:
    model = resolve_model("flint-2017")
    pump = Pump(update_interval_s=60.0)
    plan = plan_tci(model, PATIENT, 1000.0, duration_min=240.0, site="plasma", pump=pump)
    ref = flint_reference_rates(PATIENT, plan.rate_mg_per_min, 1.0)
    conc = plan.concentrations_ng_per_ml
    np.testing.assert_allclose(conc["ketamine_plasma"], ref[:, 0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(conc["norketamine_plasma"], ref[:, 1], rtol=1e-6, atol=1e-9)
    assert any(f.rule_id == "tci.time_varying" for f in plan.findings)
    # the parent is held at its target once reached
    assert conc["ketamine_plasma"][-1] == pytest.approx(1000.0, rel=1e-9)


def test_target_on_time_varying_metabolite_is_refused() -> None:
    with pytest.raises(InputError) as err:
        plan_tci(
            resolve_model("flint-2017"),
            PATIENT,
            100.0,
            duration_min=60.0,
            site="plasma",
            analyte="norketamine",
        )
    assert err.value.field == "analyte" and "time after the first dose" in str(err.value)


def test_steady_state_recommendation_for_time_varying_metabolite_is_refused() -> None:
    model = resolve_model("flint-2017")
    inputs = resolve_inputs(build_system(model, PATIENT), [Dose(7.0, "mg")], 7.0)
    fit = fit_individual(model, PATIENT, inputs, [_NoLevel()])
    assert recommend_infusion_rate(fit, 1000.0).value > 0  # the parent: one fixed system
    with pytest.raises(InputError) as err:
        recommend_infusion_rate(fit, 100.0, analyte="norketamine")
    assert err.value.field == "target_analyte"


class _NoLevel:
    row = 1
    time_min = 0.0
    evid = 1
    dv_ng_per_ml = None
    mdv = 1
    analyte = None
    cmt = None


def test_plan_and_manual_replays_follow_time_varying_clearance() -> None:
    """Replays at any time (the plan's ``concentrations_at``, a manual scheme's table) give
    S-norketamine on the ODE path, against the hand-written equations under the same rates."""
    model = resolve_model("flint-2017")
    pump = Pump(update_interval_s=60.0)
    plan = plan_tci(model, PATIENT, 1000.0, duration_min=120.0, site="plasma", pump=pump)
    ref = flint_reference_rates(PATIENT, plan.rate_mg_per_min, 1.0)
    at = plan.concentrations_at([30.0, 90.0, 120.0])
    np.testing.assert_allclose(at["norketamine_plasma"], ref[[30, 90, 120], 1], rtol=1e-6)
    scheme = plan_manual(model, PATIENT, 1000.0, duration_min=120.0, site="plasma", pump=pump)
    table = scheme.to_dataframe()
    # the scheme's rates (mL/h, syringe mg/mL) as per-minute rates for the reference
    rates = np.zeros(120)
    for s in scheme.steps:
        rates[round(s.time_min) :] = s.rate_ml_per_h * pump.syringe_mg_per_ml / 60.0
    assert not any(s.bolus_mg > 0 for s in scheme.steps)
    want = flint_reference_rates(PATIENT, rates, 1.0)
    minutes = table["time_min"].to_numpy()
    whole = np.isclose(minutes, np.round(minutes)) & (minutes <= 120)
    got = table["norketamine_plasma_ng_per_ml"].to_numpy()[whole]
    np.testing.assert_allclose(got, want[np.round(minutes[whole]).astype(int), 1], rtol=1e-6)
