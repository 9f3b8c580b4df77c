"""Contract over every PD model file, and schema errors that name the field."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.errors import ModelError, ModelNotFoundError
from ketasim.pd import (
    available_pd_models,
    effects_from_concentrations,
    endpoint_response,
    load_pd_text,
    resolve_pd_model,
)
from ketasim.pd.schema import PDModelSpec

MODELS = available_pd_models()


def test_catalogue_is_complete() -> None:
    ids = {m.id for m in MODELS}
    assert {
        "schuttler-1987",
        "herd-2008",
        "olofsen-2022",
        "noppers-2012",
        "dahan-2011",
        "cardiovascular-iv-empirical",
    } <= ids


@pytest.mark.parametrize("model", MODELS, ids=[m.id for m in MODELS])
def test_contract(model: PDModelSpec) -> None:
    assert model.citation.text and (
        model.citation.doi or model.citation.pmid or model.empirical or model.citation.verified
    )
    assert resolve_pd_model(model.id) is model
    if model.empirical:
        assert "EMPIRICAL" in model.title.upper()
    for ep in model.endpoints:
        for name in ("e0", "emax", "imax", "c50", "gamma"):
            p = getattr(ep, name)
            assert p is None or p.source
        assert all(s.source for s in ep.slopes)
        conc = {"ketamine": np.array([0.0, 10.0, 1e4]), "norketamine": np.array([0.0, 5.0, 1e3])}
        res = endpoint_response(ep, conc)
        if ep.c50 is not None:
            assert res.c50_ng_per_ml is not None
            half = endpoint_response(ep, {"ketamine": np.array([res.c50_ng_per_ml])})
            assert half.ce_over_c50 is not None
            np.testing.assert_allclose(half.ce_over_c50, 1.0)
            if half.values is not None and ep.kind == "probability":
                np.testing.assert_allclose(half.values, 0.5)
        # no concentration, no drug effect
        if res.values is not None and ep.kind != "fractional_inhibitory":
            e0 = ep.e0.value if ep.e0 is not None else 0.0
            assert res.values[0] == pytest.approx(e0)


def test_effects_need_the_analytes() -> None:
    with pytest.raises(Exception, match="norketamine"):
        effects_from_concentrations(
            resolve_pd_model("noppers-2012"), [0.0, 1.0], {"ketamine": [1.0, 1.0]}
        )


def test_unknown_pd_model() -> None:
    with pytest.raises(ModelNotFoundError, match="no PD model") as info:
        resolve_pd_model("no-such-model")
    assert info.value.field == "pd_model"  # the command line names it --pd (CLI_FLAGS)


def test_schema_errors_name_the_field() -> None:
    good = """
schema_version = 1
id = "x"
title = "t"
drug = "racemic ketamine"
compatible_drugs = ["racemic ketamine"]
population = "p"
[citation]
text = "Someone 2020, a paper"
verified = "abstract"
[effect_site]
source = "none found"
[[endpoints]]
name = "e"
description = "an effect"
kind = "probability"
effect_unit = "probability"
not_found = ["gamma"]
[endpoints.c50]
value = 1.0
unit = "mg/L"
source = "paper"
"""
    assert load_pd_text(good, origin="x.toml").id == "x"
    with pytest.raises(ModelError, match=r"x\.toml: field endpoints\.0"):
        load_pd_text(good.replace('unit = "mg/L"', 'unit = "mg"'), origin="x.toml")
    with pytest.raises(ModelError, match="gamma"):
        load_pd_text(good.replace('not_found = ["gamma"]', ""), origin="x.toml")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_pd_text("id = ", origin="x.toml")


def test_herd_band_is_reproducible_and_brackets_the_typical_curve() -> None:
    from ketasim.pd.variability import endpoint_band

    ep = resolve_pd_model("herd-2008").endpoint("sedation_score")
    conc = {"ketamine": np.array([0.0, 300.0, 560.0, 1500.0])}
    band = endpoint_band(ep, conc, rng=7, n=400)
    again = endpoint_band(ep, conc, rng=np.random.default_rng(7), n=400)
    np.testing.assert_array_equal(band, again)
    typical = endpoint_response(ep, conc).values
    assert typical is not None
    assert np.all(band[0] <= typical + 1e-9) and np.all(typical <= band[2] + 1e-9)
    assert band[2, 2] - band[0, 2] > 1.0  # EC50 CV 136%: a wide band at the EC50
    # score stays within the scale: E0 (1 - Imax) >= 0 with Imax capped at 1
    assert band.min() >= 0.0 and band.max() <= 5.0
