"""Dose recommendations from an individual fit (linear models: exposure scales with dose).

- Steady-state concentration target: an IV infusion at rate ``R`` reaches
  ``C_ss = c' (-K^-1) e R`` (``e`` the IV input state, ``c`` the analyte's plasma row), so
  ``R = target / (c' (-K^-1) e)``.
- Exposure target (AUC from 0 to infinity of one IV dose ``D``): ``AUC = c' (-K^-1) e D``,
  the same quantity, so ``D = AUC_target / (c' (-K^-1) e)``.

The 90% interval propagates the Laplace posterior (delta method on the log scale), so it says
how sure the recommendation is given the levels measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ketasim.errors import InputError
from ketasim.estimation.problem import FD_STEP
from ketasim.estimation.result import Z90, IndividualFit
from ketasim.pk.system import LinearSystem
from ketasim.pk.time_varying import check_fixed_target

__all__ = ["DoseRecommendation", "recommend_infusion_rate"]


@dataclass(frozen=True, slots=True)
class DoseRecommendation:
    """A recommended IV dose with its 90% posterior interval.

    ``kind = "rate"``: infusion rate (mg/h) reaching the target steady-state concentration;
    ``kind = "dose"``: one IV dose (mg) giving the target AUC(0-inf).
    """

    kind: Literal["rate", "dose"]
    analyte: str
    target: float
    target_unit: str
    value: float
    unit: str
    ci90_low: float
    ci90_high: float
    typical_value: float

    def describe(self) -> str:
        """One sentence for people."""
        what = (
            "infusion rate for a steady-state"
            if self.kind == "rate"
            else "IV dose for an AUC(0-inf)"
        )
        return (
            f"{what} {self.analyte} of {self.target:g} {self.target_unit}: "
            f"{self.value:.4g} {self.unit} (90% interval {self.ci90_low:.4g} to "
            f"{self.ci90_high:.4g}; typical patient {self.typical_value:.4g} {self.unit})"
        )


def _exposure_per_unit(system: LinearSystem, analyte: str) -> float:
    """Steady-state mg/L per mg/min of IV infusion (= AUC mg.min/L per mg of IV dose)."""
    if "iv" not in system.routes:
        raise InputError("target", f"model {system.model_id} has no IV route to dose by")
    e = np.zeros(system.n_states)
    for inp in system.routes["iv"]:
        e[inp.state] += float(inp.fraction.evaluate(dict(system.parameters)))
    row = next((o.row for o in system.outputs if o.name == f"{analyte}_plasma"), None)
    if row is None:
        raise InputError("target", f"model {system.model_id} has no analyte {analyte!r}")
    try:
        x = np.linalg.solve(system.K, -e)
    except np.linalg.LinAlgError:
        raise InputError(
            "target", f"model {system.model_id} has no steady state (no elimination)"
        ) from None
    return float(row @ x)


def recommend_infusion_rate(
    fit: IndividualFit,
    target: float,
    *,
    kind: Literal["rate", "dose"] = "rate",
    analyte: str | None = None,
) -> DoseRecommendation:
    """Recommend an IV infusion rate (``kind="rate"``, target in ng/mL at steady state) or a
    single IV dose (``kind="dose"``, target AUC(0-inf) in ng.h/mL) for a fitted individual."""
    assert fit.problem is not None
    name = analyte or fit.problem.model.analyte_names[0]
    if not np.isfinite(target) or target <= 0:
        raise InputError("target", f"{target:g} must be > 0")
    # a steady state or AUC of one fixed system: refused where TAFD_MIN changes the analyte
    check_fixed_target(fit.problem.model, fit.problem.patient, name, field="target_analyte")
    u = fit.u_map

    def per_unit(uu: NDArray[np.float64]) -> float:
        return _exposure_per_unit(fit.problem.system(uu), name)  # type: ignore[union-attr]

    e0 = per_unit(u)
    grad = np.zeros(u.size)
    for k in range(u.size):
        du = np.zeros(u.size)
        du[k] = FD_STEP
        grad[k] = (np.log(per_unit(u + du)) - np.log(e0)) / FD_STEP
    sd = float(np.sqrt(max(float(grad @ fit.u_cov @ grad), 0.0)))
    typical = per_unit(np.zeros(u.size))
    if kind == "rate":
        # target ng/mL -> mg/L; per-unit is mg/L per mg/min; report mg/h
        scale, unit, target_unit = target / 1000.0 * 60.0, "mg/h", "ng/mL"
    else:
        # AUC ng.h/mL = mg.h/L x 1000 -> mg.min/L
        scale, unit, target_unit = target / 1000.0 * 60.0, "mg", "ng.h/mL"
    value = scale / e0
    return DoseRecommendation(
        kind,
        name,
        target,
        target_unit,
        value,
        unit,
        value * np.exp(-Z90 * sd),
        value * np.exp(Z90 * sd),
        scale / typical,
    )
