"""Receptor occupancy from unbound concentration and affinity: ``occ = Cu / (Cu + Ki)``.

``Cu = fu x C_total`` with the sourced fraction unbound ``fu``; unbound brain = unbound plasma
(Kp,uu = 1, an assumption stated in the data file). Ki (or a functional IC50, labelled) per
target and compound comes from ``pd/data/occupancy/affinities.toml`` (shared/reference/
receptors.md). Several compounds at one target (ketamine and norketamine at NMDA) compete:
``occ = x / (1 + x)`` with ``x = sum_i Cu_i / Ki_i``.

Levels: ``high`` >= 50%, ``moderate`` 20-50%, ``low`` 5-20%, ``negligible`` < 5%.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from ketasim.errors import InputError, ModelError
from ketasim.units import MOLECULAR_WEIGHT_G_PER_MOL

__all__ = [
    "Affinity",
    "OccupancyRow",
    "affinity_table",
    "fraction_occupied",
    "fraction_unbound",
    "normalise_drug",
    "occupancy_assumptions",
    "occupancy_level",
    "occupancy_panel",
    "target_occupancy",
]

_DRUGS = {
    "racemic": "racemic ketamine",
    "racemic ketamine": "racemic ketamine",
    "ketamine": "racemic ketamine",
    "s": "S-ketamine",
    "s-ketamine": "S-ketamine",
    "esketamine": "S-ketamine",
    "r": "R-ketamine",
    "r-ketamine": "R-ketamine",
    "arketamine": "R-ketamine",
}
_METABOLITE = {
    "racemic ketamine": "norketamine",
    "S-ketamine": "S-norketamine",
    "R-ketamine": "norketamine",
}
_MW = {
    "racemic ketamine": MOLECULAR_WEIGHT_G_PER_MOL["ketamine"],
    "S-ketamine": MOLECULAR_WEIGHT_G_PER_MOL["ketamine"],
    "R-ketamine": MOLECULAR_WEIGHT_G_PER_MOL["ketamine"],
    "norketamine": MOLECULAR_WEIGHT_G_PER_MOL["norketamine"],
    "S-norketamine": MOLECULAR_WEIGHT_G_PER_MOL["norketamine"],
    "dehydronorketamine": MOLECULAR_WEIGHT_G_PER_MOL["dehydronorketamine"],
}


@dataclass(frozen=True, slots=True)
class Affinity:
    """One sourced affinity (µM) of a compound at a target."""

    target: str
    system: str
    compound: str
    value_um: float
    kind: str
    assay: str
    source: str
    confidence: str
    default: bool
    note: str = ""
    range_um: tuple[float, float] | None = None
    range_source: str = ""


@dataclass(frozen=True, slots=True)
class OccupancyRow:
    """Occupancy of one target at one total concentration (per compound, or combined)."""

    target: str
    system: str
    compound: str
    total_ng_per_ml: float
    fu: float
    unbound_um: float
    ki_um: float
    kind: str
    occupancy: float
    level: str
    confidence: str
    source: str
    note: str
    occupancy_range: tuple[float, float] | None = None


@cache
def _data() -> dict[str, object]:
    path = resources.files("ketasim.pd") / "data" / "occupancy" / "affinities.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - packaged data
        raise ModelError(f"pd/data/occupancy/affinities.toml: {exc}") from None


def affinity_table(*, include_disputed: bool = False) -> list[Affinity]:
    """All sourced affinities (default panel; ``include_disputed`` adds e.g. D2High)."""
    rows = _data()["affinity"]
    assert isinstance(rows, list)
    out = []
    for row in rows:
        r = dict(row)
        if "range_um" in r:
            lo, hi = r["range_um"]
            r["range_um"] = (float(lo), float(hi))
        out.append(Affinity(**r))
    return [a for a in out if a.default or include_disputed]


def occupancy_assumptions() -> list[str]:
    """The assumptions stated in the affinity data file (Kp,uu = 1, Mg2+ ...)."""
    a = _data()["assumptions"]
    assert isinstance(a, list)
    return [str(x) for x in a]


def fraction_unbound(compound: str) -> tuple[float, str]:
    """``(fu, source)`` for a compound; S-norketamine uses the (dog) norketamine value."""
    key = "norketamine" if compound == "S-norketamine" else compound
    for r in _data()["protein_binding"]:  # type: ignore[attr-defined]
        if r["compound"] == key:
            return float(r["fu"]), f"{r['source']} [{r['confidence']}]"
    raise InputError("compound", f"no protein binding for {compound!r}")


def fraction_occupied(unbound_um: float | np.ndarray, ki_um: float) -> np.ndarray:
    """``Cu / (Cu + Ki)`` (both µM)."""
    if not ki_um > 0:
        raise InputError("ki", f"{ki_um!r} uM must be > 0")
    cu = np.asarray(unbound_um, dtype=float)
    if np.any(cu < 0):
        raise InputError("concentration", "must be >= 0")
    out: np.ndarray = cu / (cu + ki_um)
    return out


def occupancy_level(fraction: float) -> str:
    """``high`` >= 0.5, ``moderate`` >= 0.2, ``low`` >= 0.05, else ``negligible``."""
    if fraction >= 0.5:
        return "high"
    if fraction >= 0.2:
        return "moderate"
    if fraction >= 0.05:
        return "low"
    return "negligible"


def normalise_drug(drug: str) -> str:
    """``racemic``/``S``/``esketamine``/... -> ``racemic ketamine``, ``S-ketamine``, ..."""
    key = drug.strip().lower()
    if key not in _DRUGS:
        raise InputError(
            "drug", f"{drug!r} is not one of racemic, S-ketamine (esketamine), R-ketamine"
        )
    return _DRUGS[key]


def occupancy_panel(
    total_ng_per_ml: float,
    *,
    drug: str = "racemic ketamine",
    metabolites_ng_per_ml: Mapping[str, float] | None = None,
    include_disputed: bool = False,
) -> list[OccupancyRow]:
    """Occupancy of every sourced target at a total plasma concentration (ng/mL).

    ``drug``: the administered form (``racemic ketamine``, ``S-ketamine``, ``R-ketamine``).
    ``metabolites_ng_per_ml``: e.g. ``{"norketamine": 80.0, "dehydronorketamine": 20.0}``
    (norketamine of an S-ketamine drug is taken as S-norketamine).
    Rows per (target, compound), plus a ``combined`` row where compounds compete.
    """
    parent = normalise_drug(drug)
    if not np.isfinite(total_ng_per_ml) or total_ng_per_ml < 0:
        raise InputError("concentration_ng_per_ml", f"{total_ng_per_ml!r} ng/mL must be >= 0")
    present: dict[str, float] = {parent: float(total_ng_per_ml)}
    for name, value in (metabolites_ng_per_ml or {}).items():
        if not np.isfinite(value) or value < 0:
            raise InputError(name, f"{value!r} ng/mL must be >= 0")
        compound = _METABOLITE[parent] if name in ("norketamine", "noresketamine") else name
        if compound not in _MW:
            raise InputError(
                "metabolite", f"{name!r} is not one of norketamine, dehydronorketamine"
            )
        present[compound] = float(value)
    table = affinity_table(include_disputed=include_disputed)
    targets: dict[str, list[Affinity]] = {}
    for entry in table:
        targets.setdefault(entry.target, []).append(entry)
    rows: list[OccupancyRow] = []
    for target, entries in targets.items():
        by_compound = {e.compound: e for e in entries}
        target_rows: list[OccupancyRow] = []
        for compound, conc in present.items():
            a: Affinity | None = by_compound.get(compound)
            note = ""
            if a is None and compound in ("S-ketamine", "R-ketamine"):
                a = by_compound.get("racemic ketamine")
                note = f"no {compound} value found; racemic Ki used"
            if a is None and compound == "S-norketamine":
                a = by_compound.get("norketamine")
                note = "no S-norketamine value found; racemic norketamine Ki used"
            if a is None:
                continue
            fu, fu_source = fraction_unbound(compound)
            cu_um = fu * conc / _MW[compound]
            occ = float(fraction_occupied(cu_um, a.value_um))
            notes = "; ".join(n for n in (note, a.note) if n)
            spread = None
            if a.range_um is not None:
                spread = (
                    float(fraction_occupied(cu_um, a.range_um[1])),
                    float(fraction_occupied(cu_um, a.range_um[0])),
                )
                notes = "; ".join(
                    n
                    for n in (
                        notes,
                        f"Ki range {a.range_um[0]:g}-{a.range_um[1]:g} uM: {a.range_source}",
                    )
                    if n
                )
            target_rows.append(
                OccupancyRow(
                    target,
                    a.system,
                    compound,
                    conc,
                    fu,
                    cu_um,
                    a.value_um,
                    a.kind,
                    occ,
                    occupancy_level(occ),
                    a.confidence,
                    f"{a.source}; fu: {fu_source}",
                    notes,
                    spread,
                )
            )
        if len(target_rows) > 1:
            x = sum(r.unbound_um / r.ki_um for r in target_rows)
            occ = x / (1.0 + x)
            target_rows.append(
                OccupancyRow(
                    target,
                    target_rows[0].system,
                    "combined (competitive)",
                    sum(r.total_ng_per_ml for r in target_rows),
                    float("nan"),
                    sum(r.unbound_um for r in target_rows),
                    float("nan"),
                    "x = sum Cu/Ki",
                    occ,
                    occupancy_level(occ),
                    "derived",
                    "competitive sum of the rows above",
                    "",
                )
            )
        rows.extend(target_rows)
    return rows


def target_occupancy(
    total_ng_per_ml: NDArray[np.float64] | Sequence[float],
    *,
    target: str = "NMDA (PCP site)",
    drug: str = "racemic ketamine",
    metabolites_ng_per_ml: Mapping[str, NDArray[np.float64] | Sequence[float]] | None = None,
) -> NDArray[np.float64]:
    """Occupancy (0-1) of one target over a concentration time course (vectorised).

    Same rules as :func:`occupancy_panel` (fu, Ki with enantiomer fallback, competitive sum
    over parent and metabolites).
    """
    parent = normalise_drug(drug)
    entries = {a.compound: a for a in affinity_table(include_disputed=True) if a.target == target}
    if not entries:
        known = sorted({a.target for a in affinity_table(include_disputed=True)})
        raise InputError("target", f"no affinity for {target!r}; known: {', '.join(known)}")
    series: dict[str, NDArray[np.float64]] = {parent: np.asarray(total_ng_per_ml, dtype=float)}
    for name, values in (metabolites_ng_per_ml or {}).items():
        compound = _METABOLITE[parent] if name in ("norketamine", "noresketamine") else name
        series[compound] = np.asarray(values, dtype=float)
    x = np.zeros_like(series[parent])
    for compound, conc in series.items():
        if np.any(conc < 0):
            raise InputError(compound, "concentrations must be >= 0 ng/mL")
        a = entries.get(compound)
        if a is None and compound in ("S-ketamine", "R-ketamine"):
            a = entries.get("racemic ketamine")
        if a is None and compound == "S-norketamine":
            a = entries.get("norketamine")
        if a is None or compound not in _MW:
            continue
        fu, _ = fraction_unbound(compound)
        x = x + fu * conc / _MW[compound] / a.value_um
    out: NDArray[np.float64] = x / (1.0 + x)
    return out
