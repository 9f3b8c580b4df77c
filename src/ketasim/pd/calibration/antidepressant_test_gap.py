"""How far the stored model's esketamine-minus-placebo differences are from the phase-3 trials
it is tested on (never fitted): what ``ketasim antidepressant`` tells a user of an esketamine
model before they read its drug part.

Computed from the stored parameters and the test values of ``antidepressant_data.csv`` (about
a second), so the caution follows the model: it disappears once every difference is within
``RATIO`` of the published one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ketasim.pd.antidepressant import AntidepressantParams, default_antidepressant_params
from ketasim.pd.calibration.antidepressant_fit import calibration_points, summarise

__all__ = [
    "RATIO",
    "TestDifference",
    "esketamine_test_caution",
    "esketamine_test_differences",
]

RATIO = 1.5  # a model difference beyond 1.5x the published one is reported


@dataclass(frozen=True)
class TestDifference:
    """One phase-3 esketamine-minus-placebo MADRS difference: model and published (points)."""

    study: str
    time_h: float
    model_madrs: float
    published_madrs: float


def esketamine_test_differences(
    params: AntidepressantParams | None = None,
) -> list[TestDifference]:
    """The test values that are esketamine-minus-placebo MADRS differences, with the model's."""
    points = [p for p in calibration_points("test") if p.quantity == "madrs_difference"]
    points = [p for p in points if "esketamine" in p.arm]
    result = summarise(params or default_antidepressant_params(), tuple(points))
    return [
        TestDifference(p.study, p.time_h, float(v), p.value)
        for p, v in zip(result.points, result.predicted, strict=True)
    ]


def esketamine_test_caution(params: AntidepressantParams | None = None) -> str | None:
    """A one-line caution when any model difference exceeds ``RATIO`` x the published one,
    else None (``params``: the stored model by default; computed once per parameter set and
    process: the CLI, every esketamine arm of a trial and the clinic's forecast ask for it)."""
    return _caution(params if params is not None else default_antidepressant_params())


@functools.lru_cache(maxsize=8)
def _caution(params: AntidepressantParams) -> str | None:
    diffs = esketamine_test_differences(params)
    far = [d for d in diffs if abs(d.model_madrs) > RATIO * abs(d.published_madrs)]
    if not far:
        return None
    model = sorted(d.model_madrs for d in diffs)
    published = sorted(d.published_madrs for d in diffs)
    studies = ", ".join(sorted({d.study for d in diffs}))
    return (
        f"esketamine: on its phase-3 test (never fitted: {studies}) the model's difference "
        f"from placebo is {model[0]:.1f} to {model[-1]:.1f} MADRS points against "
        f"{published[0]:.1f} to {published[-1]:.1f} published; its drug part is the size of "
        "the phase-2 trials it was calibrated on (see ketasim calibration antidepressant)"
    )
