"""The infusion pump of a TCI system: syringe concentration, maximum rate, update interval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketasim.errors import InputError
from ketasim.units import parse_quantity, to_internal

__all__ = ["Pump", "parse_pump"]


@dataclass(frozen=True, slots=True)
class Pump:
    """A syringe pump driven by a TCI algorithm.

    Parameters
    ----------
    syringe_mg_per_ml:
        Drug concentration in the syringe (mg/mL), > 0.
    max_rate_ml_per_h:
        Highest rate the pump can run (mL/h), > 0 (``None``: no limit).
    update_interval_s:
        The algorithm recomputes the rate every this many seconds (1 to 600 s); the rate is
        constant within an interval.
    """

    syringe_mg_per_ml: float = 10.0
    max_rate_ml_per_h: float | None = 1200.0
    update_interval_s: float = 10.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.syringe_mg_per_ml) or self.syringe_mg_per_ml <= 0:
            raise InputError("syringe_mg_per_ml", f"{self.syringe_mg_per_ml:g} mg/mL must be > 0")
        if self.max_rate_ml_per_h is not None and (
            not np.isfinite(self.max_rate_ml_per_h) or self.max_rate_ml_per_h <= 0
        ):
            raise InputError("max_rate_ml_per_h", f"{self.max_rate_ml_per_h:g} mL/h must be > 0")
        if not 1.0 <= self.update_interval_s <= 600.0:
            raise InputError(
                "update_interval_s",
                f"{self.update_interval_s:g} s is outside the accepted 1 to 600 s",
            )

    @property
    def update_interval_min(self) -> float:
        """The update interval in minutes."""
        return self.update_interval_s / 60.0

    @property
    def max_rate_mg_per_min(self) -> float:
        """Highest drug delivery rate (mg/min); ``inf`` without a limit."""
        if self.max_rate_ml_per_h is None:
            return float("inf")
        return self.max_rate_ml_per_h * self.syringe_mg_per_ml / 60.0

    def ml_per_h(self, rate_mg_per_min: float) -> float:
        """Convert a drug rate (mg/min) to a pump rate (mL/h)."""
        return rate_mg_per_min * 60.0 / self.syringe_mg_per_ml


def parse_pump(syringe: str, max_rate: str | None, update_interval: str) -> Pump:
    """A :class:`Pump` from text such as ``'10 mg/mL'``, ``'1200 mL/h'``, ``'10 s'``."""
    syr = parse_quantity(syringe, field="syringe_mg_per_ml", expect="concentration")
    syringe_mg_per_ml = syr.to_internal() / 1000.0  # internal mg/L -> mg/mL
    max_ml_per_h: float | None = None
    if max_rate is not None and max_rate.strip().lower() not in ("none", "inf", ""):
        q = parse_quantity(max_rate, field="max_rate_ml_per_h", expect="flow")
        max_ml_per_h = to_internal(q.value, q.unit)[0] * 1000.0 * 60.0  # L/min -> mL/h
    interval = parse_quantity(update_interval, field="update_interval_s", expect="time")
    return Pump(syringe_mg_per_ml, max_ml_per_h, interval.to_internal() * 60.0)
