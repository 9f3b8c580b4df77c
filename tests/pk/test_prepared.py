"""The preparation cache of ``simulate`` (ketasim.pk.prepared): same results as an unprepared
call, a new preparation whenever anything it reads changes."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import ModelSpec
from ketasim.patient import Patient
from ketasim.pk import Dose, ExactSolver, Regimen, build_system, simulate
from ketasim.pk.prepared import (
    MAX_ENTRIES,
    MAX_PROPAGATORS,
    _entries,
    _key,
    cache_info,
    clear_cache,
    prepare,
)

TIMES = np.arange(0.0, 24 * 60 + 1, 0.5)
INFUSION = Regimen.of(Dose(35, "mg", duration_min=40))


def _fresh(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    etas: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """The same call with a system and solver built here (no cache involved)."""
    system = build_system(model, patient, etas=etas)
    res = simulate(
        model, patient, regimen, times_min=TIMES, etas=etas, system=system,
        solver=ExactSolver(system.K),
    )  # fmt: skip
    return {k: v.copy() for k, v in res.concentrations_ng_per_ml.items()}


def _cached(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    etas: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    res = simulate(model, patient, regimen, times_min=TIMES, etas=etas)
    return dict(res.concentrations_ng_per_ml)


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-13, atol=0.0)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    clear_cache()


def test_hit_equals_an_unprepared_call_and_patients_do_not_mix() -> None:
    model = resolve_model("domino")
    light, heavy = Patient(weight_kg=60, age_years=40), Patient(weight_kg=90, age_years=40)
    first = _cached(model, light, INFUSION)
    other = _cached(model, heavy, INFUSION)
    again = _cached(model, light, INFUSION)
    assert cache_info() == {"hits": 1, "misses": 2, "entries": 2}
    _assert_same(first, _fresh(model, light, INFUSION))
    _assert_same(again, first)
    _assert_same(other, _fresh(model, heavy, INFUSION))
    # a fixed dose in a weight-dependent model: the heavier patient really differs
    assert not np.allclose(other["ketamine_plasma"], first["ketamine_plasma"])


def test_every_covariate_is_part_of_the_key() -> None:
    model = resolve_model("domino")
    base = Patient(weight_kg=70, age_years=40)
    _cached(model, base, INFUSION)
    for changed in (
        Patient(weight_kg=70, age_years=41),
        Patient(weight_kg=70, age_years=40, height_cm=170),
        Patient(weight_kg=70, age_years=40, sex="female"),
        Patient(weight_kg=70, age_years=40, extra={"ASIAN": 1.0}),
    ):
        _cached(model, changed, INFUSION)
    assert cache_info()["misses"] == 5 and cache_info()["hits"] == 0
    _cached(model, Patient(weight_kg=70.0, age_years=40.0), INFUSION)  # an equal patient hits
    assert cache_info()["hits"] == 1


def test_etas_are_part_of_the_key() -> None:
    model = resolve_model("herd-2007")  # a (paediatric) model with inter-individual variability
    patient = Patient(weight_kg=25, age_years=8)
    name = next(iter(model.iiv))
    typical = _cached(model, patient, INFUSION)
    shifted = _cached(model, patient, INFUSION, etas={name: 0.3})
    _assert_same(shifted, _fresh(model, patient, INFUSION, etas={name: 0.3}))
    assert not np.allclose(shifted["ketamine_plasma"], typical["ketamine_plasma"])
    _assert_same(_cached(model, patient, INFUSION, etas={name: 0.0}), typical)


def test_regimens_resolved_per_entry_do_not_mix() -> None:
    model = resolve_model("domino")
    patient = Patient(weight_kg=70, age_years=40)
    bolus = Regimen.of(Dose(35, "mg"))
    twice = Regimen.of(Dose(35, "mg"), Dose(20, "mg", time_min=60))
    per_kg = Regimen.of(Dose(0.5, "mg/kg", duration_min=40))
    for regimen in (INFUSION, bolus, twice, per_kg, bolus, INFUSION, per_kg):
        _assert_same(_cached(model, patient, regimen), _fresh(model, patient, regimen))
    assert cache_info()["entries"] == 1


def test_a_modified_copy_of_a_model_is_a_new_key() -> None:
    model = resolve_model("domino")
    patient = Patient(weight_kg=70, age_years=40)
    name, p = next(iter(model.parameters.items()))
    changed = model.model_copy(
        update={
            "parameters": {**model.parameters, name: p.model_copy(update={"value": p.value * 2})}
        }
    )
    original = _cached(model, patient, INFUSION)
    modified = _cached(changed, patient, INFUSION)
    _assert_same(modified, _fresh(changed, patient, INFUSION))
    assert not np.allclose(modified["ketamine_plasma"], original["ketamine_plasma"])


def test_an_entry_of_a_collected_model_is_never_served_to_a_new_one() -> None:
    base = resolve_model("domino")
    patient = Patient(weight_kg=70, age_years=40)
    name, p = next(iter(base.parameters.items()))

    def variant(factor: float) -> ModelSpec:
        value = p.model_copy(update={"value": p.value * factor})
        return base.model_copy(update={"parameters": {**base.parameters, name: value}})

    first = variant(2.0)
    prepare(first, patient)
    second = variant(3.0)
    # as if ``second`` had been allocated at the address of a collected ``first`` (CPython
    # reuses addresses; forced here so the check runs every time): first's entry under
    # second's key
    key_first, key_second = _key(first, patient, None), _key(second, patient, None)
    assert key_first is not None and key_second is not None
    _entries[key_second] = _entries.pop(key_first)
    del first
    gc.collect()
    got = prepare(second, patient).system.K
    np.testing.assert_array_equal(got, build_system(second, patient).K)
    assert not np.array_equal(got, build_system(variant(2.0), patient).K)


def test_the_cache_is_bounded_and_its_matrices_read_only() -> None:
    model = resolve_model("domino")
    for i in range(MAX_ENTRIES + 5):
        prepare(model, Patient(weight_kg=50 + i, age_years=40))
    assert cache_info()["entries"] == MAX_ENTRIES
    entry = prepare(model, Patient(weight_kg=50 + MAX_ENTRIES + 4, age_years=40))
    assert cache_info()["hits"] == 1
    with pytest.raises(ValueError):
        entry.system.K[0, 0] = 1.0


def test_an_irregular_grid_does_not_grow_an_entry_without_bound() -> None:
    model = resolve_model("domino")
    patient = Patient(weight_kg=70, age_years=40)
    times = np.cumsum(np.linspace(0.01, 3.0, 3 * MAX_PROPAGATORS))  # every step different
    res = simulate(model, patient, INFUSION, times_min=times)
    entry = prepare(model, patient)
    assert 0 < len(entry.solver._cache) <= MAX_PROPAGATORS
    system = build_system(model, patient)
    fresh = simulate(
        model, patient, INFUSION, times_min=times, system=system, solver=ExactSolver(system.K)
    )
    for name, values in fresh.concentrations_ng_per_ml.items():
        np.testing.assert_allclose(res.concentrations_ng_per_ml[name], values, rtol=1e-13)


def test_mg_per_kg_doses_use_the_patients_own_weight() -> None:
    # a model covariate WT given in ``extra`` makes two patients share an entry; their mg/kg
    # doses still scale with each one's weight_kg
    model = resolve_model("domino")
    per_kg = Regimen.of(Dose(0.5, "mg/kg", duration_min=40))
    light = Patient(weight_kg=60, age_years=40, extra={"WT": 70.0})
    heavy = Patient(weight_kg=80, age_years=40, extra={"WT": 70.0})
    first = _cached(model, light, per_kg)
    second = _cached(model, heavy, per_kg)
    assert cache_info() == {"hits": 1, "misses": 1, "entries": 1}
    _assert_same(first, _fresh(model, light, per_kg))
    _assert_same(second, _fresh(model, heavy, per_kg))
    np.testing.assert_allclose(second["ketamine_plasma"], first["ketamine_plasma"] * 80 / 60)
