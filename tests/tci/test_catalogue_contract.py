"""Every catalogue model with an IV route can be targeted: the site reaches the target within
20 min without exceeding it by more than 1%, in plasma and effect-site mode."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from ketasim.catalogue import available_models
from ketasim.catalogue.schema import ModelSpec
from ketasim.patient import Patient
from ketasim.tci import plan_tci

# a racemic dose split into S- and R-ketamine (two IV inputs) cannot be targeted: TCI refuses it
IV_MODELS = [
    m for m in available_models() if "iv" in m.route_names and len(m.route("iv").inputs) == 1
]
SPLIT_IV_MODELS = [
    m for m in available_models() if "iv" in m.route_names and len(m.route("iv").inputs) > 1
]


def _patient(model: ModelSpec) -> Patient:
    """A patient in the middle of the model's validated ranges (or an adult)."""

    def mid(key: Literal["weight_kg", "age_years"], default: float) -> float:
        rng = model.validity.get(key)
        bounds = [] if rng is None else [b for b in (rng.min, rng.max) if b is not None]
        return float(np.mean(bounds)) if bounds else default

    return Patient(
        weight_kg=mid("weight_kg", 70.0),
        age_years=mid("age_years", 40.0),
        height_cm=170.0,
        sex="female",
    )


@pytest.mark.parametrize("model", IV_MODELS, ids=[m.id for m in IV_MODELS])
@pytest.mark.parametrize("site", ["plasma", "effect"])
def test_reaches_target_without_overshoot(model: ModelSpec, site: str) -> None:
    has_site = any(e.analyte == model.analyte_names[0] for e in model.effect_sites)
    plan = plan_tci(
        model,
        _patient(model),
        1000.0,
        duration_min=20.0,
        site=site,  # type: ignore[arg-type]
        tpeak_min=None if has_site or site == "plasma" else 1.0,
        allow_extrapolation=True,
    )
    times = np.linspace(0.0, 20.0, 1201)
    c = plan.concentrations_at(times)[f"{plan.analyte}_{site}"]
    assert c.max() <= 1010.0
    assert c[-1] >= 990.0


@pytest.mark.parametrize("model", SPLIT_IV_MODELS, ids=[m.id for m in SPLIT_IV_MODELS])
def test_split_iv_models_are_refused_with_a_clear_error(model: ModelSpec) -> None:
    from ketasim.errors import InputError

    with pytest.raises(InputError, match="not a single direct input"):
        plan_tci(
            model,
            _patient(model),
            1000.0,
            duration_min=20.0,
            site="plasma",
            allow_extrapolation=True,
        )
