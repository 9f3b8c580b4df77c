"""Findings when a run leaves a model's evidence: regimens or routes it was not built on.

Uses the optional ``[[studied]]`` entries of a model file (see
:class:`~ketasim.catalogue.schema.Studied`). Covariates outside the validated ranges are checked
by :func:`ketasim.pk.simulate.check_validity`; this module covers the regimen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ketasim.catalogue.schema import ModelSpec, Range, Studied
from ketasim.findings import Finding
from ketasim.units import to_internal

__all__ = ["evidence_findings"]


class DoseLike(Protocol):
    """What this module reads of a dose (:class:`ketasim.pk.Dose` fits)."""

    @property
    def amount(self) -> float: ...
    @property
    def unit(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def duration_min(self) -> float: ...


def _amount_mg(amount: float, unit: str, duration_min: float, weight_kg: float) -> float:
    value, dim = to_internal(amount, unit)
    if dim in ("amount_per_kg", "dose_rate_per_kg"):
        value *= weight_kg
    if dim.startswith("dose_rate"):
        value *= duration_min
    return float(value)


def _inside(rng: Range | None, value: float) -> bool:
    return rng is None or rng.contains(value)


def _describe(s: Studied) -> str:
    parts = [s.route, s.regimen if s.regimen != "any" else ""]
    if s.dose_mg is not None:
        parts.append(f"{s.dose_mg.describe()} mg")
    if s.dose_mg_per_kg is not None:
        parts.append(f"{s.dose_mg_per_kg.describe()} mg/kg")
    if s.rate_mg_per_kg_per_h is not None:
        parts.append(f"{s.rate_mg_per_kg_per_h.describe()} mg/kg/h")
    return " ".join(p for p in parts if p)


def evidence_findings(
    model: ModelSpec, doses: Iterable[DoseLike], weight_kg: float
) -> list[Finding]:
    """``warn`` findings for each dose outside every regimen the model was built on.

    ``doses`` are :class:`ketasim.pk.Dose` objects (amount, unit, route, duration_min). A model
    without ``[[studied]]`` entries yields no finding (its evidence is not recorded).
    """
    if not model.studied:
        return []
    out: list[Finding] = []
    seen: set[str] = set()
    for dose in doses:
        route = dose.route
        duration = float(dose.duration_min)
        amount = _amount_mg(float(dose.amount), dose.unit, duration, weight_kg)
        entries = [s for s in model.studied if s.route == route]
        relevant = entries or model.studied
        studied = "; ".join(_describe(s) for s in relevant)
        source = "; ".join(sorted({s.source for s in relevant}))
        if not entries:
            msg = (
                f"model {model.id} was not built on {route} dosing (studied: {studied}); "
                "its parameters for this route are extrapolated"
            )
        else:
            kind = "infusion" if duration > 0 else "bolus" if route == "iv" else "dose"
            matches = [
                s
                for s in entries
                if s.regimen in ("any", "infusion" if duration > 0 else "bolus")
                and _inside(s.dose_mg, amount)
                and _inside(s.dose_mg_per_kg, amount / weight_kg)
                and (
                    duration <= 0
                    or _inside(s.rate_mg_per_kg_per_h, amount / weight_kg / duration * 60.0)
                )
            ]
            if matches:
                continue
            cautions = "; ".join(s.caution for s in entries if s.caution)
            msg = (
                f"this {route} {kind} of {amount:.3g} mg is outside the regimens model "
                f"{model.id} was built on ({studied})" + (f": {cautions}" if cautions else "")
            )
        if msg not in seen:
            seen.add(msg)
            out.append(Finding(f"evidence.{model.id}.{route}", "warn", msg, source))
    return out
