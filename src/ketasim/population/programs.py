"""Step programs of the batched kernel and the per-patient endpoints it accumulates.

Patients of a chunk share a *program*: the sorted breakpoints (output times and dose event times),
for each breakpoint the bolus to add and the output index to record, and for each step its
length and its constant input. Patients whose event times differ (e.g. an individual lag time)
are split into groups that each get their own program.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.population.batch import BatchInputs
from ketasim.types import FloatArray

__all__ = [
    "ENDPOINT_AUC",
    "ENDPOINT_MAX",
    "ENDPOINT_TIME_ABOVE",
    "EndpointPlan",
    "Program",
    "build_programs",
    "patient_groups",
]

IntArray = NDArray[np.int64]

ENDPOINT_MAX = 0
ENDPOINT_AUC = 1
ENDPOINT_TIME_ABOVE = 2


@dataclass(frozen=True)
class EndpointPlan:
    """Per-patient endpoint accumulators, compiled to arrays for the kernel.

    For endpoint e: ``output[e]`` (output index), ``kind[e]`` (ENDPOINT_*), grid indices
    ``start[e]..stop[e]`` inclusive, ``threshold[e]`` (ng/mL; time above only).
    Results: max (ng/mL), trapezoidal AUC (ng/mL x min), time above threshold (min, with linear
    interpolation of crossings between output times).
    """

    output: IntArray
    kind: IntArray
    start: IntArray
    stop: IntArray
    threshold: FloatArray

    @property
    def size(self) -> int:
        """Number of endpoints."""
        return int(self.output.size)

    @classmethod
    def empty(cls) -> EndpointPlan:
        """No endpoints."""
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, np.zeros(0))


@dataclass(frozen=True)
class Program:
    """The step program shared by a group of patients (see module docstring).

    ``times``: breakpoints (min); ``bolus``: (NB, P, n) amounts; ``bolus_index`` (B,): row of
    ``bolus`` added at each breakpoint or -1; ``record`` (B,): output-grid index or -1;
    ``step_h`` (B - 1,): index into ``h_values``; ``step_rate`` (B - 1,): index into ``rates``
    ((NR, P, n), mg/min) or -1 for no input.
    """

    patients: IntArray
    times: FloatArray
    bolus: FloatArray
    bolus_index: IntArray
    record: IntArray
    h_values: FloatArray
    step_h: IntArray
    rates: FloatArray
    step_rate: IntArray


def patient_groups(inputs: BatchInputs) -> list[IntArray]:
    """Patients grouped by identical event times, groups ordered by their sorted times (one
    group, found without sorting, when every patient has the same times: the usual case)."""
    sig = inputs.time_signatures()
    n_pat = inputs.events[0].start_min.size if inputs.events else 0
    if sig.size == 0 or bool(np.all(sig == sig[:1])):
        return [np.arange(n_pat)]
    _, inverse = np.unique(sig, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return list(np.split(order, bounds))


def build_programs(inputs: BatchInputs, grid_min: FloatArray, n_states: int) -> list[Program]:
    """Group patients by their event times and build one program per group."""
    grid = np.asarray(grid_min, dtype=np.float64)
    return [_program(inputs, grid, g, n_states) for g in patient_groups(inputs)]


def _program(inputs: BatchInputs, grid: FloatArray, patients: IntArray, n_states: int) -> Program:
    first = int(patients[0])
    starts = [float(e.start_min[first]) for e in inputs.events]
    ends = [float(e.end_min[first]) for e in inputs.events]
    t_end = float(grid[-1])
    t0 = min([float(grid[0]), *starts])
    event_times = {t for t in (*starts, *ends) if t <= t_end}
    times = np.array(sorted({t0, *grid.tolist(), *event_times}), dtype=np.float64)
    n_b = times.size
    record = np.full(n_b, -1, dtype=np.int64)
    record[np.searchsorted(times, grid)] = np.arange(grid.size)
    n_g = patients.size
    all_patients = n_g == (inputs.events[0].amount_mg.size if inputs.events else 0)
    bolus_rows: list[FloatArray] = []
    bolus_index = np.full(n_b, -1, dtype=np.int64)
    position = {float(t): b for b, t in enumerate(times)}
    hits: dict[int, list[int]] = {}
    for e, (s, f) in enumerate(zip(starts, ends, strict=True)):
        if s == f and s in position:
            hits.setdefault(position[s], []).append(e)
    for b in sorted(hits):
        row = np.zeros((n_g, n_states))
        for e in hits[b]:
            ev = inputs.events[e]
            row[:, ev.state] += ev.amount_mg if all_patients else ev.amount_mg[patients]
        bolus_index[b] = len(bolus_rows)
        bolus_rows.append(row)
    rate_keys: dict[tuple[int, ...], int] = {}
    rate_rows: list[FloatArray] = []
    h_keys: dict[float, int] = {}
    h_values: list[float] = []
    steps = np.diff(times)
    step_h = np.zeros(max(n_b - 1, 0), dtype=np.int64)
    step_rate = np.full(max(n_b - 1, 0), -1, dtype=np.int64)
    keys = np.round(steps, 9)
    for key in np.unique(keys):
        h_keys[float(key)] = len(h_values)
        h_values.append(float(steps[np.flatnonzero(keys == key)[0]]))
    step_h[:] = [h_keys[float(k)] for k in keys]
    # the events active on each step: constant between consecutive event times
    active_at = np.zeros((len(starts), max(n_b - 1, 0)), dtype=bool)
    left = times[:-1]
    for e, (s, f) in enumerate(zip(starts, ends, strict=True)):
        active_at[e] = (left >= s) & (left < f)
    on = np.flatnonzero(active_at.any(axis=0)) if starts else np.zeros(0, dtype=np.int64)
    for b in on.tolist():
        active = tuple(int(k) for k in np.flatnonzero(active_at[:, b]))
        if active not in rate_keys:
            row = np.zeros((n_g, n_states))
            for e in active:
                ev = inputs.events[e]
                amount = ev.amount_mg if all_patients else ev.amount_mg[patients]
                row[:, ev.state] += amount / (ends[e] - starts[e])
            rate_keys[active] = len(rate_rows)
            rate_rows.append(row)
        step_rate[b] = rate_keys[active]
    bolus = np.stack(bolus_rows) if bolus_rows else np.zeros((0, n_g, n_states))
    rates = np.stack(rate_rows) if rate_rows else np.zeros((0, n_g, n_states))
    return Program(
        patients,
        times,
        bolus,
        bolus_index,
        record,
        np.array(h_values, dtype=np.float64),
        step_h,
        rates,
        step_rate,
    )
