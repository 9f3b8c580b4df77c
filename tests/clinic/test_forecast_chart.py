"""The patient's MADRS forecast (EMPIRICAL antidepressant model) drawn on the score chart.

The wiring is checked independently: the test builds the model's inputs itself from what the API
returns (dose times and amounts, the plan's doses, the rating dates) and compares the service's
forecast with a direct call of ``forecast_from_ratings``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
from clinic_support import REMS_ANSWERS, clock_at, ok, patient_with_plan

from ketasim.catalogue import resolve_model
from ketasim.clinic.services.forecast import forecast_for
from ketasim.patient import Patient
from ketasim.pd.antidepressant_forecast import exposure_of, forecast_from_ratings
from ketasim.pk import Dose, Regimen

TODAY = dt.datetime.now(dt.UTC).date()


def _session(c: dict[str, Any], plan_id: int, day: dt.date, dose_mg: float) -> dict[str, Any]:
    with clock_at(c, f"{day}T09:45:00Z"):  # opened and checked before the dose
        sid = ok(c["nurse"].post("/api/v1/sessions", json={"plan_id": plan_id}), 201)["id"]
        ok(
            c["nurse"].post(
                f"/api/v1/sessions/{sid}/predose",
                json={"sbp_mmhg": 126, "dbp_mmhg": 80, "heart_rate_bpm": 70, "spo2_percent": 98},
            )
        )
    ok(
        c["nurse"].post(
            f"/api/v1/sessions/{sid}/dose",
            json={"dose_mg": dose_mg, "lot_number": "LOT-7", "start_at": f"{day}T10:00:00"},
        )
    )
    for minute, cp in ((0, "pre-dose"), (40, "40-min"), (125, "pre-discharge")):
        ok(
            c["nurse"].post(
                f"/api/v1/sessions/{sid}/observations",
                json={
                    "minutes_after_dose": minute,
                    "checkpoint": cp,
                    "sbp_mmhg": 128,
                    "dbp_mmhg": 82,
                    "heart_rate_bpm": 72,
                    "spo2_percent": 97,
                },
            ),
            201,
        )
    ok(
        c["nurse"].post(
            f"/api/v1/sessions/{sid}/discharge",
            json={"discharged_at": f"{day}T12:10:00", "criteria_met": True, **REMS_ANSWERS},
        )
    )
    ok(c["nurse"].post(f"/api/v1/sessions/{sid}/sign"))
    return dict(ok(c["nurse"].get(f"/api/v1/sessions/{sid}")))


def _rate(c: dict[str, Any], pid: int, scale: str, day: dt.date, score: int) -> None:
    ok(
        c["nurse"].post(
            f"/api/v1/patients/{pid}/ratings",
            json={"scale": scale, "score": score, "taken_on": day.isoformat()},
        ),
        201,
    )


def _chart(html: str) -> str:
    m = re.search(r'<svg [^>]*id="score-chart-MADRS".*?</svg>', html, re.S)
    assert m, "no MADRS chart"
    return m.group(0)


def test_forecast_is_drawn_and_equals_a_direct_call(app: Any, as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    d1, d2 = TODAY - dt.timedelta(days=10), TODAY - dt.timedelta(days=7)
    s1 = _session(as_role, plan_id, d1, 56.0)
    s2 = _session(as_role, plan_id, d2, 56.0)
    ratings = ((d1 - dt.timedelta(days=1), 34), (d2, 26), (TODAY - dt.timedelta(days=3), 22))
    for day, score in ratings:
        _rate(as_role, pid, "MADRS", day, score)
    _rate(as_role, pid, "PHQ-9", d2, 14)

    plain = as_role["prescriber"].get(f"/patients/{pid}").text  # on demand only
    assert 'id="show-forecast"' in plain and "forecast-band" not in _chart(plain)
    html = as_role["prescriber"].get(f"/patients/{pid}?forecast=1").text
    svg = _chart(html)
    assert 'class="forecast-band"' in svg and "forecast 90% band" in svg
    assert "forecast (MAP, empirical model)" in svg
    assert "EMPIRICAL model forecast" in html and "not a prediction" in html
    assert "forecasts MADRS only (PHQ-9 is refused)" in html
    # observed points keep their markers; the forecast line has none and starts at the last one
    assert svg.count("<circle") == 3

    # independent inputs: from the API's records, hours after the first dose's start
    t0 = dt.datetime.fromisoformat(s1["dose_start_at"]).replace(tzinfo=None)
    t2 = (dt.datetime.fromisoformat(s2["dose_start_at"]).replace(tzinfo=None) - t0) / dt.timedelta(
        hours=1
    )
    plan = ok(as_role["auditor"].get(f"/api/v1/plans/{plan_id}"))
    times = [
        max((dt.datetime.combine(d, dt.time()) - t0) / dt.timedelta(hours=1), 0.0)
        for d, _ in ratings
    ]
    doses = [
        Dose(56.0, "mg", 0.0, "intranasal", plan["duration_min"]),
        Dose(56.0, "mg", t2 * 60.0, "intranasal", plan["duration_min"]),
    ]
    doses += [
        Dose(d["amount_mg"], "mg", d["time_min"], d["route"], d["duration_min"])
        for d in plan["doses"][2:]
        if d["time_min"] / 60.0 > max(t2, times[-1])
    ]
    assert len(doses) > 2  # the plan's remaining sessions are in the schedule
    now = dt.datetime.combine(TODAY, dt.time(12))
    out_t = np.arange(times[-1], (now - t0) / dt.timedelta(hours=1) + 28 * 24 + 1e-9, 12.0)
    exposure = exposure_of(
        resolve_model("perez-ruixo-2021"),
        Patient(
            weight_kg=70.0,
            age_years=(dt.date.today() - dt.date(1980, 5, 1)).days / 365.25,
            height_cm=168.0,
            sex="female",
        ),
        Regimen(tuple(doses)),
        float(out_t[-1]),
        allow_extrapolation=True,
    )
    direct = forecast_from_ratings(
        times, [s for _, s in ratings], exposure, out_t, draws=300, rng=0
    ).schedules["planned"]
    with app.state.db.read() as s:
        fc = forecast_for(s, pid, now, draws=300)
    assert fc.available and fc.times[0] == t0 + dt.timedelta(hours=times[-1])
    np.testing.assert_allclose(fc.map_madrs, direct.map_madrs, rtol=1e-9)
    np.testing.assert_allclose(fc.low_madrs, direct.low_madrs, rtol=1e-9)
    np.testing.assert_allclose(fc.high_madrs, direct.high_madrs, rtol=1e-9)
    assert np.all(np.asarray(fc.low_madrs) <= np.asarray(fc.map_madrs) + 1e-9)
    assert np.all(np.asarray(fc.map_madrs) <= np.asarray(fc.high_madrs) + 1e-9)


def test_no_madrs_after_a_dose_says_why(as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    d1 = TODAY - dt.timedelta(days=2)
    _session(as_role, plan_id, d1, 56.0)
    _rate(as_role, pid, "MADRS", d1 - dt.timedelta(days=1), 30)
    _rate(as_role, pid, "MADRS", d1, 29)  # the day of the dose counts as baseline
    html = as_role["nurse"].get(f"/patients/{pid}?forecast=1").text
    assert "at least one MADRS rating dated after a dose" in html
    svg = _chart(html)
    assert "forecast-band" not in svg and "forecast (MAP" not in svg


def test_esketamine_forecast_carries_the_model_caution(as_role: dict[str, Any]) -> None:
    """The protocol's PK model is of esketamine: the forecast says how far the model's
    esketamine-minus-placebo differences are from its phase-3 test (never fitted), as
    ``ketasim antidepressant`` does, whenever the stored model is beyond 1.5x of it."""
    from ketasim.pd.calibration.antidepressant_test_gap import esketamine_test_caution

    pid, plan_id = patient_with_plan(as_role)
    d1 = TODAY - dt.timedelta(days=6)
    _session(as_role, plan_id, d1, 56.0)
    _rate(as_role, pid, "MADRS", d1 - dt.timedelta(days=1), 33)
    _rate(as_role, pid, "MADRS", TODAY - dt.timedelta(days=2), 25)
    html = as_role["prescriber"].get(f"/patients/{pid}?forecast=1").text
    expected = esketamine_test_caution()
    assert "forecast-band" in _chart(html)
    if expected is None:
        assert 'id="forecast-caution"' not in html
    else:
        assert 'id="forecast-caution"' in html
        assert f"Model caution: {expected}." in html.replace("&#39;", "'")
