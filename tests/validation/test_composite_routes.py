"""Nasal and rectal racemic ketamine in children: the Malinovsky 1996 composite.

Source: Malinovsky JM et al. Br J Anaesth 1996;77:203-207 (abstract): 32 children 2-9 y,
10-30 kg; bioavailability 0.50 nasal, 0.25 rectal; mean peaks 496 ng/mL at 20 min (3 mg/kg
nasal) and 632 ng/mL at 42 min (9 mg/kg rectal).
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate

MODEL = resolve_model("malinovsky")
CHILD = Patient(weight_kg=20.0, age_years=5.0)  # middle of the study's 10-30 kg
TIMES = np.arange(0.0, 24 * 60.0 + 0.05, 0.1)


def _profile(route: str, mg_per_kg: float) -> np.ndarray:
    res = simulate(MODEL, CHILD, Regimen.of(Dose(mg_per_kg, "mg/kg", route=route)), times_min=TIMES)
    return res.concentrations_ng_per_ml["ketamine_plasma"]


@pytest.mark.parametrize(
    ("route", "mg_per_kg", "tmax_min"), [("intranasal", 3.0, 20.0), ("rectal", 9.0, 42.0)]
)
def test_time_to_peak_matches_the_published_mean(
    route: str, mg_per_kg: float, tmax_min: float
) -> None:
    # the ka values were derived from these Tmax values; this checks the derivation is encoded
    c = _profile(route, mg_per_kg)
    assert TIMES[int(np.argmax(c))] == pytest.approx(tmax_min, abs=0.5)


@pytest.mark.parametrize(("route", "f"), [("intranasal", 0.50), ("rectal", 0.25)])
def test_bioavailability_from_auc_ratio(route: str, f: float) -> None:
    iv = _profile("iv", 3.0)
    other = _profile(route, 3.0)
    ratio = np.trapezoid(other, TIMES) / np.trapezoid(iv, TIMES)
    assert ratio == pytest.approx(f, rel=0.01)  # tails beyond 24 h are < 1% of the AUC


@pytest.mark.parametrize(
    ("route", "mg_per_kg", "observed_cmax"), [("intranasal", 3.0, 496.0), ("rectal", 9.0, 632.0)]
)
def test_peak_concentration_near_published_mean(
    route: str, mg_per_kg: float, observed_cmax: float
) -> None:
    # an independent check (Cmax was not used to build the composite); the model file's notes
    # state the under-prediction (0.83x nasal, 0.70x rectal); 35% is the accepted band here
    predicted = float(_profile(route, mg_per_kg).max())
    assert predicted == pytest.approx(observed_cmax, rel=0.35)
    assert predicted < observed_cmax
