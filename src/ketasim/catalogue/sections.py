"""The sections of a model file: citation, ranges, parameters, variability, structure, routes.

Each class validates one table of a model file (see :mod:`ketasim.catalogue.schema` for the file
format and :class:`~ketasim.catalogue.schema.ModelSpec` for the whole file and the checks that
span sections). Importing them from :mod:`ketasim.catalogue.schema` keeps working.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ketasim.expressions import Expression, ExpressionError
from ketasim.units import dimension_of

__all__ = [
    "IIV",
    "IOV",
    "KNOWN_COVARIATES",
    "ROUTE_NAMES",
    "ROUTE_VARIABLES",
    "TIME_VARIABLES",
    "Analyte",
    "Citation",
    "Compartment",
    "EffectSite",
    "Flow",
    "IIVCorrelation",
    "Parameter",
    "Range",
    "ResidualError",
    "Route",
    "RouteInput",
    "RouteName",
    "Studied",
]

RouteName = Literal[
    "iv", "im", "intranasal", "oral", "sublingual", "rectal", "buccal", "inhaled", "subcutaneous"
]
ROUTE_NAMES: tuple[str, ...] = get_args(RouteName)
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

    name: RouteName
    inputs: list[RouteInput] = Field(min_length=1)
    source: str = Field(min_length=3)
    note: str | None = None


class Studied(_Strict):
    """A regimen a model was built on (optional): runs outside every entry get a finding.

    ``regimen``: ``bolus`` (no infusion duration), ``infusion`` or ``any``; the dose ranges are
    per administration (``dose_mg``, ``dose_mg_per_kg``) or, for infusions, the rate
    (``rate_mg_per_kg_per_h``); an unstated range is not checked.
    """

    route: RouteName
    regimen: Literal["bolus", "infusion", "any"] = "any"
    dose_mg: Range | None = None
    dose_mg_per_kg: Range | None = None
    rate_mg_per_kg_per_h: Range | None = None
    caution: str | None = Field(default=None, description="what goes wrong outside this regimen")
    source: str = Field(min_length=3)
