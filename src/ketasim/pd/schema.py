"""Schema of a pharmacodynamic (PD) model file (``src/ketasim/pd/data/*.toml``).

A PD model file holds one published concentration-effect analysis:

- ``[citation]``: the PD paper (same fields as the PK catalogue's citation);
- ``[effect_site]``: the link to a PK model's plasma concentration, ``dCe/dt = ke0 (Cp - Ce)``,
  with ``t_half_ke0`` (or ``ke0``) *from the PD paper*. ``t_half_ke0`` absent means the paper's
  link was not found: the effect is then driven by plasma concentration and the result carries
  a finding saying so (no time-to-peak assumption is ever made);
- ``[[endpoints]]``: one per response, each a ``kind`` with its parameters. A parameter the paper
  does not give (or that was not found) is simply absent and listed in ``not_found``.

Kinds (``C`` = effect-site concentration of ``analyte``):

- ``sigmoid_emax``: ``E = E0 + Emax C^g / (C50^g + C^g)`` (``Emax`` < 0 for a fall);
- ``fractional_inhibitory``: ``E = E0 (1 - Imax C^g / (C50^g + C^g))`` (Herd 2008 sedation);
- ``probability``: ``P = C^g / (C50^g + C^g)`` (the logistic model on log concentration);
- ``linear``: ``E = E0 + sum_i slope_i C_i`` over one or more analytes (Noppers 2012).

Without a Hill coefficient ``gamma`` (when it was not found) a sigmoid endpoint reports
``C / C50`` only, never an invented slope.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ketasim.catalogue.schema import Citation
from ketasim.units import dimension_of

__all__ = ["EffectSiteLink", "Endpoint", "PDModelSpec", "PDParameter", "Slope"]

EndpointKind = Literal["sigmoid_emax", "fractional_inhibitory", "probability", "linear"]
AnalyteRole = Literal["ketamine", "norketamine"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PDParameter(_Strict):
    """A numeric parameter with its unit and source."""

    value: float
    unit: str = ""
    source: str = Field(min_length=5)
    spread: str | None = Field(default=None, description="CI, SD or CV as printed in the source")
    iiv_cv_percent: float | None = Field(
        default=None,
        gt=0,
        description="between-subject CV (%) as reported; sampled log-normal "
        "(omega^2 = ln(1 + CV^2)), the distribution being an assumption unless stated",
    )

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        dimension_of(unit)
        return unit


class Slope(_Strict):
    """A linear term: ``slope`` (effect unit per ``per_unit``) times the analyte's concentration."""

    analyte: AnalyteRole
    value: float
    per_unit: str = Field(description="concentration unit the slope refers to, e.g. ng/mL")
    source: str = Field(min_length=5)

    @field_validator("per_unit")
    @classmethod
    def _concentration(cls, unit: str) -> str:
        if dimension_of(unit) not in ("concentration", "molar_concentration"):
            raise ValueError(f"per_unit {unit!r} is not a concentration unit")
        return unit


class Endpoint(_Strict):
    """One response of a PD model."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=5)
    kind: EndpointKind
    effect_unit: str = Field(description="unit or scale of the effect, e.g. 'Hz', 'score 0-5'")
    analyte: AnalyteRole = "ketamine"
    drug: str | None = Field(
        default=None,
        description="drug the estimate belongs to, when the "
        "paper reports it per drug (racemic, S-ketamine, R-ketamine)",
    )
    enantiomer: Literal["S"] | None = Field(
        default=None,
        description="the C50 refers to this enantiomer's concentration; after a "
        "racemic PK model it is taken as half the racemic concentration (an approximation)",
    )
    e0: PDParameter | None = None
    emax: PDParameter | None = None
    imax: PDParameter | None = None
    c50: PDParameter | None = None
    gamma: PDParameter | None = None
    slopes: list[Slope] = Field(default_factory=list)
    not_found: list[str] = Field(default_factory=list)
    landmarks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> Endpoint:
        need = {
            "sigmoid_emax": ("c50", "emax"),
            "fractional_inhibitory": ("c50", "imax", "e0"),
            "probability": ("c50",),
            "linear": (),
        }[self.kind]
        for name in need:
            if getattr(self, name) is None:
                raise ValueError(f"endpoint {self.name}: kind {self.kind} needs {name}")
        if self.kind == "linear" and not self.slopes:
            raise ValueError(f"endpoint {self.name}: kind linear needs [[slopes]]")
        if self.c50 is not None and dimension_of(self.c50.unit) not in (
            "concentration",
            "molar_concentration",
        ):
            raise ValueError(
                f"endpoint {self.name}: c50 unit {self.c50.unit!r} is not a concentration"
            )
        if self.gamma is None and "gamma" not in self.not_found and self.kind != "linear":
            raise ValueError(f"endpoint {self.name}: gamma absent; list it in not_found")
        return self


class EffectSiteLink(_Strict):
    """Blood/plasma to effect-site equilibration from the PD paper."""

    t_half_ke0: PDParameter | None = Field(default=None, description="equilibration half-time")
    source: str = Field(min_length=5)

    @field_validator("t_half_ke0")
    @classmethod
    def _time(cls, p: PDParameter | None) -> PDParameter | None:
        if p is not None and (dimension_of(p.unit) != "time" or p.value <= 0):
            raise ValueError("t_half_ke0 must be a positive time (e.g. unit = 'min')")
        return p


class PDModelSpec(_Strict):
    """A validated PD model file."""

    schema_version: Literal[1]
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    short_names: list[str] = Field(default_factory=list)
    title: str
    drug: str
    compatible_drugs: list[str] = Field(
        min_length=1,
        description="PK model drugs this PD model may be joined to (the PK model file's 'drug')",
    )
    population: str
    empirical: bool = Field(
        default=False,
        description="True for ketasim's own empirical "
        "models calibrated to summary data (not a published PK/PD model)",
    )
    recommended_pk_models: list[str] = Field(default_factory=list)
    citation: Citation
    effect_site: EffectSiteLink
    endpoints: list[Endpoint] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> PDModelSpec:
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError("endpoints: duplicate names")
        return self

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called ``name``."""
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(name)
