"""Choosing catalogue models for a patient: by drug, route and validated covariate range.

Pure functions over :class:`~ketasim.catalogue.schema.ModelSpec`; used by ``ketasim models``,
``ketasim compare`` and ``ketasim validate``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ketasim.errors import InputError

if TYPE_CHECKING:  # the schema loads with the catalogue; a card needs neither (ModelCard)
    from ketasim.catalogue.schema import ModelSpec

__all__ = [
    "DRUG_NAMES",
    "EVIDENCE_ORDER",
    "POPULATIONS",
    "covers",
    "normalise_drug",
    "select",
    "select_models",
    "short_citation",
]

#: accepted spellings of ``--drug`` -> the catalogue's ``drug`` value
DRUG_NAMES = {
    "racemic": "racemic ketamine",
    "racemic ketamine": "racemic ketamine",
    "ketamine": "racemic ketamine",
    "s-ketamine": "S-ketamine",
    "s": "S-ketamine",
    "esketamine": "esketamine",
    "r-ketamine": "R-ketamine",
    "arketamine": "R-ketamine",
}

#: accepted values of ``--population``: ``general`` leaves out models built on intensive-care
#: patients (``setting = "icu"``), ``icu`` keeps only those, ``any`` keeps both
POPULATIONS = ("general", "icu", "any")

#: ranking of ``evidence`` (verified models first; ``None`` = not stated, last)
EVIDENCE_ORDER = ("primary", "table-cited", "composite", "secondary", None)


def normalise_drug(text: str) -> str:
    """The catalogue's drug name for ``text`` (e.g. ``racemic`` -> ``racemic ketamine``)."""
    key = text.strip().lower()
    if key not in DRUG_NAMES:
        raise InputError(
            "drug", f"{text!r} is not one of racemic, S-ketamine, esketamine, R-ketamine"
        )
    return DRUG_NAMES[key]


class _Bounded(Protocol):
    def contains(self, value: float) -> bool: ...


class Selectable(Protocol):
    """What selection reads: a :class:`ModelSpec` or a
    :class:`~ketasim.catalogue.card.ModelCard`."""

    @property
    def id(self) -> str: ...
    @property
    def drug(self) -> str: ...
    @property
    def evidence(self) -> str | None: ...
    @property
    def route_names(self) -> list[str] | tuple[str, ...]: ...
    @property
    def validity(self) -> Mapping[Any, _Bounded]: ...
    @property
    def setting(self) -> str: ...


S = TypeVar("S", bound=Selectable)


def covers(
    model: Selectable, weight_kg: float | None = None, age_years: float | None = None
) -> bool:
    """Whether the model's validated ranges contain the patient (an unstated bound covers)."""
    w = model.validity.get("weight_kg")
    a = model.validity.get("age_years")
    return (weight_kg is None or w is None or w.contains(weight_kg)) and (
        age_years is None or a is None or a.contains(age_years)
    )


def select_models(
    *,
    drug: str | None = None,
    route: str | None = None,
    weight_kg: float | None = None,
    age_years: float | None = None,
    population: str = "any",
    models: Iterable[ModelSpec] | None = None,
) -> list[ModelSpec]:
    """Models matching every given filter, verified evidence first, then by id.

    ``drug`` accepts the spellings of :data:`DRUG_NAMES`; ``route`` a route name; ``weight_kg``
    and ``age_years`` keep only models whose validated ranges contain the patient;
    ``population`` (:data:`POPULATIONS`) the care setting the model was built on.
    """
    if models is None:
        from ketasim.catalogue.loader import available_models

        models = available_models()
    return select(
        models,
        drug=drug,
        route=route,
        weight_kg=weight_kg,
        age_years=age_years,
        population=population,
    )


def select(
    items: Iterable[S],
    *,
    drug: str | None = None,
    route: str | None = None,
    weight_kg: float | None = None,
    age_years: float | None = None,
    population: str = "any",
) -> list[S]:
    """:func:`select_models` over any models or model cards."""
    wanted = normalise_drug(drug) if drug is not None else None
    if population not in POPULATIONS:
        raise InputError("population", f"{population!r} is not one of {', '.join(POPULATIONS)}")
    if weight_kg is not None and not weight_kg > 0:
        raise InputError("weight_kg", f"{weight_kg:g} kg must be > 0")
    if age_years is not None and age_years < 0:
        raise InputError("age_years", f"{age_years:g} years must be >= 0")
    chosen = [
        m
        for m in items
        if (wanted is None or m.drug == wanted)
        and (route is None or route in m.route_names)
        and covers(m, weight_kg, age_years)
        and (population == "any" or m.setting == population)
    ]
    return sorted(chosen, key=lambda m: (EVIDENCE_ORDER.index(m.evidence), m.id))


_AUTHOR_YEAR = re.compile(r"([a-z][a-z]+(?:-[a-z]+)?)-((?:19|20)\d\d)")


def short_citation(model: Selectable) -> str:
    """First author(s) and year from the id, e.g. ``Kamp 2020`` or ``Brunette 2011 + Herd 2007``."""
    pairs = [
        "-".join(p.capitalize() for p in name.split("-")) + f" {year}"
        for name, year in _AUTHOR_YEAR.findall(model.id)
    ]
    text = " + ".join(pairs) if pairs else model.id
    return f"{text} (composite)" if model.evidence == "composite" else text
