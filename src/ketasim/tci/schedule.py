"""Target schedules: a target concentration that may change over time."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ketasim.errors import InputError
from ketasim.units import parse_duration_min, parse_quantity

__all__ = ["TargetSchedule", "TargetStep", "parse_targets"]


@dataclass(frozen=True, slots=True)
class TargetStep:
    """From ``time_min`` on, the target is ``target_ng_per_ml`` (0 = pump off)."""

    time_min: float
    target_ng_per_ml: float


@dataclass(frozen=True, slots=True)
class TargetSchedule:
    """Target steps sorted by time; the first starts at 0 min."""

    steps: tuple[TargetStep, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise InputError("targets", "give at least one target")
        steps = tuple(sorted(self.steps, key=lambda s: s.time_min))
        if steps[0].time_min != 0.0:
            raise InputError(
                "targets", f"the first target must start at 0 min (got {steps[0].time_min:g} min)"
            )
        times = [s.time_min for s in steps]
        if len(set(times)) != len(times):
            raise InputError("targets", "two targets start at the same time")
        for s in steps:
            if s.target_ng_per_ml < 0 or s.target_ng_per_ml != s.target_ng_per_ml:
                raise InputError("targets", f"{s.target_ng_per_ml:g} ng/mL must be >= 0")
            if s.time_min < 0:
                raise InputError("targets", f"{s.time_min:g} min must be >= 0")
        object.__setattr__(self, "steps", steps)

    @classmethod
    def constant(cls, target_ng_per_ml: float) -> TargetSchedule:
        """One target held from 0 min on."""
        return cls((TargetStep(0.0, target_ng_per_ml),))

    def at(self, time_min: float) -> float:
        """The target (ng/mL) in force at ``time_min``."""
        current = self.steps[0].target_ng_per_ml
        for s in self.steps:
            if s.time_min <= time_min + 1e-9:
                current = s.target_ng_per_ml
        return current


_AT_RE = re.compile(r"^(?P<conc>.+?)(?:\s+(?:at|from)\s+(?P<time>.+))?$", re.I)


def parse_targets(text: str, *, field: str = "targets") -> TargetSchedule:
    """Parse ``'1 ug/mL'`` or ``'1 ug/mL; 2 ug/mL at 20min; 0.5 ug/mL at 40min'``."""
    steps: list[TargetStep] = []
    for i, part in enumerate(p.strip() for p in (text or "").split(";")):
        if not part:
            continue
        match = _AT_RE.match(part)
        assert match is not None
        q = parse_quantity(match.group("conc"), field=field, expect="concentration")
        target = q.to_internal() * 1000.0  # mg/L -> ng/mL
        time = 0.0
        if match.group("time"):
            time = parse_duration_min(match.group("time"), field=field)
        elif i > 0:
            raise InputError(
                field, f"{part!r}: later targets need a start, e.g. '2 ug/mL at 20min'"
            )
        steps.append(TargetStep(time, target))
    return TargetSchedule(tuple(steps))
