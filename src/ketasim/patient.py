"""A patient as the models see one: covariates with explicit units."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ketasim.errors import InputError

__all__ = ["Patient"]

# Plausibility limits for any human patient, whatever the model (not model validity ranges,
# which come from each model file). Chosen to catch unit mistakes (e.g. pounds, grams, months).
_WEIGHT_KG = (0.3, 400.0)
_AGE_YEARS = (0.0, 120.0)
_HEIGHT_CM = (20.0, 260.0)


@dataclass(frozen=True, slots=True)
class Patient:
    """Covariates of one patient.

    Parameters
    ----------
    weight_kg:
        Total body weight in kg.
    age_years:
        Age in years (``None`` if unknown; models that need it will say so).
    height_cm:
        Height in cm, optional.
    sex:
        ``"female"`` or ``"male"``, optional.
    extra:
        Model-specific covariates (e.g. ``{"ASIAN": 1}``), numeric.
    """

    weight_kg: float
    age_years: float | None = None
    height_cm: float | None = None
    sex: Literal["female", "male"] | None = None
    extra: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check("weight_kg", self.weight_kg, _WEIGHT_KG, "kg")
        if self.age_years is not None:
            _check("age_years", self.age_years, _AGE_YEARS, "years")
        if self.height_cm is not None:
            _check("height_cm", self.height_cm, _HEIGHT_CM, "cm")
        if self.sex not in (None, "female", "male"):
            raise InputError("sex", f"{self.sex!r} is not one of 'female', 'male'")

    def covariates(self) -> dict[str, float]:
        """Covariates under the names model files use (``WT``, ``AGE``, ``HT``, ``FEMALE``)."""
        values: dict[str, float] = {"WT": float(self.weight_kg)}
        if self.age_years is not None:
            values["AGE"] = float(self.age_years)
        if self.height_cm is not None:
            values["HT"] = float(self.height_cm)
        if self.sex is not None:
            values["FEMALE"] = 1.0 if self.sex == "female" else 0.0
        values.update({k: float(v) for k, v in self.extra.items()})
        return values


def _check(name: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(name, f"{value!r} is not a number") from None
    if not (bounds[0] <= v <= bounds[1]) or v != v:
        raise InputError(
            name,
            f"{value} {unit} is not a plausible value; accepted {bounds[0]:g} to "
            f"{bounds[1]:g} {unit}",
        )
