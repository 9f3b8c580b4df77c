"""A model's card: what the catalogue listing shows, as plain data (no pydantic).

:func:`model_summary` is the JSON form of a model's card (the public contract of ``ketasim
models --output json``); :class:`ModelCard` wraps one so that the listing can be filtered and
sorted (:func:`ketasim.catalogue.select.select`) without importing or validating the schema:
``ketasim models`` keeps the cards of the validated catalogue in a cache keyed by the files'
hashes (``ketasim.cli._model_index``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketasim.catalogue.schema import ModelSpec

__all__ = ["Bounds", "ModelCard", "model_summary"]


def model_summary(m: ModelSpec) -> dict[str, Any]:
    """The JSON form of a model's card (public contract of ``models --output json``)."""
    from ketasim.catalogue.select import short_citation

    return {
        "id": m.id,
        "short_names": m.short_names,
        "title": m.title,
        "drug": m.drug,
        "analytes": m.analyte_names,
        "routes": m.route_names,
        "population": m.population,
        "setting": m.setting,
        "sampling": m.sampling,
        "evidence": m.evidence,
        "short_citation": short_citation(m),
        "effect_sites": [
            {"analyte": e.analyte, "ke0": e.ke0, "assumed": e.assumed, "source": e.source}
            for e in m.effect_sites
        ],
        "citation": {
            "text": m.citation.text,
            "doi": m.citation.doi,
            "pmid": m.citation.pmid,
            "verified": m.citation.verified,
        },
        "validity": {
            k: {"min": r.min, "max": r.max, "source": r.source} for k, r in m.validity.items()
        },
        "has_variability": bool(m.iiv),
        "residual_error": sorted(m.residual_error),
        "notes": m.notes,
    }


@dataclass(frozen=True)
class Bounds:
    """A closed interval of a card's validity; an unstated bound is ``None``."""

    min: float | None = None
    max: float | None = None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds (inclusive)."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True)
class ModelCard:
    """One model of the listing: the fields selection needs and its JSON ``summary``."""

    id: str
    drug: str
    evidence: str | None
    route_names: tuple[str, ...]
    analyte_names: tuple[str, ...]
    validity: Mapping[str, Bounds]
    summary: Mapping[str, Any] = field(repr=False)
    setting: str = "general"

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> ModelCard:
        """The card of a :func:`model_summary` dict."""
        return cls(
            summary["id"],
            summary["drug"],
            summary["evidence"],
            tuple(summary["routes"]),
            tuple(summary["analytes"]),
            {k: Bounds(v["min"], v["max"]) for k, v in summary["validity"].items()},
            dict(summary),
            summary.get("setting", "general"),
        )
