"""Ranking candidate courses under constraints (EMPIRICAL antidepressant model)."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.antidepressant_optimise import CourseCandidate, candidate_regimen, rank_courses
from ketasim.pk import simulate
from ketasim.regimens import parse_regimen


def test_constraints_exclude_and_feasible_courses_are_ranked() -> None:
    model, patient = resolve_model("domino"), Patient(weight_kg=70.0)
    ranked = rank_courses(
        model,
        patient,
        doses=[0.5, 1.0],
        dose_unit="mg/kg",
        over_min=40.0,
        sessions_per_week=(2, 3),
        weeks=(4,),
        maintenance_every_days=(None,),
        max_sessions_per_week=2,
        max_sbp_rise_mmhg=10.0,
    )
    feasible = [r for r in ranked if r.feasible]
    assert [r.candidate.label for r in feasible] == ["0.5 mg/kg, 2/week x 4 weeks, no maintenance"]
    # cardiovascular-iv-empirical: SBP change = 0.03079 mmHg per ng/mL x plasma ketamine
    t = np.arange(0.0, 360.0, 1.0)
    cmax = (
        simulate(model, patient, parse_regimen("1.0 mg/kg", over="40min"), times_min=t)
        .concentrations_ng_per_ml["ketamine_plasma"]
        .max()
    )
    high = next(r for r in ranked if r.candidate.dose == 1.0 and r.candidate.sessions_per_week == 2)
    assert high.peak_sbp_rise_mmhg == pytest.approx(0.03079 * cmax, rel=1e-3)
    assert "SBP" in high.reason
    thrice = next(
        r for r in ranked if r.candidate.dose == 0.5 and r.candidate.sessions_per_week == 3
    )
    assert not thrice.feasible and "sessions/week" in thrice.reason
    # unconstrained, a thrice-weekly course is predicted at least as good at day 28
    assert thrice.response_day28 >= feasible[0].response_day28
    for r in ranked:
        lo, mid, hi = r.madrs_day28_band
        assert lo <= mid <= hi


def test_candidate_regimen_and_bad_input() -> None:
    c = CourseCandidate(56.0, "mg", 2, 4, 14)
    reg = candidate_regimen(c, route="intranasal", over_min=0.0)
    times_d = [d.time_min / 1440.0 for d in reg]
    assert times_d[:8] == [0, 3, 7, 10, 14, 17, 21, 24]
    assert times_d[8:] == [28, 42, 56, 70]  # every 14 d after induction, before day 83
    with pytest.raises(InputError, match="doses_mg"):
        rank_courses(resolve_model("domino"), Patient(70.0), doses=[], dose_unit="mg/kg")
    with pytest.raises(InputError, match="max_sessions_per_week"):
        rank_courses(
            resolve_model("domino"),
            Patient(70.0),
            doses=[0.5],
            dose_unit="mg/kg",
            max_sessions_per_week=5,
        )
