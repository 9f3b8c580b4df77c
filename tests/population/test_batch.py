"""The batched system builder against the single-patient one, for every catalogue model."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import available_models
from ketasim.catalogue.schema import ModelSpec
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, build_system
from ketasim.pk.events import resolve_inputs
from ketasim.population.batch import batch_inputs, batch_system

MODELS = available_models()


def _covariates(model: ModelSpec, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    lo = (model.validity.get("weight_kg").min or 10.0) if "weight_kg" in model.validity else 40.0
    hi = (model.validity.get("weight_kg").max or 100.0) if "weight_kg" in model.validity else 100
    age = model.validity.get("age_years")
    a_lo = age.min if age is not None and age.min is not None else 20.0
    a_hi = age.max if age is not None and age.max is not None else 60.0
    return {
        "WT": rng.uniform(lo, hi, n),
        "AGE": rng.uniform(a_lo, a_hi, n),
        "HT": rng.uniform(150, 190, n),
        "FEMALE": (rng.random(n) < 0.5).astype(float),
    }


@pytest.mark.parametrize("model", MODELS, ids=[m.id for m in MODELS])
def test_batch_system_matches_build_system(model: ModelSpec) -> None:
    rng = np.random.default_rng(11)
    n = 4
    cov = _covariates(model, n, rng)
    etas = {name: rng.normal(0, 0.3, n) for name in model.iiv}
    batch = batch_system(model, cov, etas)
    for i in range(n):
        patient = Patient(
            weight_kg=cov["WT"][i],
            age_years=cov["AGE"][i],
            height_cm=cov["HT"][i],
            sex="female" if cov["FEMALE"][i] else "male",
        )
        single = build_system(model, patient, etas={k: v[i] for k, v in etas.items()})
        np.testing.assert_allclose(batch.K[i], single.K, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(batch.C[i] / 1000.0, single.output_matrix(), rtol=1e-12)
        assert batch.output_names == tuple(o.name for o in single.outputs)
        for route in model.route_names:
            dose = Dose(20.0, "mg", 3.0, route, 0.0)
            inputs = batch_inputs(model, batch, Regimen.of(dose), cov["WT"])
            ref = resolve_inputs(single, [dose], float(cov["WT"][i]))
            boluses = sorted(
                (e.start_min[i], e.state, e.amount_mg[i])
                for e in inputs.events
                if e.start_min[i] == e.end_min[i] and e.amount_mg[i] > 0
            )
            expect_b = sorted((b.time_min, b.state, b.amount_mg) for b in ref.boluses)
            np.testing.assert_allclose(
                np.array(boluses).reshape(-1, 3), np.array(expect_b).reshape(-1, 3), rtol=1e-12
            )
            infusions = sorted(
                (
                    e.start_min[i],
                    e.end_min[i],
                    e.state,
                    e.amount_mg[i] / (e.end_min[i] - e.start_min[i]),
                )
                for e in inputs.events
                if e.end_min[i] > e.start_min[i]
            )
            expect_i = sorted(
                (f.start_min, f.end_min, f.state, f.rate_mg_per_min) for f in ref.infusions
            )
            np.testing.assert_allclose(
                np.array(infusions).reshape(-1, 4), np.array(expect_i).reshape(-1, 4), rtol=1e-12
            )
