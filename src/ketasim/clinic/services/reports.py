"""Access and outcomes by demographic group, with small-cell suppression.

Counts below ``min_cell`` (default 5) are suppressed (shown as None), and when only one cell of a
column is suppressed the next smallest is suppressed too, so totals cannot reveal it (primary and
complementary suppression, as in the UK ONS and US CDC disclosure-control guidance). Rates are
given only when both counts are shown.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.db.models import Patient, Rating, Screening, TreatmentSession
from ketasim.clinic.services.base import Invalid
from ketasim.clinic.services.patients import age_years
from ketasim.clinic.services.ratings import course

__all__ = ["DIMENSIONS", "METRICS", "equity_report"]

DIMENSIONS = ("sex", "ethnicity", "age_group", "language")
METRICS = ("patients", "screened", "eligible", "treated", "responders")


def _age_group(birth: dt.date) -> str:
    a = age_years(birth)
    for hi, label in ((25, "18-24"), (45, "25-44"), (65, "45-64")):
        if a < hi:
            return label if a >= 18 else "under 18"
    return "65+"


def equity_report(session: Session, dimension: str, *, min_cell: int = 5) -> dict[str, object]:
    """Counts of each metric per group of ``dimension`` (suppressed below ``min_cell``)."""
    if dimension not in DIMENSIONS:
        raise Invalid("dimension", f"{dimension!r}; accepted: {', '.join(DIMENSIONS)}")
    if not 1 <= min_cell <= 100:
        raise Invalid("min_cell", f"{min_cell} is out of range; accepted 1 to 100")
    patients = list(session.execute(select(Patient)).scalars())
    screened = {
        r[0]: r[1]
        for r in session.execute(
            select(Screening.patient_id, Screening.eligible).order_by(Screening.id)
        )
    }
    treated = {
        r[0]
        for r in session.execute(
            select(TreatmentSession.patient_id).where(TreatmentSession.dose_mg.is_not(None))
        )
    }
    ratings: dict[int, list[Rating]] = defaultdict(list)
    for r in session.execute(select(Rating).where(Rating.scale == "MADRS")).scalars():
        ratings[r.patient_id].append(r)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(METRICS, 0))
    for p in patients:
        group = _age_group(p.birth_date) if dimension == "age_group" else str(getattr(p, dimension))
        c = counts[group]
        c["patients"] += 1
        if p.id in screened:
            c["screened"] += 1
            c["eligible"] += int(bool(screened[p.id]))
        if p.id in treated:
            c["treated"] += 1
            if any(pt.response for pt in course(ratings[p.id], "MADRS")):
                c["responders"] += 1
    groups = sorted(counts)
    shown: dict[str, dict[str, int | None]] = {g: dict(counts[g]) for g in groups}
    for m in METRICS:
        small = [g for g in groups if 0 < counts[g][m] < min_cell]
        for g in small:
            shown[g][m] = None
        if len(small) == 1 and len(groups) > 1:
            rest = sorted((g for g in groups if g not in small), key=lambda g: counts[g][m])
            shown[rest[0]][m] = None
    rows = []
    for g in groups:
        row: dict[str, object] = {"group": g, **shown[g]}
        for num, den in (("treated", "screened"), ("responders", "treated")):
            n, d = shown[g][num], shown[g][den]
            row[f"{num}_per_{den}"] = None if n is None or not d else round(n / d, 3)
        rows.append(row)
    return {
        "dimension": dimension,
        "min_cell": min_cell,
        "rows": rows,
        "note": f"counts 1-{min_cell - 1} suppressed (None), with complementary suppression",
    }
