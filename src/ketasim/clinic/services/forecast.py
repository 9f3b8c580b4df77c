"""One patient's MADRS forecast on the patient page, from the EMPIRICAL antidepressant model.

Builds the inputs of :func:`ketasim.pd.antidepressant_forecast.forecast_from_ratings` from the
record: the patient's MADRS ratings, the doses given in sessions (amount, start and end), the
remaining sessions of the signed plan, and the PK model of the plan's protocol (the protocol
library's ``model``, as :func:`ketasim.safety.make_plan` uses it). Decision support: an
empirical model's forecast, not a prediction of this individual's outcome.

Time origin: the start of the first dose (h). Ratings are dated, not timed: a rating is placed
at the start of its day (UTC), i.e. before that day's session; ratings before the first dose
count as baseline (0 h). PHQ-9 and GAD-7 are not forecast: the model is of MADRS only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.catalogue import resolve_model
from ketasim.clinic.db.models import Patient, Rating, TreatmentPlan, TreatmentSession
from ketasim.clinic.services.base import ServiceError
from ketasim.clinic.services.clinical import library_protocol, patient_record
from ketasim.errors import KetasimError
from ketasim.pd.antidepressant_forecast import Exposure, exposure_of, forecast_from_ratings
from ketasim.pd.calibration.antidepressant_test_gap import esketamine_test_caution
from ketasim.pk import Dose, Regimen
from ketasim.safety import default_rules

__all__ = ["HORIZON_DAYS", "NOT_FORECAST", "ForecastInputs", "PatientForecast", "forecast_for"]

HORIZON_DAYS = 28
STEP_H = 12.0
DRAWS = 1000
LABEL = (
    "EMPIRICAL model forecast (decision support, not a prediction of this individual's "
    "outcome): MAP update of the antidepressant model from this patient's MADRS ratings, "
    "90% band of the true score, under the signed plan's remaining sessions"
)
NOT_FORECAST = {
    "PHQ-9": "No forecast: the antidepressant model forecasts MADRS only (PHQ-9 is refused).",
    "GAD-7": "No forecast: the antidepressant model forecasts MADRS only.",
}


@dataclass(frozen=True)
class ForecastInputs:
    """What is passed to :func:`forecast_from_ratings` (times in h after the first dose)."""

    first_dose_at: dt.datetime
    ratings_time_h: NDArray[np.float64]
    ratings_madrs: NDArray[np.float64]
    observed: Exposure
    forecast_times_h: NDArray[np.float64]
    esketamine: bool = False  # the protocol's PK model is of esketamine


@dataclass(frozen=True)
class PatientForecast:
    """The MAP trajectory and 90% band at ``times`` (UTC), or ``note`` saying why none."""

    times: list[dt.datetime]
    map_madrs: list[float]
    low_madrs: list[float]
    high_madrs: list[float]
    note: str
    label: str = LABEL
    caution: str = ""  # how far the model is from its esketamine phase-3 test, if too far

    @property
    def available(self) -> bool:
        return bool(self.times)


class _NoForecastError(Exception):
    pass


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _inputs(session: Session, patient_id: int, now: dt.datetime) -> ForecastInputs:
    """The forecast's inputs from the record; raises ``_NoForecastError`` with the reason."""
    plan = (
        session.execute(
            select(TreatmentPlan)
            .where(TreatmentPlan.patient_id == patient_id, TreatmentPlan.status == "signed")
            .order_by(TreatmentPlan.id.desc())
        )
        .scalars()
        .first()
    )
    if plan is None:
        raise _NoForecastError("No forecast: the patient has no signed plan.")
    given = [
        r
        for r in session.execute(
            select(TreatmentSession)
            .where(
                TreatmentSession.patient_id == patient_id,
                TreatmentSession.dose_mg.is_not(None),
                TreatmentSession.dose_start_at.is_not(None),
            )
            .order_by(TreatmentSession.dose_start_at)
        ).scalars()
        if r.dose_start_at is not None and r.dose_mg is not None
    ]
    if not given:
        raise _NoForecastError("No forecast: no dose has been given yet.")
    t0 = given[0].dose_start_at
    assert t0 is not None
    ratings = list(
        session.execute(
            select(Rating)
            .where(Rating.patient_id == patient_id, Rating.scale == "MADRS")
            .order_by(Rating.taken_on, Rating.id)
        ).scalars()
    )
    times = [max((_day_start(r.taken_on) - t0).total_seconds() / 3600.0, 0.0) for r in ratings]
    if not any(t > 0 for t in times):
        raise _NoForecastError(
            "No forecast: it needs at least one MADRS rating dated after a dose (ratings on "
            "the day of the first dose or before count as baseline)."
        )
    protocol = library_protocol(plan.protocol_id)
    if protocol.model is None:
        raise _NoForecastError(
            f"No forecast: no PK model for this protocol ({protocol.model_note})."
        )
    doses = []
    for r in given:
        assert r.dose_start_at is not None and r.dose_mg is not None
        end = r.dose_end_at
        minutes = (end - r.dose_start_at).total_seconds() / 60.0 if end else plan.duration_min
        start_min = (r.dose_start_at - t0).total_seconds() / 60.0
        doses.append(Dose(float(r.dose_mg), "mg", start_min, plan.route, max(minutes, 0.0)))
    # remaining planned sessions, timed from the first dose as the plan times them; those not
    # after the last dose given or the last rating (missed or superseded) are left out
    last_h = max(doses[-1].time_min / 60.0, times[-1])
    for d in plan.doses[len(given) :]:
        at_min = float(d["time_min"])  # type: ignore[arg-type]
        if at_min / 60.0 > last_h:
            doses.append(
                Dose(
                    float(d["amount_mg"]),  # type: ignore[arg-type]
                    "mg",
                    at_min,
                    str(d["route"]),
                    float(d["duration_min"]),  # type: ignore[arg-type]
                )
            )
    patient = session.get(Patient, patient_id)
    assert patient is not None
    record = patient_record(patient, default_rules())
    start_h = times[-1]
    # the coming 4 weeks from now; from a rating older than 4 weeks, 8 weeks past it at most
    now_h = min(max(start_h, (now - t0).total_seconds() / 3600.0), start_h + HORIZON_DAYS * 24.0)
    end_h = now_h + HORIZON_DAYS * 24.0
    forecast_times = np.arange(start_h, end_h + 1e-9, STEP_H)
    model = resolve_model(protocol.model)
    observed = exposure_of(
        model,
        record.patient,
        Regimen(tuple(doses)),
        float(forecast_times[-1]),
        allow_extrapolation=True,
    )
    return ForecastInputs(
        t0,
        np.asarray(times, dtype=np.float64),
        np.asarray([float(r.score) for r in ratings], dtype=np.float64),
        observed,
        forecast_times,
        esketamine="esketamine" in model.analyte_names,
    )


def forecast_for(
    session: Session, patient_id: int, now: dt.datetime, *, draws: int = DRAWS
) -> PatientForecast:
    """The patient's MADRS forecast over the coming 4 weeks, or a note why there is none."""
    try:
        inputs = _inputs(session, patient_id, now)
        fc = forecast_from_ratings(
            inputs.ratings_time_h,
            inputs.ratings_madrs,
            inputs.observed,
            inputs.forecast_times_h,
            draws=draws,
            rng=0,
        ).schedules["planned"]
    except _NoForecastError as exc:
        return PatientForecast([], [], [], [], str(exc))
    except (KetasimError, ServiceError) as exc:
        return PatientForecast([], [], [], [], f"No forecast: {exc}")
    at = [inputs.first_dose_at + dt.timedelta(hours=float(h)) for h in fc.times_h]
    caution = esketamine_test_caution() if inputs.esketamine else None
    return PatientForecast(
        at,
        [float(v) for v in fc.map_madrs],
        [float(v) for v in fc.low_madrs],
        [float(v) for v in fc.high_madrs],
        "",
        caution=f"Model caution: {caution}." if caution else "",
    )
