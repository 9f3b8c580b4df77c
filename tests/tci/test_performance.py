"""Varvel's performance measures: hand-computed values and a closed-form misspecification."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import Parameter
from ketasim.patient import Patient
from ketasim.tci import plan_tci, tci_performance, varvel_measures


def test_varvel_by_hand() -> None:
    # PE = (110-100)/100, (90-100)/100, (130-100)/100 = 10, -10, 30 %
    m = varvel_measures(
        np.array([0.0, 60.0, 120.0]),
        np.array([110.0, 90.0, 130.0]),
        np.array([100.0, 100.0, 100.0]),
    )
    assert m.mdpe_percent == pytest.approx(10.0)
    assert m.mdape_percent == pytest.approx(10.0)  # median of 10, 10, 30
    assert m.wobble_percent == pytest.approx(20.0)  # median of |0|, |-20|, |20|
    assert m.divergence_percent_per_h == pytest.approx(10.0)  # |PE| 10, 10, 30 at 0, 1, 2 h


def test_true_patient_with_double_central_volume_is_minus_50_percent() -> None:
    """Domino's micro-constants are rates, so doubling V1 halves every concentration exactly:
    PE = -50% everywhere, MDAPE 50%, wobble 0, divergence 0."""
    domino = resolve_model("domino")
    v1 = domino.parameters["V1_per_kg"]
    doubled = Parameter(value=2 * v1.value, unit=v1.unit, source="test: doubled")
    true = domino.model_copy(update={"parameters": {**domino.parameters, "V1_per_kg": doubled}})
    plan = plan_tci(domino, Patient(weight_kg=70.0), 1000.0, duration_min=30.0)
    for site in ("plasma", "effect"):
        perf = tci_performance(plan, true_model=true, site=site, rng=0)
        assert len(perf.per_patient) == 1  # no variability: one true patient
        m = perf.per_patient[0]
        assert m.mdpe_percent == pytest.approx(-50.0, abs=1e-9)
        assert m.mdape_percent == pytest.approx(50.0, abs=1e-9)
        assert m.wobble_percent == pytest.approx(0.0, abs=1e-9)
        assert m.divergence_percent_per_h == pytest.approx(0.0, abs=1e-7)


def test_population_from_model_variability_is_reproducible() -> None:
    herd = resolve_model("herd")
    plan = plan_tci(herd, Patient(weight_kg=30.0, age_years=8.0), 1000.0, duration_min=30.0)
    a = tci_performance(plan, plan_model=herd, n_patients=100, rng=7)
    b = tci_performance(plan, plan_model=herd, n_patients=100, rng=7)
    assert a.summary() == b.summary()
    s = a.summary()
    # true patients differ from the typical one: MDAPE > 0, and the spread brackets zero bias
    assert s["mdape_percent"]["median"] > 1.0
    assert s["mdpe_percent"]["p10"] < 0.0 < s["mdpe_percent"]["p90"]
