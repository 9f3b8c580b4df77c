"""The dosing question: rank candidate courses by predicted response and durability.

Each candidate course is a dose, sessions per week and weeks of induction, then maintenance
(none, weekly or every two weeks) up to day 84. For one patient (their PK through the chosen PK
model), the EMPIRICAL antidepressant model gives the probability of response at day 28 and at
days 56 and 84 (durability) and a 90% band of the patient's MADRS (between-patient
distribution). Constraints: highest dose, most sessions a week, and the largest acceptable peak
systolic BP rise of one session from the EMPIRICAL cardiovascular model (typical patient).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    AntidepressantParams,
    Background,
    antidepressant_course,
    default_antidepressant_params,
    exposure_memory,
    parent_concentration,
    placebo_parts,
)
from ketasim.pd.antidepressant_parts import individual_scores
from ketasim.pd.antidepressant_population import quadrature_nodes
from ketasim.pk import Dose, Regimen

__all__ = ["CourseCandidate", "RankedCourse", "candidate_regimen", "rank_courses"]

FloatArray = NDArray[np.float64]
_HORIZON_H = 84 * 24.0
_WEEKDAY_OFFSETS_H = {1: (0.0,), 2: (0.0, 72.0), 3: (0.0, 48.0, 96.0)}  # Mon / Mon-Thu / M-W-F
_ASSESS_D = (28, 56, 84)


@dataclass(frozen=True)
class CourseCandidate:
    """Dose (``dose_unit``, e.g. mg/kg), sessions per week, induction weeks, maintenance
    interval in days after induction (None: none)."""

    dose: float
    dose_unit: str
    sessions_per_week: int
    weeks: int
    maintenance_every_days: int | None

    @property
    def label(self) -> str:
        """A short text form."""
        m = (
            "no maintenance"
            if self.maintenance_every_days is None
            else f"then every {self.maintenance_every_days} d"
        )
        return (
            f"{self.dose:g} {self.dose_unit}, {self.sessions_per_week}/week x "
            f"{self.weeks} weeks, {m}"
        )


def candidate_regimen(c: CourseCandidate, *, route: str, over_min: float) -> Regimen:
    """The doses of a candidate course up to day 84."""
    times = [
        w * 168.0 + off for w in range(c.weeks) for off in _WEEKDAY_OFFSETS_H[c.sessions_per_week]
    ]
    if c.maintenance_every_days is not None:
        t = c.weeks * 168.0
        while t < _HORIZON_H - 24.0:
            times.append(t)
            t += c.maintenance_every_days * 24.0
    return Regimen(tuple(Dose(c.dose, c.dose_unit, t * 60.0, route, over_min) for t in times))


@dataclass(frozen=True)
class RankedCourse:
    """One candidate with its predictions (``feasible`` False: excluded, with ``reason``)."""

    candidate: CourseCandidate
    sessions: int
    response_day28: float
    response_day56: float
    response_day84: float
    remission_day28: float
    madrs_day28_band: tuple[float, float, float]
    madrs_day84_band: tuple[float, float, float]
    peak_sbp_rise_mmhg: float | None
    feasible: bool
    reason: str


def _bands(
    bl: float, hp: FloatArray, ce: FloatArray, p: AntidepressantParams
) -> list[tuple[float, float, float]]:
    """5th, 50th, 95th percentile of the patient's MADRS over the between-patient
    distribution (quadrature nodes as weighted samples)."""
    ep, ed, w = quadrature_nodes(p)
    scores = individual_scores(bl, hp, ce, p, ep, ed)
    out = []
    for j in range(scores.shape[1]):
        order = np.argsort(scores[:, j])
        cw = np.cumsum(w[order])
        q = [float(scores[order[np.argmax(cw >= f)], j]) for f in (0.05, 0.5, 0.95)]
        out.append((q[0], q[1], q[2]))
    return out


def _peak_sbp(
    model: ModelSpec, patient: Patient, dose: float, unit: str, route: str, over_min: float
) -> float:
    from ketasim.pd.effects import simulate_effects
    from ketasim.pd.loader import resolve_pd_model

    cv = resolve_pd_model("cardiovascular")
    times = np.arange(0.0, 6 * 60.0 + 1.0, 2.0)
    _, eff = simulate_effects(
        cv,
        model,
        patient,
        Regimen((Dose(dose, unit, 0.0, route, over_min),)),
        times_min=times,
        allow_extrapolation=True,
    )
    sbp = eff.endpoints.get("sbp_change")
    if sbp is None or sbp.values is None:
        raise InputError(
            "max_sbp_rise_mmhg",
            f"the cardiovascular model gives no systolic BP for model {model.id}",
        )
    return float(np.max(sbp.values))


def rank_courses(
    model: ModelSpec,
    patient: Patient,
    *,
    doses: Sequence[float],
    dose_unit: str,
    route: str = "iv",
    over_min: float = 0.0,
    sessions_per_week: Sequence[int] = (1, 2, 3),
    weeks: Sequence[int] = (2, 4),
    maintenance_every_days: Sequence[int | None] = (None, 7, 14),
    max_dose: float | None = None,
    max_sessions_per_week: int = 3,
    max_sbp_rise_mmhg: float | None = None,
    params: AntidepressantParams | None = None,
    background: Background = "continuing",
    baseline_madrs: float | None = None,
    remission_cutoff: float = 10.0,
) -> list[RankedCourse]:
    """Rank candidate courses for one patient: feasible ones first, by response at day 28,
    then at day 84, then fewer sessions. Excluded candidates are listed last with the reason.
    """
    p = params if params is not None else default_antidepressant_params()
    if not doses or any(d <= 0 for d in doses):
        raise InputError("doses_mg", "give one or more positive doses")
    if not 1 <= max_sessions_per_week <= 3:
        raise InputError("max_sessions_per_week", f"{max_sessions_per_week} is not 1-3")
    bad = [s for s in sessions_per_week if s not in _WEEKDAY_OFFSETS_H]
    if bad:
        raise InputError("sessions_per_week", f"{bad} not in 1, 2, 3")
    bl = p.typical_baseline_madrs if baseline_madrs is None else float(baseline_madrs)
    sbp_cache: dict[float, float] = {}
    out: list[RankedCourse] = []
    t_assess = np.array([d * 24.0 for d in _ASSESS_D])
    for dose, spw, wk, maint in itertools.product(
        doses, sessions_per_week, weeks, maintenance_every_days
    ):
        c = CourseCandidate(float(dose), dose_unit, int(spw), int(wk), maint)
        reasons = []
        if max_dose is not None and dose > max_dose:
            reasons.append(f"dose above --max-dose {max_dose:g}")
        if spw > max_sessions_per_week:
            reasons.append(f"more than {max_sessions_per_week} sessions/week")
        sbp = None
        if max_sbp_rise_mmhg is not None:
            if dose not in sbp_cache:
                sbp_cache[dose] = _peak_sbp(model, patient, dose, dose_unit, route, over_min)
            sbp = sbp_cache[dose]
            if sbp > max_sbp_rise_mmhg:
                reasons.append(f"peak SBP rise {sbp:.1f} > {max_sbp_rise_mmhg:g} mmHg")
        regimen = candidate_regimen(c, route=route, over_min=over_min)
        grid, conc = parent_concentration(
            model, patient, regimen, _HORIZON_H, allow_extrapolation=True, params=p
        )
        sessions = sorted({d.time_min / 60.0 for d in regimen})
        course = antidepressant_course(
            grid,
            conc,
            sessions,
            t_assess,
            params=p,
            background=background,
            baseline_madrs=bl,
            remission_cutoff=remission_cutoff,
        )
        parts = placebo_parts(t_assess, sessions, p, background)
        hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
        step = float(grid[1] - grid[0])
        ce = np.interp(
            t_assess, grid, exposure_memory(conc, step, p.ke0_per_h, power=p.exposure_power)
        )
        bands = _bands(bl, hp, ce, p)
        out.append(
            RankedCourse(
                c,
                len(sessions),
                float(course.response_probability[0]),
                float(course.response_probability[1]),
                float(course.response_probability[2]),
                float(course.remission_probability[0]),
                bands[0],
                bands[2],
                sbp,
                not reasons,
                "; ".join(reasons),
            )
        )
    out.sort(
        key=lambda r: (
            not r.feasible,
            -round(r.response_day28, 3),
            -round(r.response_day84, 3),
            r.sessions,
        )
    )
    return out
