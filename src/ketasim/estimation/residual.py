"""Residual (measurement) error models and the priors on random effects.

A residual error model per analyte: ``var = (prop x f)^2 + add^2`` on the concentration scale
(``f`` the prediction in ng/mL), or, on the log scale (log-transform-both-sides),
``log y = log f + eps`` with ``SD(eps) = prop``. Published values come from the model file's
``[residual_error.ANALYTE]``; where the paper gives none the user supplies one
(``"proportional 15%"``, ``"additive 5 ng/mL"``, or both joined by ``+``) and results say it
was assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.units import parse_quantity

__all__ = ["ResidualErrorModel", "parse_residual_error", "residual_errors_for"]


@dataclass(frozen=True, slots=True)
class ResidualErrorModel:
    """Residual error of one analyte (proportional as a fraction, additive in ng/mL)."""

    proportional: float = 0.0
    additive_ng_per_ml: float = 0.0
    log_scale: bool = False
    source: str = ""
    assumed: bool = False

    def __post_init__(self) -> None:
        if self.proportional < 0 or self.additive_ng_per_ml < 0:
            raise InputError("residual_error", "error magnitudes must be >= 0")
        if self.proportional == 0 and self.additive_ng_per_ml == 0:
            raise InputError("residual_error", "give a proportional or additive error > 0")
        if self.log_scale and self.proportional == 0:
            raise InputError("residual_error", "a log-scale error needs its SD (as %)")

    def sd_ng_per_ml(self, f: NDArray[np.float64]) -> NDArray[np.float64]:
        """SD on the concentration scale at predictions ``f`` (ng/mL)."""
        return np.sqrt((self.proportional * f) ** 2 + self.additive_ng_per_ml**2)

    def describe(self) -> str:
        """e.g. ``'proportional 15% + additive 5 ng/mL (assumed: --residual-error)'``."""
        parts = []
        if self.proportional:
            parts.append(f"proportional {self.proportional * 100:g}%")
        if self.additive_ng_per_ml:
            parts.append(f"additive {self.additive_ng_per_ml:g} ng/mL")
        text = " + ".join(parts) + (" on the log scale" if self.log_scale else "")
        return f"{text} ({'assumed' if self.assumed else 'published'}: {self.source})"


_TERM_RE = re.compile(r"^\s*(proportional|prop|additive|add)\s+(.+?)\s*$", re.I)


def parse_residual_error(text: str, *, field: str = "residual_error") -> ResidualErrorModel:
    """Parse ``'proportional 15%'``, ``'additive 5 ng/mL'`` or ``'proportional 15% + additive
    5 ng/mL'`` into an assumed :class:`ResidualErrorModel`."""
    prop = 0.0
    add = 0.0
    for term in (text or "").split("+"):
        match = _TERM_RE.match(term)
        if not match:
            raise InputError(
                field,
                f"cannot read {term.strip()!r}; write e.g. "
                "'proportional 15%', 'additive 5 ng/mL' or both joined by '+'",
            )
        kind = match.group(1).lower()
        if kind.startswith("prop"):
            q = parse_quantity(match.group(2), field=field, expect="dimensionless")
            prop = q.to_internal()
            if not 0 < prop < 5:
                raise InputError(field, f"proportional error {q} is outside 0 to 500%")
        else:
            q = parse_quantity(match.group(2), field=field, expect="concentration")
            add = q.to_internal() * 1000.0
            if add <= 0:
                raise InputError(field, f"additive error {q} must be > 0")
    return ResidualErrorModel(prop, add, False, f"{field} {text.strip()}", True)


def residual_errors_for(
    model: ModelSpec, analytes: set[str], user: ResidualErrorModel | None
) -> dict[str, ResidualErrorModel]:
    """The residual error model of each observed analyte: the user's (assumed) if given,
    else the model file's; an analyte with neither is an error naming ``--residual-error``."""
    out: dict[str, ResidualErrorModel] = {}
    for analyte in sorted(analytes):
        if user is not None:
            out[analyte] = user
            continue
        spec = model.residual_error.get(analyte)
        if spec is None:
            raise InputError(
                "residual_error",
                f"model {model.id} publishes no residual "
                f"error for {analyte}; supply one, e.g. 'proportional 15%' or "
                "'additive 5 ng/mL'",
            )
        out[analyte] = ResidualErrorModel(
            (spec.proportional_percent or 0.0) / 100.0,
            spec.additive_ng_per_ml or 0.0,
            spec.log_scale,
            spec.source,
            False,
        )
    return out
