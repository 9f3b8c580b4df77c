"""Steady state of a dose repeated every II (NONMEM SS = 1 and SS = 2).

For the linear system dx/dt = K x + u, let ``x1(t)`` be the response to one dose given at
t = 0 into an empty system. Doses every ``II`` superpose, so the state just before a dose at
steady state is ``x_ss = sum_{k >= 1} x1(k II)``. Once the dose's inputs are over (after the
``m``-th interval, ``m II >= end of the last input``) ``x1((m + j) II) = Phi(II)^j x1(m II)``, so

    x_ss = sum_{k = 1}^{m - 1} x1(k II) + (I - Phi(II))^-1 x1(m II)

exactly (Phi = exp(K II)); this holds for boluses, infusions (also longer than II), lags and
modelled durations alike. A system with no elimination has no steady state
(``I - Phi`` singular) and is refused.

NONMEM's conventions: SS = 1 resets every state and sets it to the steady state of the record's
dose before the dose itself is given; SS = 2 adds the steady state to the current state
(superposition). Infusions of earlier records still running are not stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ketasim.errors import InputError
from ketasim.pk.events import Bolus, Infusion, InputEvent, Reset, SystemInputs
from ketasim.pk.solve import ExactSolver
from ketasim.types import FloatArray

__all__ = ["steady_state_batch", "steady_state_inputs", "steady_state_state"]


def _shift(inputs: SystemInputs, by_min: float) -> SystemInputs:
    return SystemInputs(
        tuple(Bolus(b.time_min + by_min, b.state, b.amount_mg) for b in inputs.boluses),
        tuple(
            Infusion(i.start_min + by_min, i.end_min + by_min, i.state, i.rate_mg_per_min)
            for i in inputs.infusions
        ),
    )


def steady_state_state(
    K: FloatArray, dose: SystemInputs, *, time_min: float, ii_min: float
) -> FloatArray:
    """State (mg; mg/L for effect sites) just before a dose at ``time_min`` at steady state.

    ``dose``: the inputs of one dose given at ``time_min`` (boluses and infusions); the dose
    is repeated every ``ii_min`` minutes since ever.
    """
    if not math.isfinite(ii_min) or ii_min <= 0:
        raise InputError("ii_min", f"{ii_min!r} min: a steady-state dose needs an interval > 0")
    single = _shift(dose, -time_min)
    times = single.event_times()
    if not times:
        return np.zeros(K.shape[0])
    if min(times) < 0:
        raise InputError("ii_min", "a steady-state dose cannot start before its record")
    m = max(1, math.ceil(max(times) / ii_min - 1e-12))
    solver = ExactSolver(K)
    grid = np.asarray(np.arange(1, m + 1) * ii_min, dtype=np.float64)
    states = solver.solve(single, grid, x0=np.zeros(K.shape[0]))
    phi, _ = solver.propagator(ii_min)
    eye = np.eye(K.shape[0])
    try:
        tail = np.linalg.solve(eye - phi, states[-1])
    except np.linalg.LinAlgError:
        raise InputError(
            "ss",
            "the model has a compartment without elimination, so a dose "
            "repeated for ever has no steady state",
        ) from None
    if np.linalg.cond(eye - phi) > 1e12:
        raise InputError(
            "ss",
            "the model has a compartment without elimination, so a dose "
            "repeated for ever has no steady state",
        )
    return np.asarray(states[:-1].sum(axis=0) + tail, dtype=np.float64)


def steady_state_inputs(
    K: FloatArray, dose: SystemInputs, *, time_min: float, ii_min: float, mode: int
) -> SystemInputs:
    """The inputs that put the system at steady state at ``time_min`` (before the dose).

    ``mode`` 1 (NONMEM SS = 1): reset, then the steady state; 2 (SS = 2): the steady state
    added to what is there. Returned as a reset (mode 1), one amount per state at
    ``time_min`` and the inputs of earlier doses still to come after ``time_min`` (the rest of
    an infusion longer than II, a bolus lagged past II); the dose itself is not included.
    """
    if mode not in (1, 2):
        raise InputError("ss", f"{mode!r} is not a steady-state mode (1 or 2)")
    x_ss = steady_state_state(K, dose, time_min=time_min, ii_min=ii_min)
    boluses = [Bolus(time_min, i, float(v)) for i, v in enumerate(x_ss) if v != 0.0]
    infusions: list[Infusion] = []
    # earlier doses' inputs that are still to come (an infusion longer than II, a lag > II)
    times = dose.event_times()
    m = max(1, math.ceil((max(times) - time_min) / ii_min - 1e-12)) if times else 0
    for k in range(1, m + 1):
        back = k * ii_min
        boluses += [
            Bolus(b.time_min - back, b.state, b.amount_mg)
            for b in dose.boluses
            if b.time_min - back > time_min
        ]
        infusions += [
            Infusion(
                max(i.start_min - back, time_min), i.end_min - back, i.state, i.rate_mg_per_min
            )
            for i in dose.infusions
            if i.end_min - back > time_min
        ]
    resets = (Reset(time_min),) if mode == 1 else ()
    return SystemInputs(tuple(boluses), tuple(infusions), resets)


Propagators = Callable[[FloatArray, float], tuple[FloatArray, FloatArray]]
"""``(K (P, n, n), h) -> (Phi, Gamma)``, each (P, n, n): ``exp(K h)`` and its integral over
``[0, h]`` for a batch of patients (e.g. :func:`ketasim.population.propagators.propagators`)."""


def _per_patient(
    K: FloatArray, h: FloatArray, propagators: Propagators
) -> tuple[FloatArray, FloatArray]:
    """``Phi(h_p)`` and ``Gamma(h_p)`` of every patient p, one batched call per distinct
    step length (usually one: patients share lags and durations)."""
    phi = np.empty_like(K)
    gamma = np.empty_like(K)
    values, inverse = np.unique(h, return_inverse=True)
    for i, value in enumerate(values.tolist()):
        sel = np.flatnonzero(inverse.ravel() == i)
        phi[sel], gamma[sel] = propagators(K[sel], float(value))
    return phi, gamma


def steady_state_batch(
    K: FloatArray,
    events: Sequence[InputEvent],
    *,
    time_min: float,
    ii_min: float,
    propagators: Propagators,
    field: str = "ss",
) -> tuple[FloatArray, list[InputEvent]]:
    """:func:`steady_state_inputs` (mode 1, into an empty system) for P patients at once.

    ``K``: (P, n, n) rate matrices; ``events``: the input events (arrays over patients) of the
    dose unit given at ``time_min`` and repeated every ``ii_min`` since ever. Returns the state
    (P, n) just before ``time_min`` at steady state, and the input events of earlier units still
    to come after ``time_min`` (the rest of an infusion longer than II, a lag past II; zero
    amounts for patients without one). Sums of the single unit's response at ``k II`` over all
    k >= 1, in closed form with ``(I - Phi(II))^-1`` as in :func:`steady_state_state`; per
    patient step lengths (individual lags and durations) by ``propagators``, once per distinct
    length.
    """
    if not math.isfinite(ii_min) or ii_min <= 0:
        raise InputError(field, f"{ii_min!r} min: a steady-state dose needs an interval > 0")
    P, n, _ = K.shape
    phi_ii = _per_patient(K, np.full(P, ii_min), propagators)[0]
    lhs = np.eye(n) - phi_ii
    none = InputError(
        field,
        "the model has a compartment without elimination, so a dose repeated for ever has no "
        "steady state",
    )
    try:
        inv = np.linalg.inv(lhs)
    except np.linalg.LinAlgError:
        raise none from None
    with np.errstate(invalid="ignore", over="ignore"):  # condition in the 1-norm, no SVD
        cond = np.abs(lhs).sum(axis=1).max(axis=1) * np.abs(inv).sum(axis=1).max(axis=1)
    if P and not float(np.max(cond)) <= 1e12:
        raise none
    x_ss = np.zeros((P, n))
    tails: list[InputEvent] = []
    for ev in events:
        s = np.asarray(ev.start_min, dtype=np.float64) - time_min
        f = np.asarray(ev.end_min, dtype=np.float64) - time_min
        a = np.asarray(ev.amount_mg, dtype=np.float64)
        if np.any(s < 0):
            raise InputError(field, "a steady-state dose cannot start before its time")
        span = f - s
        infusion = span > 0
        rate = np.zeros(P)
        if ev.pump_rate_mg_per_min is not None:
            rate[infusion] = np.asarray(ev.pump_rate_mg_per_min)[infusion]
        else:
            rate[infusion] = a[infusion] / span[infusion]
        # the unit's input once complete: a (bolus) or Gamma(f - s) r (infusion), at time f
        gam = _per_patient(K, span, propagators)[1][:, :, ev.state]
        v = np.where(infusion[:, None], gam * rate[:, None], 0.0)
        v[~infusion, ev.state] = a[~infusion]
        k1 = np.maximum(1.0, np.ceil(f / ii_min - 1e-12))
        carried = np.einsum("pij,pj->pi", _per_patient(K, k1 * ii_min - f, propagators)[0], v)
        x_ss += np.einsum("pij,pj->pi", inv, carried)
        # infusions still running at k II (s < k II < f): their part so far
        k_max = int(np.max(k1)) if P else 0
        for k in range(1, k_max):
            running = infusion & (s < k * ii_min) & (k * ii_min < f)
            if np.any(running):
                h = np.where(running, k * ii_min - s, 0.0)
                part = _per_patient(K, h, propagators)[1][:, :, ev.state]
                x_ss += np.where(running[:, None], part * rate[:, None], 0.0)
        # earlier units' inputs after time_min
        for k in range(1, k_max + 1):
            back = k * ii_min
            if infusion.any():
                lo = np.maximum(s - back, 0.0)
                hi = np.maximum(f - back, 0.0)
                live = infusion & (hi > lo)
                if np.any(live):
                    tails.append(
                        InputEvent(
                            ev.state,
                            time_min + np.where(live, lo, 0.0),
                            time_min + np.where(live, hi, 0.0),
                            np.where(live, rate * (hi - lo), 0.0),
                            np.where(live, rate, 0.0),
                        )
                    )
            late = ~infusion & (s - back > 0)
            if np.any(late):
                at = time_min + np.where(late, s - back, 0.0)
                tails.append(InputEvent(ev.state, at, at.copy(), np.where(late, a, 0.0)))
    return x_ss, tails
