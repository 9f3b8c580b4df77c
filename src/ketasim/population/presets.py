"""Built-in covariate distributions (presets) with their sources: ``population.preset = "..."``.

A preset file (``population/data/<id>.toml``) holds the published summary of one survey: per sex
and age band, the number examined, the mean and the percentiles of weight (kg), standing height
(cm) and body mass index, copied from the report with its table numbers. Distribution parameters
are *fitted* from those percentiles when the file is loaded, so that the file holds only
published numbers:

- weight: log-normal, ``ln W = mu + s z`` fitted by least squares to the percentiles' normal scores
  ``z`` (percentiles the report does not show are ``nan`` and skipped);
- height: normal, fitted the same way;
- weight-height correlation ``r`` (of the normal scores of ln W and H): derived from the BMI
  percentiles of the same table, since ``ln BMI = ln W - 2 ln H`` gives
  ``r = (s_W^2 + 4 s_H^2 - s_B^2) / (4 s_W s_H)`` with the fitted SDs of ln W, ln H and ln BMI;
- age: uniform over the requested age range (ASSUMED; the reports give no weighted age
  distribution), and each patient's weight and height follow the band of their age.

Model validity (:func:`preset_bounds`): ``validity = "truncate"`` (default) truncates each
marginal to the covariate ranges of every arm's model (inverse CDF of the truncated distribution,
no rejection loop); ``"refuse"`` raises an error naming the covariate when more than
``max_outside_percent`` of a band lies outside a model's range; ``"ignore"`` samples the preset as
published (patients outside are counted in a finding).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.special import ndtr, ndtri

from ketasim.catalogue.schema import Citation, ModelSpec
from ketasim.errors import DataFileError, InputError
from ketasim.types import FloatArray

__all__ = [
    "CovariatePreset",
    "FittedBand",
    "PresetPopulation",
    "available_presets",
    "load_preset",
    "preset_bounds",
    "sample_preset",
]

Bounds = Mapping[str, tuple[float, float]]
_COVARIATES = ("weight_kg", "height_cm", "age_years")
_MIN_MASS_INSIDE = 1e-3  # a band must keep at least 0.1% of its distribution inside the bounds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PresetPopulation(_Strict):
    """``[population]`` with ``preset = "<id>"`` (``kind = "preset"`` is implied)."""

    kind: Literal["preset"]
    preset: str = Field(min_length=1)
    age_years: tuple[float, float] | None = Field(
        default=None, description="restrict ages to [min, max) years (default: the preset's)"
    )
    female_fraction: float = Field(
        default=0.5, ge=0, le=1, description="default 0.5 is ASSUMED (see the preset file)"
    )
    validity: Literal["truncate", "refuse", "ignore"] = "truncate"
    max_outside_percent: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="validity = 'refuse': tolerated percentage "
        "of a band outside a model's covariate range",
    )

    @model_validator(mode="after")
    def _ages(self) -> PresetPopulation:
        if self.age_years is not None and not self.age_years[0] < self.age_years[1]:
            raise ValueError(f"age_years {list(self.age_years)}: give [min, max] with min < max")
        return self

    @property
    def source(self) -> str:
        """Citation of the preset, and the assumptions the sampling adds."""
        p = load_preset(self.preset)
        assumed = (
            " (female_fraction 0.5 ASSUMED)"
            if "female_fraction" not in self.model_fields_set
            else ""
        )
        return (
            f"preset {p.id}: {p.citation.text}; DOI {p.citation.doi}; age uniform over "
            f"the age range (ASSUMED){assumed}"
        )


class _Summary(_Strict):
    n: int = Field(gt=0)
    mean: float = Field(gt=0)
    se_mean: float = Field(ge=0)
    percentiles: list[float]


class _Band(_Strict):
    sex: Literal["female", "male"]
    label: str
    age_years: tuple[float, float]
    weight_kg: _Summary
    height_cm: _Summary
    bmi_kg_per_m2: _Summary


class _PresetFile(_Strict):
    schema_version: Literal[1]
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    percentiles: list[float] = Field(min_length=3)
    not_found: list[str] = Field(default_factory=list)
    citation: Citation
    method: dict[str, str]
    bands: list[_Band] = Field(min_length=1)


@dataclass(frozen=True)
class FittedBand:
    """One sex and age band: log-normal weight (``weight_mu``, ``weight_sigma`` of ln kg),
    normal height (``height_mean_cm``, ``height_sd_cm``), correlation ``rho`` of their normal
    scores, and the largest relative misfit of the fitted to the published percentiles."""

    sex: str
    label: str
    age_min: float
    age_max: float
    weight_mu: float
    weight_sigma: float
    height_mean_cm: float
    height_sd_cm: float
    rho: float
    max_misfit: float

    def weight_quantile(self, z: FloatArray, lo: float = 0.0, hi: float = math.inf) -> FloatArray:
        """Weights (kg) for normal scores ``z``, truncated to [lo, hi] by inverse CDF."""
        a = _ndtr_log(lo, self.weight_mu, self.weight_sigma)
        b = _ndtr_log(hi, self.weight_mu, self.weight_sigma)
        u = np.clip(a + ndtr(z) * (b - a), 1e-300, 1 - 1e-16)
        return np.asarray(
            np.clip(np.exp(self.weight_mu + self.weight_sigma * ndtri(u)), lo, hi), dtype=np.float64
        )

    def height_quantile(
        self, z: FloatArray, lo: float = -math.inf, hi: float = math.inf
    ) -> FloatArray:
        """Heights (cm) for normal scores ``z``, truncated to [lo, hi] by inverse CDF."""
        a = float(ndtr((lo - self.height_mean_cm) / self.height_sd_cm))
        b = float(ndtr((hi - self.height_mean_cm) / self.height_sd_cm))
        u = np.clip(a + ndtr(z) * (b - a), 1e-300, 1 - 1e-16)
        return np.asarray(
            np.clip(self.height_mean_cm + self.height_sd_cm * ndtri(u), lo, hi), dtype=np.float64
        )

    def mass_inside(self, name: str, lo: float, hi: float) -> float:
        """Fraction of the band's ``weight_kg`` or ``height_cm`` distribution in [lo, hi]."""
        if name == "weight_kg":
            return _ndtr_log(hi, self.weight_mu, self.weight_sigma) - _ndtr_log(
                lo, self.weight_mu, self.weight_sigma
            )
        return float(
            ndtr((hi - self.height_mean_cm) / self.height_sd_cm)
            - ndtr((lo - self.height_mean_cm) / self.height_sd_cm)
        )


def _ndtr_log(v: float, mu: float, sigma: float) -> float:
    if v <= 0:
        return 0.0
    if math.isinf(v):
        return 1.0
    return float(ndtr((math.log(v) - mu) / sigma))


@dataclass(frozen=True)
class CovariatePreset:
    """A loaded preset: its file's citation and notes, and the fitted bands."""

    id: str
    title: str
    citation: Citation
    method: Mapping[str, str]
    not_found: tuple[str, ...]
    bands: tuple[FittedBand, ...]

    @property
    def age_range(self) -> tuple[float, float]:
        """Youngest and oldest age (years) the preset covers, [min, max)."""
        return min(b.age_min for b in self.bands), max(b.age_max for b in self.bands)


def _fit(
    percentiles: Sequence[float], z: FloatArray, log: bool, where: str
) -> tuple[float, float, float]:
    p = np.asarray(percentiles, dtype=np.float64)
    ok = np.isfinite(p)
    if ok.sum() < 3 or np.any(p[ok] <= 0):
        raise DataFileError(f"{where}: need at least 3 positive percentiles")
    y = np.log(p[ok]) if log else p[ok]
    design = np.column_stack([np.ones(int(ok.sum())), z[ok]])
    (loc, scale), *_ = np.linalg.lstsq(design, y, rcond=None)
    if not scale > 0:
        raise DataFileError(f"{where}: percentiles do not increase")
    fitted = np.exp(loc + scale * z[ok]) if log else loc + scale * z[ok]
    return float(loc), float(scale), float(np.max(np.abs(fitted / p[ok] - 1.0)))


def _fit_band(band: _Band, z: FloatArray, where: str) -> FittedBand:
    w_mu, w_s, w_err = _fit(band.weight_kg.percentiles, z, True, f"{where}.weight_kg")
    h_mean, h_sd, h_err = _fit(band.height_cm.percentiles, z, False, f"{where}.height_cm")
    _, h_slog, _ = _fit(band.height_cm.percentiles, z, True, f"{where}.height_cm")
    _, b_s, _ = _fit(band.bmi_kg_per_m2.percentiles, z, True, f"{where}.bmi_kg_per_m2")
    rho = (w_s**2 + 4 * h_slog**2 - b_s**2) / (4 * w_s * h_slog)
    if not -0.99 <= rho <= 0.99:
        raise DataFileError(
            f"{where}: derived weight-height correlation {rho:.2f} is not a valid correlation"
        )
    return FittedBand(
        band.sex,
        band.label,
        band.age_years[0],
        band.age_years[1],
        w_mu,
        w_s,
        h_mean,
        h_sd,
        float(rho),
        max(w_err, h_err),
    )


def available_presets() -> list[str]:
    """Ids of the built-in presets."""
    root = resources.files("ketasim.population") / "data"
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


@cache
def load_preset(name: str) -> CovariatePreset:
    """Load and fit a built-in preset; :class:`InputError` (``population.preset``) if unknown."""
    known = available_presets()
    if name not in known:
        raise InputError(
            "population.preset", f"unknown preset {name!r}; available: {', '.join(known)}"
        )
    path = resources.files("ketasim.population") / "data" / f"{name}.toml"
    try:
        raw = _PresetFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise DataFileError(f"preset {name}: invalid file ({exc})") from None
    z = ndtri(np.asarray(raw.percentiles, dtype=np.float64) / 100.0)
    bands = tuple(_fit_band(b, z, f"{name}.bands[{i}]") for i, b in enumerate(raw.bands))
    for sex in ("female", "male"):
        edges = sorted((b.age_min, b.age_max) for b in bands if b.sex == sex)
        if not edges or any(a[1] != b[0] for a, b in pairwise(edges)):
            raise DataFileError(f"preset {name}: {sex} age bands must be contiguous")
    return CovariatePreset(
        raw.id, raw.title, raw.citation, dict(raw.method), tuple(raw.not_found), bands
    )


def _model_range(model: ModelSpec, name: str) -> tuple[float, float]:
    rng = model.validity.get(name)  # type: ignore[call-overload]
    if rng is None:
        return -math.inf, math.inf
    return (
        rng.min if rng.min is not None else -math.inf,
        rng.max if rng.max is not None else math.inf,
    )


def preset_bounds(
    pop: PresetPopulation, models: Sequence[ModelSpec]
) -> dict[str, tuple[float, float]]:
    """Covariate bounds to sample within, checked against every model's validity range.

    Returns ``{"age_years": (lo, hi), "weight_kg": (lo, hi), "height_cm": (lo, hi)}``: the
    requested ages, narrowed (``truncate``) to the models' ranges. Raises :class:`InputError`
    naming the field when ``refuse`` finds too much of the preset outside a model's range, or
    when truncation leaves (almost) nothing of a band.
    """
    preset = load_preset(pop.preset)
    p_lo, p_hi = preset.age_range
    a_lo, a_hi = pop.age_years if pop.age_years is not None else (p_lo, p_hi)
    if a_lo < p_lo or a_hi > p_hi:
        raise InputError(
            "population.age_years",
            f"[{a_lo:g}, {a_hi:g}) lies outside preset "
            f"{preset.id}'s ages [{p_lo:g}, {p_hi:g}) years",
        )
    bounds = {"age_years": (a_lo, a_hi), "weight_kg": (0.0, math.inf), "height_cm": (0.0, math.inf)}
    if pop.validity == "ignore":
        return bounds
    for model in models:
        for name in _COVARIATES:
            m_lo, m_hi = _model_range(model, name)
            lo, hi = bounds[name]
            if pop.validity == "truncate":
                bounds[name] = (max(lo, m_lo), min(hi, m_hi))
                continue
            _refuse(pop, preset, model, name, (m_lo, m_hi), (a_lo, a_hi))
    a_lo, a_hi = bounds["age_years"]
    if not a_lo < a_hi:
        raise InputError(
            "population.age_years",
            f"preset {preset.id} ages [{p_lo:g}, "
            f"{p_hi:g}) years do not overlap the models' age ranges "
            f"({_ranges(models, 'age_years')})",
        )
    for band in _bands_in(preset, a_lo, a_hi):
        for name in ("weight_kg", "height_cm"):
            lo, hi = bounds[name]
            if band.mass_inside(name, lo, hi) < _MIN_MASS_INSIDE:
                raise InputError(
                    f"population.{name}",
                    f"preset {preset.id} band {band.sex} "
                    f"{band.label} has almost no {name} inside the models' range "
                    f"{lo:g}-{hi:g} ({_ranges(models, name)}); restrict "
                    "population.age_years",
                )
    return bounds


def _ranges(models: Sequence[ModelSpec], name: str) -> str:
    parts = []
    for m in models:
        lo, hi = _model_range(m, name)
        parts.append(f"{m.id}: {lo:g}-{hi:g}")
    return "; ".join(parts)


def _bands_in(preset: CovariatePreset, lo: float, hi: float) -> list[FittedBand]:
    return [b for b in preset.bands if b.age_max > lo and b.age_min < hi]


def _refuse(
    pop: PresetPopulation,
    preset: CovariatePreset,
    model: ModelSpec,
    name: str,
    model_range: tuple[float, float],
    ages: tuple[float, float],
) -> None:
    m_lo, m_hi = model_range
    tolerance = pop.max_outside_percent
    if name == "age_years":
        span = ages[1] - ages[0]
        outside = (
            (max(0.0, min(ages[1], m_lo) - ages[0]) + max(0.0, ages[1] - max(ages[0], m_hi)))
            / span
            * 100.0
        )
        if outside > tolerance:
            raise InputError(
                "population.age_years",
                f"{outside:.1f}% of ages [{ages[0]:g}, "
                f"{ages[1]:g}) lie outside model {model.id}'s validity range "
                f"{m_lo:g}-{m_hi:g} years (validity = 'refuse', tolerated "
                f"{tolerance:g}%)",
            )
        return
    for band in _bands_in(preset, *ages):
        outside = (1.0 - band.mass_inside(name, m_lo, m_hi)) * 100.0
        if outside > tolerance:
            raise InputError(
                f"population.{name}",
                f"{outside:.1f}% of preset {preset.id} "
                f"band {band.sex} {band.label} lies outside model {model.id}'s "
                f"validity range {m_lo:g}-{m_hi:g} (validity = 'refuse', "
                f"tolerated {tolerance:g}%)",
            )


def sample_preset(
    pop: PresetPopulation, n: int, gen: np.random.Generator, bounds: Bounds | None = None
) -> dict[str, FloatArray]:
    """Covariates ``WT``, ``HT``, ``AGE``, ``FEMALE`` of ``n`` patients from a preset.

    ``bounds`` (from :func:`preset_bounds`; default: the requested ages, no truncation). The
    random draws (sex, age, two normal scores per patient) never depend on the values.
    """
    preset = load_preset(pop.preset)
    b = dict(bounds) if bounds is not None else {}
    if "age_years" not in b:
        b["age_years"] = pop.age_years if pop.age_years is not None else preset.age_range
    a_lo, a_hi = b["age_years"]
    w_lo, w_hi = b.get("weight_kg", (0.0, math.inf))
    h_lo, h_hi = b.get("height_cm", (0.0, math.inf))
    female = gen.random(n) < pop.female_fraction
    age = a_lo + (a_hi - a_lo) * gen.random(n)
    z = gen.standard_normal((n, 2))
    weight = np.empty(n)
    height = np.empty(n)
    for band in _bands_in(preset, a_lo, a_hi):
        sel = (female == (band.sex == "female")) & (age >= band.age_min) & (age < band.age_max)
        if not sel.any():
            continue
        z_w = z[sel, 0]
        z_h = band.rho * z_w + math.sqrt(1.0 - band.rho**2) * z[sel, 1]
        weight[sel] = band.weight_quantile(z_w, w_lo, w_hi)
        height[sel] = band.height_quantile(z_h, h_lo, h_hi)
    return {"FEMALE": female.astype(np.float64), "WT": weight, "HT": height, "AGE": age}
