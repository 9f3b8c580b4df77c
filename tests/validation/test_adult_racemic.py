"""Adult racemic ketamine models against the published values they were built from.

Sources (all adult studies): Kamp 2020 Anesthesiology abstract (CL 79 L/h, V 252 L/70 kg);
Pharmacotherapy 2022;42:298 Table 6 (intranasal F 17/13/11% at 10/30/50 mg, Tmax 23/14/16 min);
Rolan 2014 (sublingual F 29%, median Tmax 0.75 h); Chong 2006 (oral F 23%, Tmax 0.96 h);
Anaesthesist 1984 PMID 6476334 (IM median peak 15 min after 1 mg/kg); Hasan 2021 (R/S
metabolic clearance 1,530/1,620 mL/min). These check that the files encode their sources; the
independent comparisons are in ``ketasim validate``.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, build_system, simulate
from ketasim.pk.events import resolve_inputs
from ketasim.population.batch import batch_inputs, batch_system

ADULT = Patient(weight_kg=70.0, age_years=40.0)
TIMES = np.arange(0.0, 48 * 60.0 + 0.05, 0.1)


def _profile(model_id: str, dose: Dose, analyte: str = "ketamine_plasma") -> np.ndarray:
    res = simulate(resolve_model(model_id), ADULT, Regimen.of(dose), times_min=TIMES)
    return res.concentrations_ng_per_ml[analyte]


def test_kamp_meta_clearance_and_volume_at_70_kg() -> None:
    c = _profile("kamp-2020-meta", Dose(10.0, "mg"))
    auc_mg_min_per_l = np.trapezoid(c, TIMES) / 1000.0
    assert 10.0 / auc_mg_min_per_l * 60.0 == pytest.approx(79.0, rel=0.005)  # CL L/h
    assert 10.0 / c[0] * 1000.0 == pytest.approx(252.0, rel=1e-9)  # V L (one compartment)


@pytest.mark.parametrize(
    ("route", "dose_mg", "f"),
    [
        ("intranasal", 10.0, 0.17),
        ("intranasal", 30.0, 0.13),
        ("intranasal", 50.0, 0.11),
        ("intranasal", 20.0, 0.15),
        ("intranasal", 80.0, 0.11),
        ("sublingual", 25.0, 0.29),
        ("oral", 25.0, 0.23),
        ("im", 35.0, 0.93),
    ],
)
def test_bioavailability_from_auc_ratio(route: str, dose_mg: float, f: float) -> None:
    iv = _profile("kamp-routes", Dose(dose_mg, "mg"))
    other = _profile("kamp-routes", Dose(dose_mg, "mg", route=route))
    assert np.trapezoid(other, TIMES) / np.trapezoid(iv, TIMES) == pytest.approx(f, rel=0.005)


@pytest.mark.parametrize(
    ("route", "dose_mg", "tmax_min"),
    [
        ("intranasal", 30.0, 16.0),
        ("sublingual", 25.0, 45.0),
        ("oral", 25.0, 57.6),
        ("im", 70.0, 15.0),
    ],
)
def test_time_to_peak_is_the_published_one(route: str, dose_mg: float, tmax_min: float) -> None:
    # each ka was derived from this Tmax: the check is that the derivation is encoded
    c = _profile("kamp-routes", Dose(dose_mg, "mg", route=route))
    assert TIMES[int(np.argmax(c))] == pytest.approx(tmax_min, abs=0.3)


def test_adult_routes_exclude_children() -> None:
    from ketasim.errors import KetasimError

    with pytest.raises(KetasimError):
        simulate(
            resolve_model("kamp-routes"),
            Patient(weight_kg=20.0, age_years=6.0),
            Regimen.of(Dose(10.0, "mg", route="oral")),
            times_min=TIMES[:10],
        )


def test_enantiomers_split_a_racemic_infusion_evenly_over_its_duration() -> None:
    dose = Dose(35.0, "mg", duration_min=40.0)
    s = _profile("racemic-enantiomers", dose, "s_ketamine_plasma")
    r = _profile("racemic-enantiomers", dose, "r_ketamine_plasma")
    # both enantiomers rise until the end of the 40-min infusion (not half the time each)
    assert TIMES[int(np.argmax(s))] == pytest.approx(40.0, abs=0.11)
    assert TIMES[int(np.argmax(r))] == pytest.approx(40.0, abs=0.11)
    # equal input, R cleared 0.944 times as fast: AUC_R / AUC_S = 1 / 0.944 (Hasan 2021)
    ratio = np.trapezoid(r, TIMES) / np.trapezoid(s, TIMES)
    assert ratio == pytest.approx(1620.0 / 1530.0, rel=0.01)
    # S-ketamine alone: half the dose through the otto-2021 model gives the same S profile
    otto = _profile("otto-2021", Dose(17.5, "mg", duration_min=40.0))
    np.testing.assert_allclose(s, otto, rtol=1e-9, atol=1e-9)


def test_split_infusions_agree_between_single_and_batched_resolvers() -> None:
    model = resolve_model("racemic-enantiomers")
    dose = Dose(35.0, "mg", 5.0, "iv", 40.0)
    single = resolve_inputs(build_system(model, ADULT), [dose], 70.0)
    batch = batch_system(
        model,
        {
            "WT": np.array([70.0]),
            "AGE": np.array([40.0]),
            "HT": np.array([170.0]),
            "FEMALE": np.array([0.0]),
        },
        {},
    )
    events = batch_inputs(model, batch, Regimen.of(dose), np.array([70.0])).events
    got = sorted((e.start_min[0], e.end_min[0], e.state, e.amount_mg[0]) for e in events)
    want = sorted(
        (f.start_min, f.end_min, f.state, f.rate_mg_per_min * 40.0) for f in single.infusions
    )
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12)
    assert all(e == pytest.approx(45.0) for _, e, _, _ in want)
