"""The calibration data of the empirical antidepressant model and its predictions of them.

``antidepressant_data.csv`` (published summaries, one row per value; ``use`` = fit or test) and
``antidepressant_design.toml`` (the dosing design of every arm) beside this file; the parent
drug's exposure of each arm for a typical adult; the model's prediction of each value, with an
optional trial effect on the non-specific parts of each study (see
:mod:`ketasim.pd.calibration.antidepressant_fit`).

Weights: MADRS changes by their published (or derived) standard error; response rates by the
binomial SE ``sqrt(p(1-p)/n)`` floored at 0.05 (a fitting choice), 0.05 when n is not given.
"""

from __future__ import annotations

import csv
import io
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    GRID_STEP_H,
    AntidepressantParams,
    Background,
    exposure_memory,
    outcome_probabilities,
    placebo_parts,
    potency_factor,
    relapse_probability,
)
from ketasim.pd.antidepressant_parts import drug_time_factor
from ketasim.pd.antidepressant_relapse import (
    fluctuation_variance,
    rated_relapse_probability,
    relapse_is_rated,
    visit_times,
)
from ketasim.pk import Dose, Regimen, simulate
from ketasim.units import parse_duration_min, parse_quantity

__all__ = [
    "JANSSEN_REMISSION_CUTOFF",
    "POOLED_STUDIES",
    "RATES",
    "RESPONSE_SE_FLOOR",
    "CalibrationPoint",
    "calibration_points",
    "exposures",
    "parent_outputs",
    "predict_points",
    "trial_studies",
]

FloatArray = NDArray[np.float64]
# Pooled estimates over several trials (meta-analyses): no single trial's effect applies.
POOLED_STUDIES = frozenset({"Han 2016", "Cochrane 2021", "Khan 2008", "Geddes 2003"})

RESPONSE_SE_FLOOR = 0.05
RATES = ("response_rate", "remission_rate", "relapse_rate")
HORIZON_H = 1000.0  # exposure grid of the calibration designs (h after the first session)
QUANTITIES = ("madrs_change", "madrs_difference", *RATES)
JANSSEN_REMISSION_CUTOFF = 12.0  # remission_rate rows: MADRS <= 12 (the esketamine trials)

FIT_NODES = (40, 40)  # equal-probability nodes (eta_P, eta_D) while fitting


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One published summary value (``quantity``: madrs_change, madrs_difference between two
    regimens ``a-b``, response_rate, remission_rate, or relapse_rate: the fraction of the
    responders at the end of the course, last session + 24 h, who are no longer responders at
    ``time_h``; the design's ``relapse_from_h`` may set another reference time))."""

    study: str
    arm: str
    regimen: str
    background: Background
    time_h: float
    quantity: str
    value: float
    se: float
    n: int | None
    baseline_madrs: float | None
    source: str
    confidence: str
    use: str


def _text(name: str) -> str:
    return (resources.files("ketasim.pd.calibration") / name).read_text(encoding="utf-8")


@cache
def _design() -> dict[str, dict[str, object]]:
    regimens = tomllib.loads(_text("antidepressant_design.toml"))["regimens"]
    assert isinstance(regimens, dict)
    return regimens


@cache
def calibration_points(use: str = "fit") -> tuple[CalibrationPoint, ...]:
    """The packaged data (``antidepressant_data.csv``) with weights; ``use`` fit or test."""
    out = []
    for row in csv.DictReader(io.StringIO(_text("antidepressant_data.csv"))):
        if row["use"] != use:
            continue
        value = float(row["value"])
        n = int(row["n"]) if row["n"] else None
        if row["quantity"] not in QUANTITIES:
            raise ValueError(f"antidepressant_data.csv: unknown quantity {row['quantity']!r}")
        if row["quantity"] in ("madrs_change", "madrs_difference"):
            se = float(row["se"])
        else:
            se = RESPONSE_SE_FLOOR
            if n is not None:
                se = max(math.sqrt(value * (1 - value) / n), RESPONSE_SE_FLOOR)
        bg = row["background"]
        assert bg in ("continuing", "new_oral_ad")
        out.append(
            CalibrationPoint(
                row["study"],
                row["arm"],
                row["regimen"],
                bg,  # type: ignore[arg-type]
                float(row["time_h"]),
                row["quantity"],
                value,
                se,
                n,
                float(row["baseline_madrs"]) if row["baseline_madrs"] else None,
                row["source"],
                row["confidence"],
                row["use"],
            )
        )
    return tuple(out)


@cache
def exposures() -> dict[str, tuple[FloatArray, tuple[float, ...]]]:
    """Per design regimen: (parent plasma ng/mL on the 2-min grid from 0 to HORIZON_H, sessions h),
    typical 70-kg 45-year adult; zeros for control arms. Plain concentrations: the potency
    factor of the parent (:func:`parent_outputs`) is applied where the model is evaluated."""
    horizon_h = HORIZON_H
    grid = np.arange(0.0, horizon_h + GRID_STEP_H / 2, GRID_STEP_H)
    out = {}
    for name, spec in _design().items():
        sessions = tuple(float(s) for s in spec["sessions_h"])  # type: ignore[attr-defined]
        if "pk_model" not in spec:
            out[name] = (np.zeros_like(grid), sessions)
            continue
        model = resolve_model(str(spec["pk_model"]))
        q = parse_quantity(str(spec["dose"]), field="dose")
        first = parse_quantity(str(spec.get("first_dose", spec["dose"])), field="first_dose")
        over = parse_duration_min(str(spec["over"])) if "over" in spec else 0.0
        doses = [
            Dose(d.value, d.unit, s * 60.0, str(spec["route"]), over)
            for d, s in zip([first] + [q] * (len(sessions) - 1), sessions, strict=True)
        ]
        sim = simulate(
            model,
            Patient(weight_kg=70.0, age_years=45.0),
            Regimen(tuple(doses)),
            times_min=grid * 60.0,
        )
        parent = _parent_output(str(spec["pk_model"]))
        out[name] = (np.maximum(sim.concentrations_ng_per_ml[parent], 0.0), sessions)
    return out


def _parent_output(pk_model: str) -> str:
    names = {f"{a.name}_plasma" for a in resolve_model(pk_model).analytes}
    return next(k for k in ("ketamine_plasma", "esketamine_plasma") if k in names)


@cache
def parent_outputs() -> dict[str, str | None]:
    """Per design regimen: the parent plasma output driving it (None for control arms)."""
    return {
        name: _parent_output(str(spec["pk_model"])) if "pk_model" in spec else None
        for name, spec in _design().items()
    }


@cache
def responders_from_h() -> dict[str, float]:
    """Per design regimen: the time (h) at which the responders of a ``relapse_rate`` point are
    taken: the design's ``relapse_from_h`` (a trial whose acute phase ends later, e.g. an oral
    placebo phase), else the end of the course (last session + 24 h)."""
    out = {}
    for name, spec in _design().items():
        sessions = [float(s) for s in spec["sessions_h"]]  # type: ignore[attr-defined]
        out[name] = float(spec.get("relapse_from_h", max(sessions) + 24.0))  # type: ignore[arg-type]
    return out


@cache
def oral_ad_stop_h() -> dict[str, float | None]:
    """Per design regimen: when a newly started oral antidepressant is stopped (switched to
    placebo), h after the first session; None: continued (design field ``oral_ad_stop_h``)."""
    return {
        name: float(spec["oral_ad_stop_h"]) if "oral_ad_stop_h" in spec else None  # type: ignore[arg-type]
        for name, spec in _design().items()
    }


@cache
def relapse_visits_every_h() -> dict[str, float]:
    """Per design regimen: the spacing of the rating visits at which relapse is judged when the
    model has a within-patient fluctuation (design field ``relapse_visit_every_h``; weekly by
    default)."""
    return {
        name: float(spec.get("relapse_visit_every_h", 168.0))  # type: ignore[arg-type]
        for name, spec in _design().items()
    }


def relapse_visits(regimen: str, from_h: float, to_h: float) -> FloatArray:
    """The reference time, then the visits every ``relapse_visits_every_h`` up to ``to_h``
    (the last visit at ``to_h``)."""
    return visit_times(from_h, to_h, relapse_visits_every_h()[regimen])


@cache
def _grid() -> FloatArray:
    return np.arange(0.0, HORIZON_H + GRID_STEP_H / 2, GRID_STEP_H)


def trial_studies(points: tuple[CalibrationPoint, ...]) -> list[str]:
    """The studies of ``points`` that are single trials (each gets a trial effect), in order."""
    return [s for s in dict.fromkeys(p.study for p in points) if s not in POOLED_STUDIES]


def _regimen_value(
    params: AntidepressantParams,
    regimen: str,
    pt: CalibrationPoint,
    ce_cache: dict[str, FloatArray],
    trial_scale: float,
) -> float:
    conc, sessions = exposures()[regimen]
    if regimen not in ce_cache:
        parent = parent_outputs()[regimen]
        scale = potency_factor(parent, params) if parent is not None else 0.0
        ce_cache[regimen] = exposure_memory(
            conc * scale, GRID_STEP_H, params.ke0_per_h, power=params.exposure_power
        )
    end_h = responders_from_h()[regimen]  # the end of a course unless the design says so
    relapse = pt.quantity == "relapse_rate"
    rated = relapse_is_rated(params)
    if relapse and rated:
        t = relapse_visits(regimen, end_h, pt.time_h)
    elif relapse:
        t = np.array([end_h, pt.time_h])
    else:
        t = np.array([pt.time_h])
    stop = oral_ad_stop_h()[regimen]
    parts = placebo_parts(t, sessions, params, pt.background, oral_ad_stop_h=stop)
    hp = trial_scale * (parts["session"] + parts["expectancy"] + parts["new_oral_ad"])
    ce = np.interp(t, _grid(), ce_cache[regimen])
    tolerance = drug_time_factor(t, sessions, params)
    bl = pt.baseline_madrs if pt.baseline_madrs is not None else params.typical_baseline_madrs
    if relapse and rated:
        return rated_relapse_probability(bl, hp, ce, t, params, drug_scale=tolerance).probability
    if relapse:
        return float(relapse_probability(bl, hp, ce, params, 0, tolerance)[1])
    rates = pt.quantity in RATES
    o = outcome_probabilities(
        bl,
        hp,
        ce,
        params,
        nodes=FIT_NODES,
        probabilities=rates,
        remission_cutoff=JANSSEN_REMISSION_CUTOFF,
        drug_scale=tolerance,
        fluctuation_var=fluctuation_variance(t, params),
    )
    if pt.quantity == "response_rate":
        return float(o.response[0])
    if pt.quantity == "remission_rate":
        return float(o.remission[0])
    return float(o.mean_change[0])


def predict_points(
    params: AntidepressantParams,
    points: tuple[CalibrationPoint, ...],
    trial_eta: Mapping[str, float] | None = None,
) -> FloatArray:
    """Model predictions per point (MADRS change or difference in points; rates 0-1).

    ``trial_eta``: per study, the trial effect eta_T on the log of its non-specific parts
    (all arms of the study: ``exp(eta_T)`` times session + expectancy + new oral
    antidepressant); studies not named get 0 (a typical trial)."""
    ce_cache: dict[str, FloatArray] = {}
    eta = trial_eta or {}
    out = np.empty(len(points))
    for i, pt in enumerate(points):
        scale = math.exp(eta.get(pt.study, 0.0))
        if pt.quantity == "madrs_difference":
            a, b = pt.regimen.split("-", 1)
            out[i] = _regimen_value(params, a, pt, ce_cache, scale) - _regimen_value(
                params, b, pt, ce_cache, scale
            )
        else:
            out[i] = _regimen_value(params, pt.regimen, pt, ce_cache, scale)
    return out
