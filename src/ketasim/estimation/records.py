"""Event-table records as the individual fit reads them: analyte, LLOQ, censoring, checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import DataFileError

__all__ = ["RecordLike", "analyte_of", "check_records", "is_censored", "lloq_of"]


class RecordLike(Protocol):
    """One record of an event table (as :class:`ketasim.io.EventRecord`), internal units."""

    @property
    def row(self) -> int: ...
    @property
    def time_min(self) -> float: ...
    @property
    def evid(self) -> int: ...
    @property
    def dv_ng_per_ml(self) -> float | None: ...
    @property
    def mdv(self) -> int: ...
    @property
    def analyte(self) -> str | None: ...
    @property
    def cmt(self) -> int | None: ...


def analyte_of(rec: RecordLike, model: ModelSpec) -> str:
    names = model.analyte_names
    if rec.analyte:
        aliases = {a: a for a in names}
        for a in names:  # accept e.g. 'ketamine' for the parent, 'nk' is not guessed
            aliases.setdefault(a.replace("es", "", 1), a)
        if rec.analyte in aliases:
            return aliases[rec.analyte]
        raise DataFileError(
            f"analyte {rec.analyte!r} is not one of {', '.join(names)}",
            row=rec.row,
            column="ANALYTE",
        )
    if rec.cmt is not None and rec.evid not in (1, 4):
        comps = model.compartments
        if not 1 <= rec.cmt <= len(comps):
            raise DataFileError(
                f"CMT {rec.cmt} is not a compartment of {model.id} (1 to {len(comps)})",
                row=rec.row,
                column="CMT",
            )
        comp = comps[rec.cmt - 1]
        if comp.analyte is None or comp.observed != "plasma":
            observed = ", ".join(
                f"{i + 1} ({c.analyte})" for i, c in enumerate(comps) if c.observed == "plasma"
            )
            raise DataFileError(
                f"CMT {rec.cmt} ({comp.name}) is not an observed compartment "
                f"of {model.id}; observations use CMT {observed}",
                row=rec.row,
                column="CMT",
            )
        return comp.analyte
    return names[0]


def lloq_of(rec: RecordLike) -> float | None:
    value = getattr(rec, "lloq_ng_per_ml", None)
    return None if value is None else float(value)


def is_censored(rec: RecordLike) -> bool:
    """Below the limit of quantification: an LLOQ and no DV, or a DV under it (M3)."""
    lloq = lloq_of(rec)
    return (
        rec.evid == 0
        and rec.mdv == 0
        and lloq is not None
        and (rec.dv_ng_per_ml is None or rec.dv_ng_per_ml < lloq)
    )


def check_records(records: Sequence[RecordLike]) -> None:
    doses = [r.time_min for r in records if r.evid in (1, 4)]
    first_dose = min(doses) if doses else None
    for r in records:
        if r.evid == 0 and r.mdv == 0 and (first_dose is None or r.time_min < first_dose):
            raise DataFileError(
                "observation before any dose; the model starts at zero drug "
                "(set MDV = 1 on pre-dose rows)",
                row=r.row,
                column="TIME",
            )
