"""Model comparison: the same patient and regimen through several published models.

The spread between published models is real uncertainty; :func:`compare_models` makes it
visible as overlaid curves and per-model exposure (Cmax, Tmax, AUC) with the max/min ratio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ketasim.catalogue.evidence import evidence_findings
from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk import Regimen, SimulationResult, simulate

__all__ = [
    "Comparison",
    "ModelCurve",
    "compare_models",
    "exposure_metrics",
    "parent_output",
    "with_totals",
]

FloatArray = NDArray[np.float64]

#: enantiomer outputs whose sum is reported as the racemic analyte
_TOTALS = {
    "ketamine_plasma": ("s_ketamine_plasma", "r_ketamine_plasma"),
    "norketamine_plasma": ("s_norketamine_plasma", "r_norketamine_plasma"),
}


def with_totals(concentrations: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """The outputs plus racemic totals (S + R) where a model gives both enantiomers only."""
    out = dict(concentrations)
    for total, (s, r) in _TOTALS.items():
        if total not in out and s in out and r in out:
            out[total] = out[s] + out[r]
    return out


def parent_output(model: ModelSpec, analyte: str = "ketamine") -> str:
    """The output summarised for ``model``: ``<analyte>_plasma`` if it has one (a racemic
    total counts), else its parent drug's plasma output (e.g. ``esketamine_plasma``)."""
    names = set(model.analyte_names)
    wanted = f"{analyte}_plasma"
    if analyte in names or (
        wanted in _TOTALS and all(n.removesuffix("_plasma") in names for n in _TOTALS[wanted])
    ):
        return wanted
    return f"{model.analyte_names[0]}_plasma"


def exposure_metrics(times_min: FloatArray, conc: FloatArray) -> tuple[float, float, float]:
    """Cmax (ng/mL), Tmax (min) and AUC from the first to the last time (ng*h/mL, trapezoids)."""
    i = int(np.argmax(conc))
    auc = float(np.trapezoid(conc, times_min)) / 60.0
    return float(conc[i]), float(times_min[i]), auc


@dataclass(frozen=True)
class ModelCurve:
    """One model's prediction within a comparison."""

    model: ModelSpec
    result: SimulationResult
    concentrations_ng_per_ml: Mapping[str, FloatArray]


@dataclass(frozen=True)
class Comparison:
    """Several models, one patient, one regimen, one time grid."""

    patient: Patient
    regimen: Regimen
    times_min: FloatArray
    curves: tuple[ModelCurve, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every model's findings (covariates, and regimens outside its evidence)."""
        return tuple(f for c in self.curves for f in c.result.findings) + tuple(
            f
            for c in self.curves
            for f in evidence_findings(c.model, self.regimen, self.patient.weight_kg)
        )

    def long_frame(self) -> pd.DataFrame:
        """Long table: ``model, time_min, <analyte>_<site>_ng_per_ml`` (empty where a model has
        no such output)."""
        frames = []
        for c in self.curves:
            data: dict[str, object] = {"model": c.model.id, "time_min": self.times_min}
            data.update({f"{k}_ng_per_ml": v for k, v in c.concentrations_ng_per_ml.items()})
            frames.append(pd.DataFrame(data))
        frame = pd.concat(frames, ignore_index=True)
        first = ["model", "time_min"]
        rest = sorted(c for c in frame.columns if c not in first)
        return frame[first + rest]

    def summary(self, analyte: str = "ketamine") -> dict[str, object]:
        """Per model Cmax, Tmax and AUC(0-last) of ``analyte`` (or the model's parent drug),
        and the max/min ratio of each across models."""
        rows = []
        for c in self.curves:
            output = parent_output(c.model, analyte)
            cmax, tmax, auc = exposure_metrics(self.times_min, c.concentrations_ng_per_ml[output])
            rows.append(
                {
                    "model": c.model.id,
                    "output": output,
                    "cmax_ng_per_ml": cmax,
                    "tmax_min": tmax,
                    "auc_0_last_ng_h_per_ml": auc,
                }
            )
        spread: dict[str, float | None] = {}
        for key in ("cmax_ng_per_ml", "tmax_min", "auc_0_last_ng_h_per_ml"):
            values = [float(r[key]) for r in rows]  # type: ignore[arg-type]
            positive = [v for v in values if v > 0]
            spread[key] = (
                max(positive) / min(positive) if len(positive) == len(values) and values else None
            )
        return {"models": rows, "max_min_ratio": spread}


def compare_models(
    models: Sequence[ModelSpec],
    patient: Patient,
    regimen: Regimen,
    *,
    times_min: FloatArray | Sequence[float],
    allow_extrapolation: bool = False,
) -> Comparison:
    """Simulate ``regimen`` in ``patient`` with every model (typical values, no variability)."""
    if not models:
        raise InputError("models", "no model to compare (name two or more models, or all)")
    routes = {d.route for d in regimen}
    for m in models:
        missing = routes - set(m.route_names)
        if missing:
            raise InputError(
                "models",
                f"model {m.id} does not support route "
                f"{', '.join(sorted(missing))}; it supports "
                f"{', '.join(m.route_names)}",
            )
    times = np.asarray(times_min, dtype=float)
    curves = []
    for m in models:
        res = simulate(
            m, patient, regimen, times_min=times, allow_extrapolation=allow_extrapolation
        )
        curves.append(ModelCurve(m, res, with_totals(res.concentrations_ng_per_ml)))
    return Comparison(patient, regimen, times, tuple(curves))
