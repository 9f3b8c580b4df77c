"""One contract over every catalogue model file (STYLE practice 9)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import available_models, resolve_model
from ketasim.catalogue.schema import ModelSpec
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate

MODELS = available_models()


def _patient(model: ModelSpec) -> Patient:
    w = model.validity.get("weight_kg")
    a = model.validity.get("age_years")
    weight = 70.0 if w is None or w.contains(70.0) else float(np.mean([w.min, w.max]))
    age = 40.0 if a is None or a.contains(40.0) else float(np.mean([a.min, a.max]))
    return Patient(weight_kg=weight, age_years=age)


def test_catalogue_has_the_required_models() -> None:
    ids = {m.id for m in MODELS}
    for name in ("domino", "clements", "hijazi", "herd", "hornik", "perez-ruixo"):
        assert resolve_model(name).id in ids
    drugs = {m.drug for m in MODELS}
    assert {"racemic ketamine", "S-ketamine", "esketamine"} <= drugs
    assert any(len(m.analytes) > 1 and m.drug == "S-ketamine" for m in MODELS)
    racemic_routes = {r for m in MODELS if m.drug == "racemic ketamine" for r in m.route_names}
    assert racemic_routes - {"iv"}, "a racemic model with a non-IV route"


@pytest.mark.parametrize("model", MODELS, ids=[m.id for m in MODELS])
class TestEveryModel:
    def test_citation_and_sources(self, model: ModelSpec) -> None:
        assert model.citation.doi or model.citation.pmid, "DOI or PMID"
        for name, p in model.parameters.items():
            assert p.source.strip(), f"{name} has a source"
            assert p.unit is not None
        for name, iiv in model.iiv.items():
            assert iiv.source.strip(), f"iiv {name} has a source"

    def test_short_names_resolve_to_this_model(self, model: ModelSpec) -> None:
        for short in model.short_names:
            assert resolve_model(short).id == model.id

    def test_positive_and_decaying_after_last_dose(self, model: ModelSpec) -> None:
        patient = _patient(model)
        for route in model.route_names:
            regimen = Regimen.of(Dose(28.0, "mg", route=route))
            times = np.linspace(0.0, 48 * 60.0, 2 * 48 + 1)
            res = simulate(model, patient, regimen, times_min=times)
            for name, c in res.concentrations_ng_per_ml.items():
                assert np.all(c >= -1e-9 * c.max()), f"{route} {name} non-negative"
                assert c.max() > 0, f"{route} {name} rises"
                tail = c[times >= 24 * 60.0]
                assert np.all(np.diff(tail) <= 1e-12 * c.max()), f"{route} {name} decays"

    def test_dose_proportional(self, model: ModelSpec) -> None:
        patient = _patient(model)
        times = np.linspace(0.0, 600.0, 121)
        # Perez-Ruixo's nasal fraction depends on the number of devices, so IV only here
        a = simulate(model, patient, Regimen.of(Dose(10.0, "mg")), times_min=times)
        b = simulate(model, patient, Regimen.of(Dose(30.0, "mg")), times_min=times)
        for name in a.concentrations_ng_per_ml:
            np.testing.assert_allclose(
                b.concentrations_ng_per_ml[name],
                3.0 * a.concentrations_ng_per_ml[name],
                rtol=1e-10,
                atol=1e-12,
            )
