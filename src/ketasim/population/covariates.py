"""Covariates of virtual patients: correlated parametric distributions, or rows of a real CSV.

Parametric populations (``kind = "parametric"``) draw weight, height and age per sex from
marginals joined by a Gaussian copula with the stated correlations: a normal (``mean``, ``sd``),
a log-normal (``median``, ``cv_percent``) or a uniform (only ``min`` and ``max``) marginal, each
optionally truncated to [``min``, ``max``] by inverting the truncated distribution (no rejection
loop, so the number of random draws never depends on the values). Every population states its
``source`` (a survey, a trial's baseline table, or ``ASSUMED ...``).

Preset populations (``kind = "preset"``, or just ``preset = "adult-us-nhanes"``) use the built-in,
cited survey distributions of :mod:`ketasim.population.presets` (adult and paediatric NHANES).

CSV populations (``kind = "csv"``) resample rows of a file of real covariates with replacement
(``sample = "bootstrap"``) or take them in order, cycling (``sample = "sequential"``). Columns:
``weight_kg`` (required), ``age_years``, ``height_cm``, ``sex`` (female/male/F/M); any other
numeric column is passed to the model as a covariate under its own name.

Covariates are returned under the names model files use: ``WT`` (kg), ``AGE`` (years),
``HT`` (cm), ``FEMALE`` (0/1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtr, ndtri

from ketasim.errors import DataFileError, InputError
from ketasim.population.presets import Bounds, PresetPopulation, sample_preset
from ketasim.population.variability import as_generator
from ketasim.types import FloatArray

__all__ = [
    "CsvPopulation",
    "FixedPopulation",
    "Marginal",
    "Marginals",
    "ParametricPopulation",
    "PopulationSpec",
    "PresetPopulation",
    "read_covariate_csv",
    "sample_covariates",
]

_COVARIATES = ("weight_kg", "height_cm", "age_years")
_NAMES = {"weight_kg": "WT", "height_cm": "HT", "age_years": "AGE"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Marginal(_Strict):
    """One covariate's distribution: normal, log-normal or uniform, optionally truncated."""

    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)
    median: float | None = Field(default=None, gt=0)
    cv_percent: float | None = Field(default=None, gt=0)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Marginal:
        normal = self.mean is not None or self.sd is not None
        lognormal = self.median is not None or self.cv_percent is not None
        if normal and lognormal:
            raise ValueError(
                "give mean and sd (normal) or median and cv_percent (log-normal), not both"
            )
        if normal and (self.mean is None or self.sd is None):
            raise ValueError("a normal distribution needs both mean and sd")
        if lognormal and (self.median is None or self.cv_percent is None):
            raise ValueError("a log-normal distribution needs both median and cv_percent")
        if not normal and not lognormal and (self.min is None or self.max is None):
            raise ValueError("give mean and sd, median and cv_percent, or min and max (uniform)")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        return self

    def quantile(self, z: FloatArray) -> FloatArray:
        """Values whose (truncated) CDF equals ndtr(z), for standard normal scores ``z``."""
        u = ndtr(z)
        if self.mean is None and self.median is None:
            assert self.min is not None and self.max is not None
            return np.asarray(self.min + (self.max - self.min) * u, dtype=np.float64)
        if self.median is not None:
            sigma = float(np.sqrt(np.log1p((float(self.cv_percent or 0) / 100.0) ** 2)))
            loc = float(np.log(self.median))

            def to_score(v: float) -> float:
                return (np.log(v) - loc) / sigma if v > 0 else -np.inf

            def from_score(s: FloatArray) -> FloatArray:
                return np.asarray(np.exp(loc + sigma * s), dtype=np.float64)
        else:
            mean, sd = float(self.mean or 0.0), float(self.sd or 1.0)

            def to_score(v: float) -> float:
                return (v - mean) / sd

            def from_score(s: FloatArray) -> FloatArray:
                return np.asarray(mean + sd * s, dtype=np.float64)

        lo = ndtr(to_score(self.min)) if self.min is not None else 0.0
        hi = ndtr(to_score(self.max)) if self.max is not None else 1.0
        if lo == 0.0 and hi == 1.0:
            return from_score(z)
        u = np.clip(lo + u * (hi - lo), 1e-300, 1 - 1e-16)
        out = from_score(ndtri(u))
        return np.clip(
            out,
            self.min if self.min is not None else -np.inf,
            self.max if self.max is not None else np.inf,
        )


class Marginals(_Strict):
    """Weight (kg), height (cm) and age (years) distributions of one sex."""

    weight_kg: Marginal
    height_cm: Marginal | None = None
    age_years: Marginal | None = None


class Correlations(_Strict):
    """Correlations (of the normal scores) between covariates."""

    weight_height: float = Field(default=0.0, ge=-0.99, le=0.99)
    weight_age: float = Field(default=0.0, ge=-0.99, le=0.99)
    height_age: float = Field(default=0.0, ge=-0.99, le=0.99)


class ParametricPopulation(_Strict):
    """Correlated parametric covariates; ``female``/``male`` give per-sex marginals."""

    kind: Literal["parametric"]
    source: str = Field(min_length=3)
    female_fraction: float = Field(ge=0, le=1)
    female: Marginals
    male: Marginals
    correlations: Correlations = Correlations()


class CsvPopulation(_Strict):
    """Rows of a CSV of real covariates."""

    kind: Literal["csv"]
    path: str
    source: str = Field(min_length=3)
    sample: Literal["bootstrap", "sequential"] = "bootstrap"


class FixedPopulation(_Strict):
    """Every patient has the same covariates (variability then comes from the model alone)."""

    kind: Literal["fixed"]
    weight_kg: float = Field(gt=0)
    age_years: float | None = None
    height_cm: float | None = None
    sex: Literal["female", "male"] | None = None
    source: str = "fixed covariates stated in the spec"


PopulationSpec = ParametricPopulation | CsvPopulation | FixedPopulation | PresetPopulation


def read_covariate_csv(path: str | Path) -> dict[str, FloatArray]:
    """Read a CSV of real covariates into arrays named ``WT``, ``AGE``, ``HT``, ``FEMALE``, ..."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError("population.path", f"no such file: {p}")
    try:
        frame = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{p}: cannot read as CSV ({exc})") from None
    if "weight_kg" not in frame.columns:
        raise DataFileError(
            f"{p}: needs a weight_kg column; found {', '.join(frame.columns)}", column="weight_kg"
        )
    if frame.empty:
        raise DataFileError(f"{p}: no rows")
    out: dict[str, FloatArray] = {}
    for col in frame.columns:
        if col == "sex":
            sex = frame[col].astype(str).str.strip().str.lower()
            bad = ~sex.isin(["female", "male", "f", "m"])
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
                raise DataFileError(f"{p}: sex must be female/male/F/M", row=row, column="sex")
            out["FEMALE"] = np.asarray(sex.isin(["female", "f"]), dtype=np.float64)
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
        if np.any(~np.isfinite(values)):
            row = int(np.flatnonzero(~np.isfinite(values))[0]) + 2
            raise DataFileError(f"{p}: not a number", row=row, column=str(col))
        out[_NAMES.get(str(col), str(col))] = values
    if np.any(out["WT"] <= 0):
        row = int(np.flatnonzero(out["WT"] <= 0)[0]) + 2
        raise DataFileError(f"{p}: weight must be > 0 kg", row=row, column="weight_kg")
    return out


def _sample_parametric(
    pop: ParametricPopulation, n: int, gen: np.random.Generator
) -> dict[str, FloatArray]:
    c = pop.correlations
    R = np.array(
        [
            [1.0, c.weight_height, c.weight_age],
            [c.weight_height, 1.0, c.height_age],
            [c.weight_age, c.height_age, 1.0],
        ]
    )
    try:
        L = np.linalg.cholesky(R)
    except np.linalg.LinAlgError:
        raise InputError(
            "population.correlations",
            "the correlations are not a valid correlation matrix (not positive definite)",
        ) from None
    female = gen.random(n) < pop.female_fraction
    z = gen.standard_normal((n, 3)) @ L.T
    out: dict[str, FloatArray] = {"FEMALE": female.astype(np.float64)}
    for j, name in enumerate(_COVARIATES):
        marg_f = getattr(pop.female, name)
        marg_m = getattr(pop.male, name)
        if (marg_f is None) != (marg_m is None):
            raise InputError(f"population.{name}", "give it for both female and male or neither")
        if marg_f is None:
            continue
        values = np.empty(n)
        values[female] = marg_f.quantile(z[female, j])
        values[~female] = marg_m.quantile(z[~female, j])
        out[_NAMES[name]] = values
    return out


def sample_covariates(
    pop: PopulationSpec,
    n: int,
    rng: np.random.Generator | int | None,
    *,
    first: int = 0,
    csv_cache: Mapping[str, Mapping[str, FloatArray]] | None = None,
    bounds: Bounds | None = None,
) -> dict[str, FloatArray]:
    """Covariates of ``n`` virtual patients (arrays of shape (n,)), by model name (``WT``...).

    ``rng`` is the only source of randomness. ``first``: index of the first patient in the whole
    population (used by sequential CSV sampling). ``csv_cache`` maps a CSV path to its already
    read columns (to avoid re-reading the file per chunk). ``bounds``: covariate bounds of a
    preset population (:func:`ketasim.population.presets.preset_bounds`; ignored otherwise).
    """
    gen = as_generator(rng)
    if isinstance(pop, PresetPopulation):
        return sample_preset(pop, n, gen, bounds)
    if isinstance(pop, FixedPopulation):
        out: dict[str, FloatArray] = {"WT": np.full(n, pop.weight_kg)}
        if pop.age_years is not None:
            out["AGE"] = np.full(n, pop.age_years)
        if pop.height_cm is not None:
            out["HT"] = np.full(n, pop.height_cm)
        if pop.sex is not None:
            out["FEMALE"] = np.full(n, 1.0 if pop.sex == "female" else 0.0)
        return out
    if isinstance(pop, CsvPopulation):
        data = (csv_cache or {}).get(pop.path) or read_covariate_csv(pop.path)
        rows = next(iter(data.values())).size
        if pop.sample == "bootstrap":
            idx = gen.integers(0, rows, n)
        else:
            idx = (first + np.arange(n)) % rows
        return {k: np.asarray(v)[idx] for k, v in data.items()}
    return _sample_parametric(pop, n, gen)
