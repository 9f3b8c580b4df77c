"""The settings a manual scheme respects, and their parsing from command-line texts.

The settings are choices of the user (pump steps, how many changes, overshoot allowed), not
evidence; :mod:`ketasim.tci.manual_lp` builds the linear programmes that respect them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ketasim.errors import InputError
from ketasim.units import parse_duration_min, parse_quantity

__all__ = ["DEFAULT_OVERSHOOT", "ManualSettings", "Mode", "parse_manual_settings"]

Mode = Literal["infusion", "boluses"]


@dataclass(frozen=True, slots=True)
class ManualSettings:
    """How the scheme may look (all settings, not evidence; see the module notes).

    Parameters
    ----------
    mode:
        ``"infusion"`` (rate changes, optional loading bolus) or ``"boluses"`` (intermittent
        boluses only).
    max_changes:
        Most pump settings over the plan, the start included (infusion), or most boluses.
    rate_step_ml_per_h:
        Rates are multiples of this (mL/h).
    time_step_min:
        Changes happen at multiples of this (min) after the start.
    loading_bolus:
        Infusion mode: allow a bolus at the start.
    bolus_step_mg:
        Boluses are multiples of this (mg).
    settle_min:
        After each target change, this long is allowed to reach the target (min).
    max_overshoot:
        Highest allowed concentration above the target, as a fraction (0.10 = 10%); the
        command line defaults to 50% with ``--boluses``, which overshoot by design.
    """

    mode: Mode = "infusion"
    max_changes: int = 7
    rate_step_ml_per_h: float = 0.5
    time_step_min: float = 5.0
    loading_bolus: bool = False
    bolus_step_mg: float = 1.0
    settle_min: float = 10.0
    max_overshoot: float = 0.10

    def __post_init__(self) -> None:
        if self.mode not in ("infusion", "boluses"):
            raise InputError("mode", f"mode {self.mode!r} is not infusion or boluses")
        if not 1 <= self.max_changes <= 50:
            raise InputError("max_changes", f"{self.max_changes} is outside the accepted 1 to 50")
        for flag, value, low, high, unit in (
            ("rate_step_ml_per_h", self.rate_step_ml_per_h, 0.01, 100.0, "mL/h"),
            ("time_step_min", self.time_step_min, 1.0, 240.0, "min"),
            ("bolus_step_mg", self.bolus_step_mg, 0.01, 100.0, "mg"),
            ("settle_min", self.settle_min, 0.0, 240.0, "min"),
            ("max_overshoot_percent", self.max_overshoot * 100.0, 0.0, 100.0, "%"),
        ):
            if not (math.isfinite(value) and low <= value <= high):
                raise InputError(
                    flag, f"{value:g} {unit} is outside the accepted {low:g} to {high:g} {unit}"
                )


#: default overshoot limits by mode (settings, not evidence): boluses overshoot by design
DEFAULT_OVERSHOOT = {"infusion": "10%", "boluses": "50%"}


def _percent(text: str, flag: str) -> float:
    raw = text.strip().rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        raise InputError(flag, f"{text!r} is not a percentage, e.g. '10%'") from None
    return value / 100.0


def parse_manual_settings(
    *,
    boluses: bool,
    max_changes: int,
    rate_step: str,
    time_step: str,
    loading_bolus: bool,
    bolus_step: str,
    settle: str,
    max_overshoot: str | None,
) -> ManualSettings:
    """:class:`ManualSettings` from the command-line texts (errors name the flag)."""
    mode: Mode = "boluses" if boluses else "infusion"
    if boluses and loading_bolus:
        raise InputError("loading_bolus", "only with mode 'infusion', not with 'boluses'")
    flow = parse_quantity(rate_step, field="rate_step_ml_per_h", expect="flow")
    rate_step_ml_per_h = flow.to_internal() * 1000.0 * 60.0  # L/min -> mL/h
    bolus_mg = parse_quantity(bolus_step, field="bolus_step_mg", expect="amount").to_internal()
    return ManualSettings(
        mode=mode,
        max_changes=max_changes,
        rate_step_ml_per_h=rate_step_ml_per_h,
        time_step_min=parse_duration_min(time_step, field="time_step_min"),
        loading_bolus=loading_bolus,
        bolus_step_mg=bolus_mg,
        settle_min=parse_duration_min(settle, field="settle_min"),
        max_overshoot=_percent(max_overshoot or DEFAULT_OVERSHOOT[mode], "max_overshoot_percent"),
    )
