"""Systems that change at known times: exact solution segment by segment.

A covariate that changes during a record table (NONMEM's convention: a value on a record holds
from that record's time on) gives a different rate matrix ``K_j`` and output matrix ``C_j``
on each segment ``[b_j, b_(j+1))``. The state (amounts, effect-site concentrations) is
continuous across a boundary; within a segment the system is linear with constant ``K_j`` and
is solved exactly by :class:`~ketasim.pk.ExactSolver`. Concentrations at a boundary time use
the new segment's matrices (the new value applies *from* that time), as do inputs at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ketasim.errors import InputError
from ketasim.pk.events import Infusion, SystemInputs
from ketasim.pk.solve import ExactSolver
from ketasim.types import FloatArray

__all__ = ["Segment", "solve_piecewise", "window"]


@dataclass(frozen=True)
class Segment:
    """From ``start_min`` on (until the next segment): rate matrix ``K`` (1/min) and output
    rows ``C`` (concentration = C @ state)."""

    start_min: float
    K: FloatArray
    C: FloatArray


def window(inputs: SystemInputs, lo: float, hi: float) -> SystemInputs:
    """The part of ``inputs`` on [lo, hi): boluses and resets in it, infusions clipped to it."""
    return SystemInputs(
        tuple(b for b in inputs.boluses if lo <= b.time_min < hi),
        tuple(
            Infusion(max(i.start_min, lo), min(i.end_min, hi), i.state, i.rate_mg_per_min)
            for i in inputs.infusions
            if i.end_min > lo and i.start_min < hi
        ),
        tuple(r for r in inputs.resets if lo <= r.time_min < hi),
    )


def solve_piecewise(
    segments: Sequence[Segment], inputs: SystemInputs, times_min: FloatArray
) -> FloatArray:
    """Outputs at ``times_min`` (ascending), shape (len(times), n_outputs).

    ``segments`` are sorted by ``start_min``; the first holds from the earliest time on.
    """
    times = np.asarray(times_min, dtype=np.float64)
    if not segments:
        raise InputError("segments", "give at least one segment")
    starts = [s.start_min for s in segments]
    if any(b <= a for a, b in pairwise(starts)):
        raise InputError("segments", "segment start times must increase")
    n = segments[0].K.shape[0]
    out = np.empty((times.size, segments[0].C.shape[0]))
    events = inputs.event_times()
    t_first = min(
        [
            float(times[0]) if times.size else 0.0,
            *events,
            *(starts[:1] if np.isfinite(starts[0]) else []),
        ]
    )
    x = np.zeros(n)
    for j, seg in enumerate(segments):
        lo = t_first if j == 0 else seg.start_min
        hi = segments[j + 1].start_min if j + 1 < len(segments) else np.inf
        part = window(inputs, lo, hi)
        sel = (times >= lo) & (times < hi)
        grid = [lo, *times[sel].tolist()]
        if np.isfinite(hi):
            grid.append(hi)
        states = ExactSolver(seg.K).solve(
            SystemInputs(part.boluses, part.infusions, part.resets), np.asarray(grid), x0=x
        )
        inner = states[1:-1] if np.isfinite(hi) else states[1:]
        out[sel] = inner @ seg.C.T
        if np.isfinite(hi):
            x = states[-1]
    return out
