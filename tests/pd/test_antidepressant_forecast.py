"""Forecast of one patient from their own ratings: simulation-estimation against the model.

Patients are drawn from the model's own between-patient distributions (the truth is known),
fitted on their first two weeks of ratings, and their weeks 3-4 ratings predicted.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    default_antidepressant_params,
    drug_part,
    madrs_scores,
    placebo_parts,
)
from ketasim.pd.antidepressant_forecast import exposure_of, forecast_from_ratings
from ketasim.pd.antidepressant_individuals import draw_individuals, individual_ratings
from ketasim.regimens import parse_regimen

WEEKS_1_2_H = np.array([0.0, 24.0, 72.0, 96.0, 168.0, 192.0, 240.0, 312.0])
WEEKS_3_4_H = np.array([360.0, 408.0, 504.0, 576.0, 648.0])


def _setting() -> tuple[object, np.ndarray, np.ndarray]:
    p = default_antidepressant_params()
    reg = parse_regimen("0.5 mg/kg", over="40min", repeat="every 84h x 8")
    exp = exposure_of(resolve_model("domino"), Patient(weight_kg=70.0), reg, 700.0)
    return p, exp, np.concatenate((WEEKS_1_2_H, WEEKS_3_4_H))


def test_forecast_beats_the_population_prediction_and_its_bands_cover() -> None:
    p, exp, t = _setting()
    n = 150
    people = draw_individuals(p, n, np.random.default_rng(2026))
    parts = placebo_parts(t, exp.sessions_h, p)
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    from ketasim.pd.antidepressant import exposure_memory

    memory = exposure_memory(
        exp.concentration_ng_per_ml, 1 / 30, p.ke0_per_h, power=p.exposure_power
    )  # the patients are drawn from the model itself (exposure_power since the seventh session)
    ce = np.interp(t, exp.grid_h, memory)
    ratings = individual_ratings(
        people, hp, np.broadcast_to(ce, (n, t.size)), p, np.random.default_rng(7)
    )
    k = WEEKS_1_2_H.size
    err_map, err_pop, inside = [], [], []
    for i in range(n):
        fc = forecast_from_ratings(
            t[:k], ratings[i, :k], exp, WEEKS_3_4_H, params=p, draws=400, rng=i
        )
        s = fc.schedules["planned"]
        truth = ratings[i, k:]
        # population prediction: typical random effects, the patient's baseline rating
        hp_f, ce_f = hp[k:], ce[k:]
        pop = madrs_scores(ratings[i, 0], hp_f, drug_part(ce_f, p), 0.0)
        err_map.append(s.map_madrs - truth)
        err_pop.append(pop - truth)
        inside.append((truth >= s.rating_low) & (truth <= s.rating_high))
    rmse_map = float(np.sqrt(np.mean(np.square(err_map))))
    rmse_pop = float(np.sqrt(np.mean(np.square(err_pop))))
    coverage = float(np.mean(inside))
    print(f"forecast: MAP RMSE {rmse_map:.2f}, population {rmse_pop:.2f}, coverage {coverage:.3f}")
    assert rmse_map <= 0.7 * rmse_pop, (rmse_map, rmse_pop)
    assert 0.85 <= coverage <= 0.95, coverage


def test_alternative_schedule_and_bad_input() -> None:
    p, exp, _ = _setting()
    stop = exposure_of(
        resolve_model("domino"),
        Patient(weight_kg=70.0),
        parse_regimen("0.5 mg/kg", over="40min", repeat="every 84h x 4"),
        700.0,
    )
    t = np.array([0.0, 24.0, 96.0, 168.0, 240.0])
    y = np.array([34.0, 20.0, 18.0, 16.0, 15.0])
    fc = forecast_from_ratings(
        t, y, exp, [336.0, 648.0], schedules={"stop_after_4": stop}, params=p, draws=300
    )
    planned, stopped = fc.schedules["planned"], fc.schedules["stop_after_4"]
    assert planned.map_madrs[1] < stopped.map_madrs[1]  # more sessions, lower MADRS at day 27
    assert np.all(planned.low_madrs <= planned.median_madrs)
    assert np.all(planned.median_madrs <= planned.high_madrs)
    assert fc.baseline_madrs == pytest.approx(34.0, abs=3.0)
    with pytest.raises(InputError, match="madrs"):
        forecast_from_ratings(t, y + 100, exp, [336.0], params=p)
    with pytest.raises(InputError, match="ratings"):
        forecast_from_ratings(t, y[:2], exp, [336.0], params=p)
