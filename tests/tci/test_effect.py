"""ke0 from a time to peak effect, against opentiva's tpeak method and a direct check."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, build_system, simulate
from ketasim.tci import ke0_from_tpeak, plan_tci

PATIENT = Patient(weight_kg=70.0, age_years=40.0)


def test_domino_tpeak_1_min_gives_opentivas_ke0() -> None:
    """opentiva ketamine.py Domino: ke0 = 0.652 /min 'from tpeak 1 min'."""
    system = build_system(resolve_model("domino"), PATIENT)
    ke0 = ke0_from_tpeak(system, "ketamine", 1.0)
    assert ke0 == pytest.approx(0.652, abs=5e-4)


def test_against_opentiva_tpeak_method() -> None:
    pkpd = pytest.importorskip("opentiva.pkpd")
    ketamine = pytest.importorskip("opentiva.ketamine")
    model = pkpd.PkPdModel(ketamine.Domino(0, 40, 70, 170))
    for tpeak_s in (30, 60, 120, 300):
        theirs = model.ke0_tpeak_method(1.0, tpeak_s, 1.0) * 60.0  # 1/s -> 1/min
        system = build_system(resolve_model("domino"), PATIENT)
        ours = ke0_from_tpeak(system, "ketamine", tpeak_s / 60.0)
        assert ours == pytest.approx(theirs, rel=1e-6)


def test_effect_site_peaks_at_tpeak() -> None:
    """Independent of the root-finder: simulate a bolus with the solved ke0 on a fine grid."""
    model = resolve_model("herd")
    patient = Patient(weight_kg=30.0, age_years=8.0)
    system = build_system(model, patient)
    ke0 = ke0_from_tpeak(system, "ketamine", 1.5)
    plan = plan_tci(model, patient, 1000.0, duration_min=1.0, tpeak_min=1.5)
    assert plan.effect_site is not None
    assert plan.effect_site.ke0_per_min == pytest.approx(ke0)
    times = np.linspace(0.0, 5.0, 50001)
    res = simulate(
        model, patient, Regimen.of(Dose(30.0, "mg")), times_min=times, system=plan.system
    )
    assert times[np.argmax(res.concentrations_ng_per_ml["ketamine_effect"])] == pytest.approx(
        1.5, abs=2e-4
    )
