"""The linear programmes behind manual schemes.

See :mod:`ketasim.tci.manual` for the method. A scheme's response at the targeted site is a sum
of shifted unit responses (linear, time-invariant system), so for fixed change times the best
rates are a linear programme (scipy's HiGHS). The settings they respect are in
:mod:`ketasim.tci.manual_settings` (re-exported here).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

from ketasim.pk import Bolus, ExactSolver, Infusion, SystemInputs
from ketasim.tci.manual_settings import ManualSettings, Mode, parse_manual_settings
from ketasim.tci.schedule import TargetSchedule

if TYPE_CHECKING:
    from ketasim.tci.plan import TciPlan

__all__ = [
    "MAX_GRID",
    "SELECT_GRID",
    "ManualSettings",
    "Mode",
    "Problem",
    "SearchTimeError",
    "build_problem",
    "candidate_times",
    "choose_times",
    "parse_manual_settings",
    "round_values",
    "settle_times",
    "windows",
]

FloatArray = NDArray[np.float64]

_SETTLE_WEIGHT = 0.2  # weight of the mean shortfall during settling against the worst deviation
_OVERSHOOT_MARGIN = 0.005  # the programmes cap overshoot this much below the limit
MAX_GRID = 400  # evaluation points of the linear programme that rounds the rates
SELECT_GRID = 160  # evaluation points of the programmes that choose the change times


class SearchTimeError(Exception):
    """The scheme search passed its deadline (:attr:`Problem.deadline`)."""


@dataclass(frozen=True)
class Problem:
    """The targeted site's unit responses on the evaluation grid and what is judged where."""

    dt: float
    n: int  # grid points 0..n-1 at k*dt
    step_resp: FloatArray  # response (mg/L) at k*dt to 1 mg/min from time 0
    bolus_resp: FloatArray  # response (mg/L) at k*dt to 1 mg at time 0
    target: FloatArray  # mg/L at each grid point
    assessed: NDArray[np.bool_]  # judged for deviation (after settling)
    capped: NDArray[np.bool_]  # overshoot limit applies
    settling: NDArray[np.bool_]  # shortfall weighed
    rmax: float  # mg/min
    overshoot: float
    mode: Mode
    #: ``time.monotonic()`` after which no further linear programme is started (None: none)
    deadline: float | None = None


def _grid_step(duration_min: float, points: int) -> float:
    for dt in (1.0 / 12.0, 1.0 / 6.0, 0.25, 0.5, 1.0, 2.5, 5.0):
        if duration_min / dt <= points:
            return dt
    return duration_min / points


def settle_times(plan: TciPlan, settings: ManualSettings) -> dict[float, float]:
    """How long each target step is given to settle (min): ``settle_min``, or after a step
    down, longer if even the TCI pump (stopped) needs longer to bring the site within the
    overshoot limit of the new target."""
    out: dict[float, float] = {}
    steps = plan.targets.steps
    conc = plan.concentrations_ng_per_ml[f"{plan.analyte}_{plan.site}"]
    for i, s in enumerate(steps):
        out[s.time_min] = settings.settle_min
        if i and s.target_ng_per_ml < steps[i - 1].target_ng_per_ml:
            limit = (1.0 + settings.max_overshoot) * s.target_ng_per_ml
            later = np.flatnonzero((plan.times_min >= s.time_min) & (conc <= limit))
            if later.size:
                reached = float(plan.times_min[later[0]]) - s.time_min
                out[s.time_min] = max(settings.settle_min, float(np.ceil(reached)))
    return out


def windows(
    schedule: TargetSchedule, times: FloatArray, settle: Mapping[float, float], duration: float
) -> tuple[FloatArray, NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """Target (ng/mL), assessed, capped and settling masks at ``times``."""
    target = np.zeros(times.size)
    assessed = np.zeros(times.size, dtype=bool)
    capped = np.zeros(times.size, dtype=bool)
    settling = np.zeros(times.size, dtype=bool)
    steps = [s for s in schedule.steps if s.time_min < duration]
    for i, s in enumerate(steps):
        end = steps[i + 1].time_min if i + 1 < len(steps) else duration + 1e-9
        inside = (times >= s.time_min - 1e-9) & (times < end - 1e-9)
        if i + 1 == len(steps):
            inside = (times >= s.time_min - 1e-9) & (times <= end)
        target[inside] = s.target_ng_per_ml
        if s.target_ng_per_ml <= 0:
            continue
        after = inside & (times >= s.time_min + settle[s.time_min] - 1e-9)
        assessed |= after
        previous = steps[i - 1].target_ng_per_ml if i > 0 else 0.0
        if s.target_ng_per_ml >= previous:  # start or step up: approach weighed, capped
            settling |= inside & ~after
            capped |= inside
        else:  # step down: the site falls freely to the new target
            capped |= after
    return target, assessed, capped, settling


def build_problem(
    plan: TciPlan,
    duration: float,
    settings: ManualSettings,
    points: int,
    deadline: float | None = None,
) -> Problem:
    system = plan.system
    dt = _grid_step(duration, points)
    n = round(duration / dt) + 1
    tau = np.arange(n, dtype=np.float64) * dt
    row = next(o.row for o in system.outputs if o.name == f"{plan.analyte}_{plan.site}")
    solver = ExactSolver(system.K)
    state = plan.input_state
    proj = np.asarray(row, dtype=float)[None, :]
    step = solver.solve(
        SystemInputs(infusions=(Infusion(0.0, duration + 1.0, state, 1.0),)), tau, project=proj
    )[:, 0]
    impulse = solver.solve(SystemInputs(boluses=(Bolus(0.0, state, 1.0),)), tau, project=proj)[:, 0]
    target, assessed, capped, settling = windows(
        plan.targets, tau, settle_times(plan, settings), duration
    )
    return Problem(
        dt,
        n,
        step,
        impulse,
        target / 1000.0,
        assessed,
        capped,
        settling,
        plan.pump.max_rate_mg_per_min,
        # half a percentage point of margin: peaks between grid points stay under the limit
        max(0.0, settings.max_overshoot - _OVERSHOOT_MARGIN),
        settings.mode,
        deadline,
    )


def _shift(resp: FloatArray, k: int) -> FloatArray:
    out = np.zeros_like(resp)
    if k < resp.size:
        out[k:] = resp[: resp.size - k]
    return out


def _columns(p: Problem, idx: Sequence[int], mode: Mode, loading: bool) -> FloatArray:
    """Response columns of the variables: [loading bolus], then one per change time."""
    cols = []
    if mode == "infusion":
        if loading:
            cols.append(p.bolus_resp)
        ends = [*idx[1:], p.n + 10**9]
        for a, b in zip(idx, ends, strict=True):
            cols.append(_shift(p.step_resp, a) - _shift(p.step_resp, b))
    else:
        cols.extend(_shift(p.bolus_resp, a) for a in idx)
    return np.column_stack(cols)


@dataclass(frozen=True)
class _Solution:
    objective: float
    x: FloatArray


def _solve(
    p: Problem, A: FloatArray, bounds: Sequence[tuple[float, float | None]]
) -> _Solution | None:
    """Rates/boluses ``x`` within ``bounds`` minimising ``a z + b mean(u)`` where
    ``|A x / T - 1| <= z`` where assessed, ``A x / T <= 1 + overshoot`` where capped and
    ``u >= |1 - A x / T|`` on the averaged points: infusions weigh the worst deviation
    (a = 1) and the approach while settling (b = 0.2, averaged over the settling points);
    boluses, whose troughs make the worst deviation large whatever the doses, weigh the mean
    deviation (a = 0.1, b = 1, averaged over settling and assessed points)."""
    if p.deadline is not None and time.monotonic() > p.deadline:
        raise SearchTimeError
    nv = A.shape[1]
    pos = p.target > 0
    scaled = np.zeros_like(A)
    scaled[pos] = A[pos] / p.target[pos, None]
    asd = np.flatnonzero(p.assessed & pos)
    cap = np.flatnonzero(p.capped & pos)
    if p.mode == "infusion":
        avg = np.flatnonzero(p.settling & pos)
        z_weight, avg_weight = 1.0, _SETTLE_WEIGHT
    else:
        avg = np.flatnonzero((p.settling | p.assessed) & pos)
        z_weight, avg_weight = 0.1, 1.0
    nu = avg.size
    rows: list[FloatArray] = []
    rhs: list[FloatArray] = []

    def block(coef: FloatArray, z: float, u: FloatArray | None, b: FloatArray) -> None:
        m = coef.shape[0]
        ucols = np.zeros((m, nu)) if u is None else u
        rows.append(np.hstack([coef, np.full((m, 1), z), ucols]))
        rhs.append(b)

    if asd.size:
        block(scaled[asd], -1.0, None, np.ones(asd.size))
        block(-scaled[asd], -1.0, None, -np.ones(asd.size))
    if cap.size:
        block(scaled[cap], 0.0, None, np.full(cap.size, 1.0 + p.overshoot))
    if nu:
        block(-scaled[avg], 0.0, -np.eye(nu), -np.ones(nu))
        block(scaled[avg], 0.0, -np.eye(nu), np.ones(nu))
    if not rows:
        return _Solution(0.0, np.zeros(nv))
    c = np.zeros(nv + 1 + nu)
    c[nv] = z_weight
    if nu:
        c[nv + 1 :] = avg_weight / nu
    all_bounds = [*bounds, (0.0, None), *([(0.0, None)] * nu)]
    res = linprog(
        c, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), bounds=all_bounds, method="highs"
    )
    if res.status != 0:
        return None
    return _Solution(float(res.fun), np.asarray(res.x[:nv], dtype=float))


def _bounds(
    p: Problem, idx: Sequence[int], mode: Mode, loading: bool, fixed: Mapping[int, float]
) -> list[tuple[float, float | None]]:
    bounds: list[tuple[float, float | None]] = []
    if mode == "infusion" and loading:
        bounds.append((0.0, 0.0) if p.target[0] <= 0 else (0.0, None))
    for k in idx:
        off = p.target[min(k, p.n - 1)] <= 0
        if mode == "infusion":
            bounds.append((0.0, 0.0) if off else (0.0, p.rmax))
        else:
            bounds.append((0.0, 0.0) if off else (0.0, None))
    for j, v in fixed.items():
        bounds[j] = (v, v)
    return bounds


def _objective(p: Problem, idx: Sequence[int], mode: Mode, loading: bool) -> float:
    sol = _solve(p, _columns(p, idx, mode, loading), _bounds(p, idx, mode, loading, {}))
    return math.inf if sol is None else sol.objective


def choose_times(
    p: Problem,
    mandatory: list[int],
    candidates: list[int],
    budget: int,
    mode: Mode,
    loading: bool,
) -> list[int]:
    chosen = sorted(set(mandatory))
    best = _objective(p, chosen, mode, loading)
    while len(chosen) < budget:
        trials = [
            (_objective(p, sorted([*chosen, c]), mode, loading), c)
            for c in candidates
            if c not in chosen
        ]
        if not trials:
            break
        value, pick = min(trials)
        if value > best - 1e-4:
            break
        chosen, best = sorted([*chosen, pick]), value
    # one pass of local moves: each free time to its neighbouring round times
    for k in list(chosen):
        if k in mandatory:
            continue
        pos = candidates.index(k)
        for nb in (
            candidates[pos - 1] if pos > 0 else None,
            candidates[pos + 1] if pos + 1 < len(candidates) else None,
        ):
            if nb is None or nb in chosen:
                continue
            trial = sorted([*(c for c in chosen if c != k), nb])
            value = _objective(p, trial, mode, loading)
            if value < best - 1e-6:
                chosen, best = trial, value
                break
    return chosen


def round_values(
    p: Problem, idx: Sequence[int], mode: Mode, loading: bool, steps: Sequence[float]
) -> FloatArray:
    """Round each variable to its step in time order, re-solving the later ones each time."""
    A = _columns(p, idx, mode, loading)
    fixed: dict[int, float] = {}
    for j, step in enumerate(steps):
        sol = _solve(p, A, _bounds(p, idx, mode, loading, fixed))
        value = 0.0 if sol is None else float(sol.x[j])
        low = math.floor(value / step + 1e-9) * step
        options = [low]
        upper = low + step
        limit = p.rmax if (mode == "infusion" and not (loading and j == 0)) else math.inf
        if abs(value - low) > 1e-9 * max(step, 1.0) and upper <= limit * (1 + 1e-12):
            options.append(upper)
        scored = []
        for v in options:
            trial = _solve(p, A, _bounds(p, idx, mode, loading, {**fixed, j: v}))
            scored.append((math.inf if trial is None else trial.objective, v))
        fixed[j] = min(scored)[1]
    return np.array([fixed[j] for j in range(len(steps))])


def candidate_times(
    settings: ManualSettings, duration: float, mandatory_min: Sequence[float]
) -> list[float]:
    """Round times: every ``time_step`` within 60 min of a target change, then every 30 min
    up to 4 h after it, then hourly."""
    out: set[float] = set()
    step = settings.time_step_min
    for start in mandatory_min:
        t = start + step
        while t < duration - 1e-9:
            since = t - start
            if (
                since <= 60.0 + 1e-9
                or (since <= 240.0 + 1e-9 and abs(since / 30.0 - round(since / 30.0)) < 1e-9)
                or abs(since / 60.0 - round(since / 60.0)) < 1e-9
            ):
                out.add(round(t, 9))
            t += step
    return sorted(out - {round(t, 9) for t in mandatory_min})
