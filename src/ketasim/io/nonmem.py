"""NONMEM-style event tables (ID, TIME, AMT, RATE, CMT, EVID, DV, MDV, II, ADDL).

This module reads the tables and cuts individuals into parts; their dose records become a
system's inputs (SS, RATE) in :mod:`ketasim.io.nonmem_inputs` (``individual_inputs``, also
importable from here).

Units: TIME in hours, AMT in mg, DV in ng/mL by default (``time_unit``, ``amount_unit``,
``dv_unit`` change them); RATE is in AMT units per TIME unit.

Conventions followed (NONMEM's, where users expect them):

- EVID 0 observation, 1 dose, 2 other (output only), 3 reset, 4 reset and dose. Without an EVID
  column, a row with AMT > 0 is a dose and any other row an observation.
- MDV defaults to 1 for non-observation rows and to 0 for EVID 0 rows with a DV (or an LLOQ).
- LLOQ (DV units, optional): an observation with DV below it, or with no DV, is censored: the
  fit uses the M3 likelihood P(Y < LLOQ) for it (Beal, J Pharmacokinet Pharmacodyn
  2001;28:481-504).
- CMT numbers the model file's compartments from 1 in file order. A dose into a compartment
  takes the bioavailability, lag and modelled duration of the route input that targets that
  compartment (F1/ALAG1 in NONMEM terms); with no such input, F = 1. An optional ROUTE column
  (e.g. ``intranasal``) instead applies a whole route with all its pathways. Without CMT and
  ROUTE, a dose goes by the ``iv`` route (or the model's only route).
- RATE 0: bolus; RATE > 0: infusion at that rate, F x AMT delivered, so F shortens the
  duration; RATE = -2: duration modelled by the route input; RATE = -1: rate modelled by the
  route input (``rate`` in the model file), the duration being F x AMT / rate.
- ADDL/II: ADDL additional doses every II (TIME units) after the record.
- SS = 1 with II > 0: the record's dose is at steady state (given every II since ever): every
  state is reset to that steady state, then the dose is given; SS = 2: the steady state is
  added to the current state (superposition). Exact (:mod:`ketasim.pk.steady_state`), for
  boluses and infusions (also infusions longer than II).
- Covariate columns (WT, AGE, HT, FEMALE, ...): the first row's values are the individual's
  ``covariates``; a later record with a different value changes it **from that record's time
  on** (NONMEM's convention, the value on a record applying to the interval that follows it),
  listed in ``covariate_changes``. A missing value (``.``) keeps the value before.
  ``ketasim simulate --events`` solves such an individual exactly segment by segment
  (:mod:`ketasim.pk.piecewise`); ``ketasim fit`` fits it so (a part per covariate value).
- OCC (optional, a whole number): the occasion of inter-occasion variability (NONMEM's
  convention: the value on a record holds from that record's time on; a ``.`` keeps the value
  before). Records with the same OCC share the occasion's random effects (kappas) of a model
  with ``[iov]`` entries; OCC is not a covariate.
"""

from __future__ import annotations

import io as _io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ketasim.errors import DataFileError, InputError
from ketasim.io.nonmem_inputs import individual_inputs
from ketasim.units import to_internal

__all__ = [
    "EventRecord",
    "Individual",
    "IndividualPart",
    "individual_inputs",
    "individual_parts",
    "individual_segments",
    "read_event_table",
]

REQUIRED = ("ID", "TIME", "AMT")
NUMERIC = ("TIME", "AMT", "RATE", "CMT", "EVID", "DV", "MDV", "II", "ADDL", "SS", "LLOQ", "OCC")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of an event table, in internal units (min, mg, mg/min, ng/mL).

    ``row`` is the 1-based data row number in the file (header excluded) for error messages.
    """

    row: int
    id: str
    time_min: float
    evid: int
    amt_mg: float = 0.0
    rate_mg_per_min: float = 0.0
    cmt: int | None = None
    route: str | None = None
    dv_ng_per_ml: float | None = None
    mdv: int = 1
    analyte: str | None = None
    ss: int = 0
    ii_min: float = 0.0
    lloq_ng_per_ml: float | None = None

    @property
    def censored(self) -> bool:
        """An observation below the limit of quantification (M3: only ``DV < LLOQ`` known)."""
        return (
            self.evid == 0
            and self.mdv == 0
            and self.lloq_ng_per_ml is not None
            and (self.dv_ng_per_ml is None or self.dv_ng_per_ml < self.lloq_ng_per_ml)
        )


@dataclass(frozen=True)
class Individual:
    """All records of one ID, in file order, with that individual's covariates."""

    id: str
    records: tuple[EventRecord, ...]
    covariates: dict[str, float] = field(default_factory=dict)
    covariate_changes: tuple[tuple[float, dict[str, float]], ...] = ()
    """(time_min, every covariate from then on) for each record whose covariate values differ
    from the record before it (NONMEM: a record's value holds from its time on)."""
    occasions: tuple[tuple[float, int], ...] = ()
    """(time_min, OCC) of the first record with an OCC and of each record whose OCC differs
    from the one before (empty without an OCC column)."""

    @property
    def observation_times_min(self) -> np.ndarray:
        """Times (min) of rows that ask for a prediction (EVID 0 and 2)."""
        return np.array([r.time_min for r in self.records if r.evid in (0, 2)])


def _num(df: pd.DataFrame, col: str) -> pd.Series:
    raw = df[col]
    values = pd.to_numeric(raw.replace({".": np.nan, "": np.nan}), errors="coerce")
    bad = values.isna() & raw.notna() & ~raw.astype(str).str.strip().isin({".", ""})
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(f"{raw.iloc[i]!r} is not a number", row=i + 1, column=col)
    return values


def read_event_table(
    source: str | Path | pd.DataFrame,
    *,
    time_unit: str = "h",
    amount_unit: str = "mg",
    dv_unit: str = "ng/mL",
) -> list[Individual]:
    """Read and validate a NONMEM-style event table (CSV path or DataFrame).

    Errors are :class:`~ketasim.errors.DataFileError` naming the row and column.
    """
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError("event_table", f"cannot read {source}: {exc.strerror}") from None
        try:
            df = pd.read_csv(_io.StringIO(text), dtype=str, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataFileError(f"not a readable CSV table: {exc}") from None
    df.columns = [str(c).strip().upper() for c in df.columns]
    for col in REQUIRED:
        if col not in df.columns:
            raise DataFileError(
                f"missing required column (have {', '.join(df.columns)})", column=col
            )
    if df.empty:
        raise DataFileError("the table has no rows")
    t_factor, _ = to_internal(1.0, time_unit, expect="time", field="time_unit")
    a_factor, _ = to_internal(1.0, amount_unit, expect="amount", field="amount_unit")
    dv_factor, _ = to_internal(1.0, dv_unit, expect="concentration", field="dv_unit")
    nums = {c: _num(df, c) for c in NUMERIC if c in df.columns}
    covariate_cols = [c for c in df.columns if c not in (*NUMERIC, "ID", "ROUTE", "ANALYTE")]
    individuals: list[Individual] = []
    order: list[str] = []
    by_id: dict[str, list[EventRecord]] = {}
    covs: dict[str, dict[str, float]] = {}
    current: dict[str, dict[str, float]] = {}
    changes: dict[str, list[tuple[float, dict[str, float]]]] = {}
    occs: dict[str, list[tuple[float, int]]] = {}
    cov_values = {c: pd.to_numeric(df[c], errors="coerce") for c in covariate_cols}
    last_time: dict[str, float] = {}
    for i in range(len(df)):
        row = i + 1

        def val(col: str, default: float | None = None, *, i: int = i) -> float | None:
            if col not in nums:
                return default
            v = nums[col].iloc[i]
            return default if pd.isna(v) else float(v)

        pid = str(df["ID"].iloc[i]).strip()
        if pid in ("", "nan"):
            raise DataFileError("ID is empty", row=row, column="ID")
        time = val("TIME")
        if time is None:
            raise DataFileError("TIME is empty", row=row, column="TIME")
        if time < 0:
            raise DataFileError(
                f"TIME {time:g} is negative; times must be >= 0", row=row, column="TIME"
            )
        if pid in last_time and time < last_time[pid]:
            raise DataFileError(
                f"TIME {time:g} goes back in time within ID {pid}", row=row, column="TIME"
            )
        last_time[pid] = time
        amt = val("AMT", 0.0) or 0.0
        if amt < 0:
            raise DataFileError(f"AMT {amt:g} is negative", row=row, column="AMT")
        evid_v = val("EVID")
        evid = int(evid_v) if evid_v is not None else (1 if amt > 0 else 0)
        if evid not in (0, 1, 2, 3, 4):
            raise DataFileError(f"EVID {evid} is not one of 0, 1, 2, 3, 4", row=row, column="EVID")
        if evid in (1, 4) and amt <= 0:
            raise DataFileError("a dose record (EVID 1/4) needs AMT > 0", row=row, column="AMT")
        rate = val("RATE", 0.0) or 0.0
        if rate < 0 and rate not in (-1, -2):
            raise DataFileError(
                f"RATE {rate:g} is negative (only -1 and -2 have a meaning)", row=row, column="RATE"
            )
        ss = int(val("SS", 0) or 0)
        ii = val("II", 0.0) or 0.0
        if ss not in (0, 1, 2):
            raise DataFileError(f"SS {ss} is not one of 0, 1, 2", row=row, column="SS")
        if ss and evid not in (1, 4):
            raise DataFileError("SS is set on a record that is not a dose", row=row, column="SS")
        if ss and ii <= 0:
            raise DataFileError("a steady-state dose (SS = 1/2) needs II > 0", row=row, column="II")
        cmt_v = val("CMT")
        dv = val("DV")
        mdv_v = val("MDV")
        lloq = val("LLOQ")
        if lloq is not None and lloq <= 0:
            raise DataFileError(f"LLOQ {lloq:g} must be > 0", row=row, column="LLOQ")
        mdv = (
            int(mdv_v)
            if mdv_v is not None
            else (0 if evid == 0 and (dv is not None or lloq is not None) else 1)
        )
        if evid == 0 and mdv == 0 and dv is None and lloq is None:
            raise DataFileError("observation with MDV = 0 has no DV", row=row, column="DV")
        if dv is not None and dv < 0:
            raise DataFileError(f"DV {dv:g} is negative", row=row, column="DV")
        route = None
        if "ROUTE" in df.columns and isinstance(df["ROUTE"].iloc[i], str):
            route = df["ROUTE"].iloc[i].strip().lower() or None
        analyte = None
        if "ANALYTE" in df.columns and isinstance(df["ANALYTE"].iloc[i], str):
            analyte = df["ANALYTE"].iloc[i].strip().lower() or None
        rec = EventRecord(
            row=row,
            id=pid,
            time_min=time * t_factor,
            evid=evid,
            amt_mg=amt * a_factor,
            rate_mg_per_min=(rate * a_factor / t_factor) if rate > 0 else rate,
            cmt=int(cmt_v) if cmt_v is not None else None,
            route=route,
            dv_ng_per_ml=(dv * dv_factor * 1000.0) if dv is not None else None,
            mdv=mdv,
            analyte=analyte,
            ss=ss,
            ii_min=ii * t_factor,
            lloq_ng_per_ml=(lloq * dv_factor * 1000.0) if lloq is not None else None,
        )
        occ_v = val("OCC")
        if occ_v is not None and (occ_v != int(occ_v) or occ_v < 0):
            raise DataFileError(f"OCC {occ_v:g} is not a whole number >= 0", row=row, column="OCC")
        row_cov: dict[str, float] = {}
        for c in covariate_cols:
            v = cov_values[c].iloc[i]
            if not pd.isna(v):
                row_cov[c] = float(v)
        if occ_v is not None and (not occs.get(pid) or occs[pid][-1][1] != int(occ_v)):
            if occs.get(pid) and occs[pid][-1][0] == rec.time_min:
                occs[pid].pop()  # several records at one time: the last one's OCC holds
            occs.setdefault(pid, []).append((rec.time_min, int(occ_v)))
        if pid not in by_id:
            order.append(pid)
            by_id[pid] = []
            covs[pid] = row_cov
            current[pid] = dict(row_cov)
            changes[pid] = []
        elif any(current[pid].get(c) != v for c, v in row_cov.items()):
            current[pid].update(row_cov)
            if changes[pid] and changes[pid][-1][0] == rec.time_min:
                changes[pid].pop()  # several records at one time: the last one's values hold
            changes[pid].append((rec.time_min, dict(current[pid])))
        by_id[pid].append(rec)
        addl = int(val("ADDL", 0) or 0)
        if addl > 0:
            if ii <= 0:
                raise DataFileError("ADDL > 0 needs II > 0", row=row, column="II")
            for k in range(1, addl + 1):
                by_id[pid].append(
                    EventRecord(
                        row=row,
                        id=pid,
                        time_min=(time + k * ii) * t_factor,
                        evid=1,
                        amt_mg=rec.amt_mg,
                        rate_mg_per_min=rec.rate_mg_per_min,
                        cmt=rec.cmt,
                        route=rec.route,
                        mdv=1,
                    )
                )
    for pid in order:
        records = sorted(by_id[pid], key=lambda r: r.time_min)  # stable: file order kept
        individuals.append(
            Individual(
                pid, tuple(records), covs[pid], tuple(changes[pid]), tuple(occs.get(pid, ()))
            )
        )
    return individuals


def individual_segments(individual: Individual) -> list[tuple[float, dict[str, float], Individual]]:
    """The individual cut where its covariates change: (start_min, covariates, records).

    Each part holds the dose and reset records from its start to the next change; the first
    starts at minus infinity (``-inf``) with the first row's covariates.
    """
    starts = [(-np.inf, dict(individual.covariates)), *individual.covariate_changes]
    parts = []
    for j, (start, cov) in enumerate(starts):
        end = starts[j + 1][0] if j + 1 < len(starts) else np.inf
        records = tuple(r for r in individual.records if start <= r.time_min < end)
        parts.append((float(start), cov, Individual(individual.id, records, cov)))
    return parts


@dataclass(frozen=True)
class IndividualPart:
    """A stretch of an individual's records with one set of covariates and one occasion.

    ``start_min``: from this time on (``-inf`` for the first part) until the next part;
    ``covariates``: every covariate then; ``occasion``: the OCC label (``None`` without an OCC
    column); ``individual``: the dose and reset records in the part, with these covariates.
    """

    start_min: float
    covariates: dict[str, float]
    occasion: int | None
    individual: Individual


def individual_parts(individual: Individual) -> list[IndividualPart]:
    """The individual cut wherever its covariates or its occasion (OCC) change.

    Records before the first OCC value belong to the first occasion.
    """
    cov_starts = [(-np.inf, dict(individual.covariates)), *individual.covariate_changes]
    occ = list(individual.occasions)
    times = sorted({t for t, _ in cov_starts[1:]} | {t for t, _ in occ[1:]})
    starts = [-np.inf, *times]
    parts = []
    for j, start in enumerate(starts):
        end = starts[j + 1] if j + 1 < len(starts) else np.inf
        cov = next(c for t, c in reversed(cov_starts) if t <= start)
        label = None
        if occ:
            label = next((o for t, o in reversed(occ) if t <= start), occ[0][1])
        records = tuple(r for r in individual.records if start <= r.time_min < end)
        parts.append(
            IndividualPart(float(start), cov, label, Individual(individual.id, records, cov))
        )
    return parts
