"""Published observations for ``ketasim validate``: the data file's schema and loader."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ketasim.catalogue.loader import available_models
from ketasim.errors import ModelError

__all__ = ["QUANTITIES", "Case", "icu_models", "load_cases", "model_caveats"]

Quantity = Literal[
    "cmax", "tmax", "auc", "css", "clearance", "vss", "v_central", "half_life", "bioavailability"
]
QUANTITIES: tuple[str, ...] = get_args(Quantity)

#: observed units accepted per quantity -> factor to the canonical unit (``per_kg``: x weight)
UNITS: dict[str, dict[str, tuple[float, bool]]] = {
    "cmax": {"ng/mL": (1.0, False), "umol/L": (237.73, False)},
    "css": {"ng/mL": (1.0, False), "ug/mL": (1000.0, False), "umol/L": (237.73, False)},
    "v_central": {"L": (1.0, False)},
    "tmax": {"min": (1.0, False), "h": (60.0, False)},
    "half_life": {"min": (1.0, False), "h": (60.0, False)},
    "auc": {"ng*h/mL": (1.0, False)},
    "clearance": {
        "L/h": (1.0, False),
        "L/min": (60.0, False),
        "mL/min": (0.06, False),
        "mL/min/kg": (0.06, True),
        "L/min/kg": (60.0, True),
    },
    "vss": {"L": (1.0, False), "L/kg": (1.0, True)},
    "bioavailability": {"fraction": (1.0, False)},
}
#: canonical unit of each quantity (what ``predicted`` and ``observed`` are reported in)
CANONICAL = {
    "cmax": "ng/mL",
    "css": "ng/mL",
    "tmax": "min",
    "half_life": "min",
    "auc": "ng*h/mL",
    "clearance": "L/h",
    "vss": "L",
    "v_central": "L",
    "bioavailability": "fraction",
}


class Case(BaseModel):
    """One published observation and the conditions it was made under."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    drug: Literal["racemic ketamine", "S-ketamine", "R-ketamine"]
    analyte: Literal["parent", "s_ketamine", "r_ketamine", "norketamine"] = Field(
        default="parent",
        description="parent: the drug given (racemic total or S-ketamine); s_ketamine / "
        "r_ketamine: an enantiomer after racemic ketamine; norketamine: the N-demethylated "
        "metabolite of the drug given (S-norketamine after S-ketamine or esketamine)",
    )
    quantity: Quantity
    observed: float = Field(gt=0)
    unit: str
    spread: str
    regimen: str | None = None
    population: str
    weight_kg: float = Field(gt=0)
    weight_assumed: bool = False
    age_years: float = Field(ge=0)
    age_assumed: bool = False
    covariates: dict[str, float] = Field(default_factory=dict)
    sampling: Literal["arterial", "venous", "not stated"] = "not stated"
    sampling_until_min: float | None = Field(default=None, gt=0)
    sampling_until_assumed: bool = Field(
        default=False,
        description="the sampling window was not read in the source: an apparent half-life "
        "over an unknown window cannot be reproduced, so it is not compared",
    )
    paediatric: bool = Field(
        default=False,
        description="a paediatric value (standardised "
        "to 70 kg): compared with paediatric models only",
    )
    icu: bool = Field(
        default=False,
        description="observed in intensive-care patients: compared with ICU models only "
        '(and ICU models only with such observations; the model file\'s `setting = "icu"`)',
    )
    source_compartments: int | None = Field(
        default=None,
        ge=1,
        description="for v_central: disposition compartments of the parent in the model the "
        "value comes from; a central volume is comparable only between models of that structure",
    )
    citation: str
    doi: str | None = None
    pmid: str | None = None
    read: str
    note: str | None = None
    population_differs: str | None = None
    formulation_differs: str | None = None
    not_independent_for: list[str] = Field(default_factory=list)

    def observed_canonical(self) -> float:
        """The observed value in the quantity's canonical unit (see ``CANONICAL``)."""
        units = UNITS[self.quantity]
        if self.unit not in units:
            raise ModelError(
                f"validation case {self.id}: unit {self.unit!r} not accepted for "
                f"{self.quantity}; accepted: {', '.join(units)}"
            )
        if self.analyte == "norketamine" and self.quantity not in ("cmax", "tmax", "auc"):
            raise ModelError(
                f"validation case {self.id}: for norketamine only cmax, tmax and auc are "
                f"compared, not {self.quantity}"
            )
        if self.analyte == "norketamine" and "mol" in self.unit:
            raise ModelError(
                f"validation case {self.id}: give norketamine in mass units (ng/mL, ug/mL); "
                f"{self.unit!r} would be converted with ketamine's molar mass"
            )
        factor, per_kg = units[self.unit]
        return self.observed * factor * (self.weight_kg if per_kg else 1.0)

    def source_ref(self) -> str:
        """DOI, else PMID, else the citation text."""
        return (
            f"doi:{self.doi}" if self.doi else f"PMID {self.pmid}" if self.pmid else self.citation
        )


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case: list[Case]


@cache
def load_cases() -> tuple[Case, ...]:
    """Every observation of the package's data file (validated; ids unique)."""
    text = (resources.files("ketasim.validation") / "data" / "observations.toml").read_text(
        encoding="utf-8"
    )
    try:
        cases = _File.model_validate(tomllib.loads(text)).case
    except Exception as exc:  # pydantic or TOML error: name the file
        raise ModelError(f"validation/data/observations.toml: {exc}") from None
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise ModelError("validation/data/observations.toml: duplicate case ids")
    for c in cases:
        c.observed_canonical()
    return tuple(cases)


@cache
def model_caveats() -> dict[str, str]:
    """Known limits of catalogue models, by model id (quoted for misses)."""
    text = (resources.files("ketasim.validation") / "data" / "model_caveats.toml").read_text(
        encoding="utf-8"
    )
    data = tomllib.loads(text)
    return {str(k): str(v) for k, v in data.get("caveats", {}).items()}


@cache
def icu_models() -> frozenset[str]:
    """Ids of catalogue models built on intensive-care patients (their ``setting = "icu"``)."""
    return frozenset(m.id for m in available_models() if m.setting == "icu")
