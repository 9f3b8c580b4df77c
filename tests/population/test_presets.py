"""Built-in covariate presets: the sampled distributions against the published numbers.

Published values come from the preset files (copied from Fryar et al., Vital Health Stat 3(50),
2025, tables 1, 3, 5, 7, 9, 10). The fit uses only the percentiles, so the published *means*
and the BMI percentiles are independent checks.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources

import numpy as np
import pytest
from scipy import stats

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.population import parse_trial_spec, run_trial
from ketasim.population.presets import (
    PresetPopulation,
    available_presets,
    load_preset,
    preset_bounds,
    sample_preset,
)

PRESETS = ["adult-us-nhanes", "paediatric-us-nhanes"]


def _raw(name: str) -> dict[str, object]:
    path = resources.files("ketasim.population") / "data" / f"{name}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_presets_are_shipped_with_citations() -> None:
    assert set(PRESETS) <= set(available_presets())
    for name in PRESETS:
        p = load_preset(name)
        assert p.citation.doi == "10.15620/cdc/174595"
        assert any("ASSUMED" in v for v in p.method.values())
        assert p.not_found


@pytest.mark.parametrize("name", PRESETS)
def test_fitted_bands_reproduce_published_means(name: str) -> None:
    # the fit never sees the means: log-normal mean exp(mu + s^2/2) vs the published mean weight,
    # normal mean vs the published mean height
    raw = _raw(name)["bands"]
    assert isinstance(raw, list)
    for band, r in zip(load_preset(name).bands, raw, strict=True):
        mean_w = math.exp(band.weight_mu + band.weight_sigma**2 / 2)
        assert mean_w == pytest.approx(r["weight_kg"]["mean"], rel=0.03), band.label
        assert band.height_mean_cm == pytest.approx(r["height_cm"]["mean"], abs=1.0), band.label
        assert band.max_misfit < 0.11  # worst published percentile vs the fitted one


def _band_population(name: str, index: int) -> tuple[PresetPopulation, dict[str, object]]:
    band = load_preset(name).bands[index]
    raw = _raw(name)["bands"]
    assert isinstance(raw, list)
    pop = PresetPopulation(
        kind="preset",
        preset=name,
        age_years=(band.age_min, band.age_max),
        female_fraction=1.0 if band.sex == "female" else 0.0,
    )
    return pop, raw[index]


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("adult-us-nhanes", 0),
        ("adult-us-nhanes", 9),
        ("paediatric-us-nhanes", 2),
        ("paediatric-us-nhanes", 14),
    ],
)
def test_sampled_moments_and_correlation_match_the_file(name: str, index: int) -> None:
    n = 40_000
    pop, raw = _band_population(name, index)
    band = load_preset(name).bands[index]
    cov = sample_preset(pop, n, np.random.default_rng(7))
    assert np.all(cov["AGE"] >= band.age_min) and np.all(cov["AGE"] < band.age_max)
    lw, h = np.log(cov["WT"]), cov["HT"]
    # mean and SD of ln weight and height within 5 standard errors of the fitted values
    assert abs(lw.mean() - band.weight_mu) < 5 * band.weight_sigma / math.sqrt(n)
    assert abs(lw.std() / band.weight_sigma - 1) < 5 / math.sqrt(2 * n)
    assert abs(h.mean() - band.height_mean_cm) < 5 * band.height_sd_cm / math.sqrt(n)
    assert abs(h.std() / band.height_sd_cm - 1) < 5 / math.sqrt(2 * n)
    # correlation of the scores: SE of r ~ (1 - r^2)/sqrt(n)
    r = np.corrcoef(lw, h)[0, 1]
    assert abs(r - band.rho) < 5 * (1 - band.rho**2) / math.sqrt(n)
    # independent check of the derived correlation: sampled BMI percentiles vs the published
    bmi = cov["WT"] / (cov["HT"] / 100) ** 2
    published = np.asarray(raw["bmi_kg_per_m2"]["percentiles"], dtype=float)  # type: ignore[index]
    pct = np.asarray(_raw(name)["percentiles"], dtype=float)
    ok = np.isfinite(published) & (pct >= 10) & (pct <= 90)
    sampled = np.percentile(bmi, pct[ok])
    assert np.max(np.abs(sampled / published[ok] - 1)) < 0.09
    # and with the correlation set to 0 the BMI spread is clearly wrong (the check can fail)
    z = np.random.default_rng(8).standard_normal((n, 2))
    bmi0 = band.weight_quantile(z[:, 0]) / (band.height_quantile(z[:, 1]) / 100) ** 2
    spread = np.subtract(*np.percentile(bmi, [90, 10]))
    spread0 = np.subtract(*np.percentile(bmi0, [90, 10]))
    assert spread0 > spread * 1.04


def test_spec_selects_a_preset_without_kind() -> None:
    data = {
        "n": 10,
        "seed": 1,
        "population": {"preset": "adult-us-nhanes"},
        "outputs": {"until": "1h", "every": "10min"},
        "arms": [{"name": "a", "model": "herd-2007", "regimen": "0.5 mg/kg"}],
    }
    spec = parse_trial_spec(data)
    assert isinstance(spec.population, PresetPopulation)
    assert "10.15620/cdc/174595" in spec.population.source
    with pytest.raises(InputError, match=r"population\.preset"):
        parse_trial_spec({**data, "population": {"preset": "martian-adults"}})
    with pytest.raises(InputError, match=r"population\.age_years"):
        parse_trial_spec(
            {**data, "population": {"preset": "adult-us-nhanes", "age_years": [10, 40]}}
        )


def test_truncation_to_model_validity_is_the_truncated_distribution() -> None:
    herd = resolve_model("herd-2007")  # weight 10.8-74.8 kg, age 1-14 years
    pop = PresetPopulation(kind="preset", preset="paediatric-us-nhanes")
    bounds = preset_bounds(pop, [herd])
    assert bounds["age_years"] == (2.0, 14.0)
    assert bounds["weight_kg"] == (10.8, 74.8)
    cov = sample_preset(pop, 20_000, np.random.default_rng(3), bounds)
    assert cov["WT"].min() >= 10.8 and cov["WT"].max() <= 74.8
    assert cov["AGE"].min() >= 2.0 and cov["AGE"].max() < 14.0
    # one band against scipy's truncated log-normal (KS test)
    band = load_preset("paediatric-us-nhanes").bands[0]  # male 2-3 years: 2.4% below 10.8 kg
    sel = (cov["FEMALE"] == 0) & (cov["AGE"] < 4)
    lo = (math.log(10.8) - band.weight_mu) / band.weight_sigma
    hi = (math.log(74.8) - band.weight_mu) / band.weight_sigma
    ref = stats.truncnorm(lo, hi, loc=band.weight_mu, scale=band.weight_sigma)
    assert stats.kstest(np.log(cov["WT"][sel]), ref.cdf).pvalue > 1e-3


def test_refuse_and_impossible_truncation_name_the_field() -> None:
    herd = resolve_model("herd-2007")
    refuse = PresetPopulation(
        kind="preset", preset="paediatric-us-nhanes", validity="refuse", age_years=(2, 12)
    )
    with pytest.raises(InputError, match=r"population\.weight_kg: 2\.4% .* herd-2007"):
        preset_bounds(refuse, [herd])
    with pytest.raises(InputError, match=r"population\.age_years"):
        preset_bounds(PresetPopulation(kind="preset", preset="adult-us-nhanes"), [herd])
    ignore = PresetPopulation(kind="preset", preset="adult-us-nhanes", validity="ignore")
    assert preset_bounds(ignore, [herd])["weight_kg"] == (0.0, math.inf)


def test_trial_with_a_preset_reports_it() -> None:
    spec = parse_trial_spec(
        {
            "n": 200,
            "seed": 5,
            "chunk_size": 100,
            "population": {"preset": "paediatric-us-nhanes", "age_years": [2, 8]},
            "outputs": {"until": "30min", "every": "10min"},
            "arms": [{"name": "herd", "model": "herd-2007", "regimen": "1 mg/kg"}],
        }
    )
    result = run_trial(spec, scheduler="local:1")
    assert any(f.rule_id == "population.preset" for f in result.findings)
    assert not any(f.rule_id == "population.validity" for f in result.findings)
    assert "preset paediatric-us-nhanes" in result.provenance["population_source"]
