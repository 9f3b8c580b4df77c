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

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from ketasim.catalogue.sections import (
    IIV,
    IOV,
    KNOWN_COVARIATES,
    ROUTE_VARIABLES,
    TIME_VARIABLES,
    Analyte,
    Citation,
    Compartment,
    EffectSite,
    Flow,
    IIVCorrelation,
    Parameter,
    Range,
    ResidualError,
    Route,
    RouteInput,
    Studied,
    _check_expression,
    _Strict,
)
from ketasim.expressions import Expression, compile_expression

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
