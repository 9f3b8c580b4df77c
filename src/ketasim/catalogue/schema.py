"""The schema of a model file: one published population PK model as data.

A model file is TOML. Its sections (all validated when the file is loaded):

- identity: ``id``, ``short_names`` (first author etc.), ``title``, ``drug``, ``population``,
  ``setting`` (optional: ``icu`` for a model built on intensive-care patients), ``sampling``,
  ``evidence`` (optional: primary / table-cited / composite / secondary), ``notes``;
- ``[citation]``: ``text``, ``doi``, ``pmid`` (absent = ``None``), ``verified`` (how the numbers
  were checked);
- ``[validity]``: covariate ranges the model was built on (``weight_kg``, ``age_years``,
  ``height_cm`` as ``{min, max}``; an unstated limit is absent, never a sentinel);
- ``[parameters.NAME]``: ``value``, ``unit``, ``source`` (each parameter carries its source);
- ``[derived]``: ``NAME = "expression"`` over parameters and covariates (``WT`` kg, ``AGE`` years,
  ``HT`` cm, ``FEMALE`` 0/1 and model-specific flags with ``[covariate_defaults]``);
- ``[iiv.NAME]``: inter-individual variability on a parameter or derived value (``cv_percent`` or
  ``omega_sq``; ``scale`` exponential/logit/additive) and ``[[iiv_correlations]]``;
- ``[iov.NAME]`` (optional): inter-occasion variability (same fields; ``omega_sq`` is the
  occasion variance, often printed as nu^2 or pi^2): on each occasion a new, independent
  ``kappa ~ N(0, omega_iov^2)`` adds to the parameter's eta (``P = TV x exp(eta + kappa)``), as
  in NONMEM's OCC convention (Karlsson & Sheiner, J Pharmacokinet Biopharm 1993;21:735-750);
- ``[residual_error.ANALYTE]``: ``proportional_percent`` / ``additive_ng_per_ml`` (absent if the
  paper publishes none);
- ``[[analytes]]``, ``[[compartments]]``, ``[[flows]]``, ``[[effect_sites]]``, ``[[routes]]``: the
  structure (see the classes below);
- ``[[studied]]`` (optional): the regimens the model was built on (route, bolus/infusion, dose or
  rate ranges), so that runs outside them are flagged.

Parameter values are converted to ketasim's internal units (mg, L, min) when loaded, so every
expression works in internal units.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ketasim.expressions import Expression, ExpressionError, compile_expression
from ketasim.units import dimension_of

if TYPE_CHECKING:  # numpy is imported where a matrix is built, not when the catalogue is read
    from ketasim.types import FloatArray

__all__ = [
    "IIV",
    "IOV",
    "Analyte",
    "Citation",
    "Compartment",
    "EffectSite",
    "Flow",
    "IIVCorrelation",
    "ModelSpec",
    "Parameter",
    "Range",
    "ResidualError",
    "Route",
    "RouteInput",
    "Studied",
]

ROUTE_NAMES = (
    "iv",
    "im",
    "intranasal",
    "oral",
    "sublingual",
    "rectal",
    "buccal",
    "inhaled",
    "subcutaneous",
)
KNOWN_COVARIATES = ("WT", "AGE", "HT", "FEMALE")
ROUTE_VARIABLES = ("DOSE_MG",)
TIME_VARIABLES = ("TAFD_MIN",)
"""``TAFD_MIN``: time after the first dose (min, internal units), for parameters that change
with time (Flint 2017's S-norketamine clearance); 0 until the first dose. A model whose
``[derived]`` uses it is time-varying (:attr:`ModelSpec.time_varying`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_expression(text: str) -> str:
    try:
        Expression(text)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    return text


class Citation(_Strict):
    """Bibliographic source of a model."""

    text: str = Field(min_length=10)
    doi: str | None = None
    pmid: str | None = None
    verified: str = Field(min_length=5, description="How the numbers were checked against it.")


class Range(_Strict):
    """A closed interval; an unstated bound is ``None``."""

    min: float | None = None
    max: float | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within the range (inclusive)."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        """Human-readable range, e.g. ``'10.8 to 74.8'`` or ``'>= 18'``."""
        if self.min is not None and self.max is not None:
            return f"{self.min:g} to {self.max:g}"
        if self.min is not None:
            return f">= {self.min:g}"
        if self.max is not None:
            return f"<= {self.max:g}"
        return "any"


class Parameter(_Strict):
    """A published parameter value with its unit and source."""

    value: float
    unit: str
    source: str = Field(min_length=3)
    rse_percent: float | None = None
    note: str | None = None

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        dimension_of(unit)
        return unit


class IIV(_Strict):
    """Inter-individual variability on one parameter.

    ``exponential``: P_i = P * exp(eta); ``logit``: logit(P_i) = logit(P) + eta;
    ``additive``: P_i = P + eta. eta ~ N(0, omega^2). Give ``omega_sq`` or ``cv_percent``
    (for exponential, omega^2 = log(1 + CV^2); otherwise omega = CV/100 as printed).
    """

    cv_percent: float | None = Field(default=None, gt=0)
    omega_sq: float | None = Field(default=None, gt=0)
    scale: Literal["exponential", "logit", "additive"] = "exponential"
    source: str = Field(min_length=3)
    assumed: bool = False

    @model_validator(mode="after")
    def _one_size(self) -> IIV:
        if (self.cv_percent is None) == (self.omega_sq is None):
            raise ValueError("give exactly one of cv_percent or omega_sq")
        return self

    def variance(self) -> float:
        """omega^2 of this eta: ``omega_sq``, or from ``cv_percent`` by the rule above."""
        if self.omega_sq is not None:
            return float(self.omega_sq)
        cv = float(self.cv_percent or 0.0) / 100.0
        return math.log1p(cv**2) if self.scale == "exponential" else cv**2


class IOV(IIV):
    """Inter-occasion variability on one parameter: a new kappa on each occasion.

    Same fields as :class:`IIV`; ``omega_sq`` (or ``cv_percent``) is the variance of kappa on
    one occasion. Occasion kappas are independent of each other, of the other parameters'
    kappas and of the etas; P_ik = P * exp(eta_i + kappa_ik) (or the logit / additive analogue).
    """


class IIVCorrelation(_Strict):
    """Correlation between the etas of two parameters."""

    a: str
    b: str
    r: float = Field(ge=-1, le=1)
    source: str = Field(min_length=3)


class ResidualError(_Strict):
    """Residual (unexplained) error of one analyte's measured concentration."""

    proportional_percent: float | None = Field(default=None, ge=0)
    additive_ng_per_ml: float | None = Field(default=None, ge=0)
    log_scale: bool = False
    source: str = Field(min_length=3)


class Analyte(_Strict):
    """A measured chemical species."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    molecular_weight_g_per_mol: float = Field(gt=0)


class Compartment(_Strict):
    """A state holding an amount (mg of ``analyte``).

    ``volume`` is an expression (L); a compartment with ``observed`` is where the analyte's
    concentration is read (``observed = "plasma"``).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    analyte: str | None = None
    volume: str | None = None
    observed: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    description: str | None = None

    _v = field_validator("volume")(lambda cls, v: v if v is None else _check_expression(v))


class Flow(_Strict):
    """A first-order transfer ``from`` -> ``to`` (``to`` absent: elimination).

    Give ``rate`` (1/min) or ``clearance`` (L/min, divided by the source compartment's volume).
    ``conversion = "molar"`` converts mass between analytes by the molecular-weight ratio
    (default when the analytes differ); ``"none"`` keeps the mass (apparent metabolite models).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from")
    to: str | None = None
    rate: str | None = None
    clearance: str | None = None
    conversion: Literal["molar", "none"] | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> Flow:
        if (self.rate is None) == (self.clearance is None):
            raise ValueError("give exactly one of rate or clearance")
        _check_expression(self.rate or self.clearance or "")
        return self


class EffectSite(_Strict):
    """An effect compartment linked to an analyte's plasma concentration by ``ke0`` (1/min)."""

    analyte: str
    ke0: str
    source: str = Field(min_length=3)
    assumed: bool = Field(
        description="True when ke0 is not from a PK/PD analysis (e.g. derived from an assumed "
        "time to peak)."
    )
    _k = field_validator("ke0")(lambda cls, v: _check_expression(v))


class RouteInput(_Strict):
    """Where a dose by this route goes: a ``fraction`` of it into ``compartment``.

    ``duration`` (min): modelled zero-order input into the compartment (NONMEM RATE=-2);
    ``lag`` (min): absorption lag time; ``rate`` (mg/min, optional): modelled zero-order rate,
    used by event-table doses with RATE = -1 (NONMEM R1). All are expressions and may use
    ``DOSE_MG``.
    ``split`` (optional, default false): the fraction divides the administered drug into parts
    (e.g. the S- and R-enantiomers of a racemate) rather than being a bioavailability, so an
    infusion keeps its duration and its rate is scaled (instead of NONMEM's shortened duration).
    """

    compartment: str
    fraction: str = "1"
    duration: str | None = None
    lag: str | None = None
    rate: str | None = None
    split: bool = False

    @model_validator(mode="after")
    def _expressions(self) -> RouteInput:
        for text in (self.fraction, self.duration, self.lag, self.rate):
            if text is not None:
                _check_expression(text)
        return self


class Route(_Strict):
    """A route of administration the model supports."""

    name: Literal[
        "iv",
        "im",
        "intranasal",
        "oral",
        "sublingual",
        "rectal",
        "buccal",
        "inhaled",
        "subcutaneous",
    ]
    inputs: list[RouteInput] = Field(min_length=1)
    source: str = Field(min_length=3)
    note: str | None = None


class Studied(_Strict):
    """A regimen a model was built on (optional): runs outside every entry get a finding.

    ``regimen``: ``bolus`` (no infusion duration), ``infusion`` or ``any``; the dose ranges are
    per administration (``dose_mg``, ``dose_mg_per_kg``) or, for infusions, the rate
    (``rate_mg_per_kg_per_h``); an unstated range is not checked.
    """

    route: Literal[
        "iv",
        "im",
        "intranasal",
        "oral",
        "sublingual",
        "rectal",
        "buccal",
        "inhaled",
        "subcutaneous",
    ]
    regimen: Literal["bolus", "infusion", "any"] = "any"
    dose_mg: Range | None = None
    dose_mg_per_kg: Range | None = None
    rate_mg_per_kg_per_h: Range | None = None
    caution: str | None = Field(default=None, description="what goes wrong outside this regimen")
    source: str = Field(min_length=3)


class ModelSpec(_Strict):
    """A whole model file, validated."""

    schema_version: Literal[1] = 1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    short_names: list[str] = Field(min_length=1)
    title: str
    drug: Literal["racemic ketamine", "S-ketamine", "R-ketamine", "esketamine"]
    population: str
    setting: Literal["general", "icu"] = Field(
        default="general",
        description="Care setting of the population the model was built on: 'icu' for "
        "intensive-care patients (such a model is left out of patient-based selection unless "
        "ICU is asked for: `models --population icu`, `compare --all --population icu`).",
    )
    sampling: Literal["arterial", "venous", "not stated"] = "not stated"
    evidence: Literal["primary", "table-cited", "composite", "secondary"] | None = Field(
        default=None,
        description="How the numbers were read (optional): 'primary' in the paper or its "
        "abstract; 'table-cited' in code citing the paper's table entry by entry; 'composite' "
        "assembled from several papers; 'secondary' from a peer tool without the primary read.",
    )
    notes: list[str] = Field(default_factory=list)
    citation: Citation
    validity: dict[Literal["weight_kg", "age_years", "height_cm"], Range] = Field(
        default_factory=dict
    )
    covariate_defaults: dict[str, float] = Field(default_factory=dict)
    parameters: dict[str, Parameter]
    derived: dict[str, str] = Field(default_factory=dict)
    iiv: dict[str, IIV] = Field(default_factory=dict)
    iiv_correlations: list[IIVCorrelation] = Field(default_factory=list)
    iov: dict[str, IOV] = Field(default_factory=dict)
    residual_error: dict[str, ResidualError] = Field(default_factory=dict)
    analytes: list[Analyte] = Field(min_length=1)
    compartments: list[Compartment] = Field(min_length=1)
    flows: list[Flow] = Field(min_length=1)
    effect_sites: list[EffectSite] = Field(default_factory=list)
    routes: list[Route] = Field(min_length=1)
    studied: list[Studied] = Field(default_factory=list)

    @field_validator("derived")
    @classmethod
    def _derived_expressions(cls, derived: dict[str, str]) -> dict[str, str]:
        for text in derived.values():
            _check_expression(text)
        return derived

    @model_validator(mode="after")
    def _references(self) -> ModelSpec:
        analytes = {a.name for a in self.analytes}
        comps = {c.name: c for c in self.compartments}
        if len(comps) != len(self.compartments):
            raise ValueError("compartments: duplicate names")
        defined = set(self.parameters)
        for name, text in self.derived.items():
            if name in self.parameters:
                raise ValueError(f"derived.{name}: also defined as a parameter")
            unknown = (
                Expression(text).names
                - defined
                - set(KNOWN_COVARIATES)
                - set(self.covariate_defaults)
                - set(TIME_VARIABLES)
            )
            if unknown:
                raise ValueError(f"derived.{name}: unknown names {sorted(unknown)}")
            defined.add(name)
        scope = defined | set(KNOWN_COVARIATES) | set(self.covariate_defaults)
        timed = {n for n, t in self.derived.items() if Expression(t).names & set(TIME_VARIABLES)}
        for r in self.routes:  # doses are resolved once: their expressions may not vary in time
            for inp in r.inputs:
                for expr in (inp.fraction, inp.duration, inp.lag, inp.rate):
                    if expr is not None and Expression(expr).names & (timed | set(TIME_VARIABLES)):
                        raise ValueError(
                            f"routes.{r.name}: a route input may not depend on TAFD_MIN"
                        )

        def check(where: str, text: str | None, extra: tuple[str, ...] = ()) -> None:
            if text is None:
                return
            unknown = Expression(text).names - scope - set(extra)
            if unknown:
                raise ValueError(f"{where}: unknown names {sorted(unknown)}")

        for c in self.compartments:
            if c.analyte is not None and c.analyte not in analytes:
                raise ValueError(f"compartments.{c.name}.analyte: unknown analyte {c.analyte!r}")
            if c.observed is not None and (c.volume is None or c.analyte is None):
                raise ValueError(
                    f"compartments.{c.name}: an observed compartment needs an analyte and a volume"
                )
            check(f"compartments.{c.name}.volume", c.volume)
        for i, f in enumerate(self.flows):
            if f.from_ not in comps:
                raise ValueError(f"flows[{i}].from: unknown compartment {f.from_!r}")
            if f.to is not None and f.to not in comps:
                raise ValueError(f"flows[{i}].to: unknown compartment {f.to!r}")
            if f.clearance is not None and comps[f.from_].volume is None:
                raise ValueError(f"flows[{i}]: a clearance needs a volume on {f.from_!r}")
            check(f"flows[{i}]", f.rate or f.clearance)
        for a in analytes:
            observed = [c for c in self.compartments if c.analyte == a and c.observed == "plasma"]
            if len(observed) != 1:
                raise ValueError(
                    f"analyte {a!r}: needs exactly one compartment with observed = 'plasma'"
                )
        for e in self.effect_sites:
            if e.analyte not in analytes:
                raise ValueError(f"effect_sites: unknown analyte {e.analyte!r}")
            check(f"effect_sites.{e.analyte}.ke0", e.ke0)
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError("routes: duplicate route names")
        for r in self.routes:
            for inp in r.inputs:
                if inp.compartment not in comps:
                    raise ValueError(f"routes.{r.name}: unknown compartment {inp.compartment!r}")
                for expr in (inp.fraction, inp.duration, inp.lag):
                    check(f"routes.{r.name}", expr, ROUTE_VARIABLES)
        for name in self.iiv:
            if name not in defined:
                raise ValueError(f"iiv.{name}: not a parameter or derived value")
        for name, entry in self.iov.items():
            if name not in defined:
                raise ValueError(f"iov.{name}: not a parameter or derived value")
            if name in self.iiv and self.iiv[name].scale != entry.scale:
                raise ValueError(
                    f"iov.{name}: scale {entry.scale!r} differs from the iiv "
                    f"scale {self.iiv[name].scale!r} (eta and kappa add)"
                )
        for corr in self.iiv_correlations:
            for n in (corr.a, corr.b):
                if n not in self.iiv:
                    raise ValueError(f"iiv_correlations: {n!r} has no iiv entry")
        for a in self.residual_error:
            if a not in analytes:
                raise ValueError(f"residual_error.{a}: unknown analyte")
        return self

    def omega(self) -> tuple[list[str], FloatArray]:
        """Names (file order) and covariance matrix of the model's etas (empty if none)."""
        import numpy as np

        names = list(self.iiv)
        matrix = np.diag([self.iiv[n].variance() for n in names]) if names else np.zeros((0, 0))
        for c in self.iiv_correlations:
            i, j = names.index(c.a), names.index(c.b)
            matrix[i, j] = matrix[j, i] = c.r * np.sqrt(matrix[i, i] * matrix[j, j])
        return names, matrix

    def iov_variances(self) -> dict[str, float]:
        """Occasion variance (omega_iov^2) of each parameter with inter-occasion variability."""
        return {name: entry.variance() for name, entry in self.iov.items()}

    def variability_scale(self, name: str) -> str:
        """The scale (exponential, logit, additive) on which ``name``'s random effects act."""
        entry = self.iiv.get(name) or self.iov.get(name)
        if entry is None:
            raise KeyError(name)
        return entry.scale

    @property
    def time_varying(self) -> bool:
        """Whether a derived value depends on the time after the first dose (``TAFD_MIN``)."""
        return any(compile_expression(t).names & set(TIME_VARIABLES) for t in self.derived.values())

    @property
    def analyte_names(self) -> list[str]:
        """Analyte names in file order (parent first)."""
        return [a.name for a in self.analytes]

    @property
    def route_names(self) -> list[str]:
        """Names of the routes this model supports."""
        return [r.name for r in self.routes]

    def route(self, name: str) -> Route:
        """The route called ``name``; KeyError if the model does not support it."""
        for r in self.routes:
            if r.name == name:
                return r
        raise KeyError(name)
