"""Covariate sampling and inter-individual variability against their stated distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import IIV
from ketasim.errors import DataFileError, InputError
from ketasim.population.covariates import (
    CsvPopulation,
    ParametricPopulation,
    read_covariate_csv,
    sample_covariates,
)
from ketasim.population.variability import (
    omega_matrix,
    residual_observations,
    sample_etas,
    with_assumed_iiv,
)

POP = ParametricPopulation.model_validate(
    {
        "kind": "parametric",
        "source": "test",
        "female_fraction": 0.3,
        "correlations": {"weight_height": 0.5, "weight_age": 0.2},
        "female": {
            "weight_kg": {"median": 65, "cv_percent": 20, "min": 40, "max": 120},
            "height_cm": {"mean": 163, "sd": 7},
            "age_years": {"min": 18, "max": 65},
        },
        "male": {
            "weight_kg": {"median": 80, "cv_percent": 20},
            "height_cm": {"mean": 177, "sd": 7},
            "age_years": {"min": 18, "max": 65},
        },
    }
)


def test_parametric_population_matches_its_marginals_and_correlation() -> None:
    n = 200_000
    cov = sample_covariates(POP, n, 1)
    female = cov["FEMALE"] == 1
    assert abs(female.mean() - 0.3) < 0.005
    male_wt = cov["WT"][~female]
    assert abs(np.median(male_wt) / 80 - 1) < 0.01
    sigma = np.sqrt(np.log1p(0.2**2))
    assert abs(np.std(np.log(male_wt)) / sigma - 1) < 0.01
    fem_wt = cov["WT"][female]
    assert fem_wt.min() >= 40 and fem_wt.max() <= 120
    assert abs(np.mean(cov["HT"][~female]) - 177) < 0.1
    ages = cov["AGE"]
    assert ages.min() >= 18 and ages.max() <= 65
    assert abs(np.mean(ages) - 41.5) < 0.2  # uniform
    # correlation of the normal scores (Gaussian copula) within a sex
    z_w = (np.log(male_wt) - np.log(80)) / sigma
    z_h = (cov["HT"][~female] - 177) / 7
    assert abs(np.corrcoef(z_w, z_h)[0, 1] - 0.5) < 0.01
    z_a = norm.ppf((ages[~female] - 18) / 47)
    assert abs(np.corrcoef(z_w, z_a)[0, 1] - 0.2) < 0.01


def test_same_seed_same_covariates() -> None:
    a = sample_covariates(POP, 100, 42)
    b = sample_covariates(POP, 100, np.random.default_rng(42))
    np.testing.assert_array_equal(a["WT"], b["WT"])


def test_csv_population(tmp_path: Path) -> None:
    path = tmp_path / "cov.csv"
    path.write_text("weight_kg,age_years,sex,ASIAN\n70,30,F,0\n90,50,male,1\n")
    data = read_covariate_csv(path)
    assert data["FEMALE"].tolist() == [1.0, 0.0]
    assert data["ASIAN"].tolist() == [0.0, 1.0]
    seq = sample_covariates(
        CsvPopulation(kind="csv", path=str(path), source="test", sample="sequential"), 5, 0, first=1
    )
    assert seq["WT"].tolist() == [90, 70, 90, 70, 90]
    boot = sample_covariates(CsvPopulation(kind="csv", path=str(path), source="test"), 1000, 0)
    assert set(boot["WT"].tolist()) == {70.0, 90.0}
    bad = tmp_path / "bad.csv"
    bad.write_text("weight_kg,sex\n70,F\nabc,M\n")
    with pytest.raises(DataFileError) as info:
        read_covariate_csv(bad)
    assert info.value.row == 3 and info.value.column == "weight_kg"


def test_omega_from_model_with_correlations() -> None:
    model = resolve_model("otto")
    omega = omega_matrix(model)
    i, j = omega.names.index("V1_70"), omega.names.index("CL_70")
    # Otto 2021 OMEGA BLOCK(2): covariance 0.02261 (model file: r derived from it)
    assert abs(omega.matrix[i, j] - 0.02261) < 2e-4
    etas = sample_etas(omega, 400_000, 3)
    sample = np.cov(np.vstack([etas[n] for n in omega.names]))
    np.testing.assert_allclose(sample, omega.matrix, atol=2.5e-3)


def test_cv_percent_is_log_scale_variance() -> None:
    model = resolve_model("domino")
    assumed = {"k10": IIV(cv_percent=30, source="ASSUMED test")}
    m = with_assumed_iiv(model, assumed, field="arms[0].assumed_iiv")
    omega = omega_matrix(m)
    assert omega.assumed == ("k10",)
    assert abs(omega.matrix[0, 0] - np.log(1 + 0.3**2)) < 1e-15
    with pytest.raises(InputError) as info:
        with_assumed_iiv(model, {"nope": IIV(cv_percent=30, source="x" * 3)}, field="f")
    assert info.value.field == "f.nope"
    with pytest.raises(InputError, match="no inter-individual variability"):
        omega_matrix(model)


def test_residual_error_proportional() -> None:
    model = resolve_model("otto")  # proportional 23.6% on ketamine
    pred = np.full(200_000, 100.0)
    obs = residual_observations(model, "ketamine", pred, 1)
    assert obs is not None
    assert abs(np.std(obs) / 100.0 - 0.236) < 0.003
    assert residual_observations(resolve_model("domino"), "ketamine", pred, 1) is None
