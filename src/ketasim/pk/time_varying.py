"""Parameters that change with the time after the first dose (``TAFD_MIN`` in a model file).

Checked ODE path: ``dx/dt = K(t) x + u`` is integrated between input events by scipy's implicit
Radau method (the system is stiff: Flint 2017's apparent S-norketamine equilibrates within a
minute) with the exact Jacobian ``K(t)`` and tight tolerances (relative 1e-10). ``K(t)`` is
built from the model file at ``TAFD_MIN = t - first dose`` (0 before it); when every entry is
affine in time, as for a clearance linear in time, it is evaluated as ``K0 + t K1`` (checked at a
third point), and intervals of at most a minute (a TCI plan's pump intervals) are advanced by a
fourth-order Magnus step whose result must agree with two half steps to the same tolerance
(:mod:`ketasim.pk.magnus`; the ODE solver takes any interval where that check fails).
Boluses and resets apply at their time and concentrations at a bolus time include it, as in the
exact engine. Agreement with an independently written ODE is tested to 1e-6
(``tests/pk/test_time_varying.py``).

Combined with changes at known times (:class:`TimeSegment`): inter-occasion variability (each
occasion's kappas, :mod:`ketasim.pk.occasions`) and covariates that change in an event table.
Each segment has its own ``K(t)`` and output rows; a segment's start is a breakpoint of the
integration and the state (amounts) is carried across it.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp
from threadpoolctl import ThreadpoolController

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelError
from ketasim.patient import Patient
from ketasim.pk.events import SystemInputs
from ketasim.pk.magnus import MAX_STEP_MIN, MagnusCheckError, magnus_advance
from ketasim.pk.system import assemble_rate_matrices, individual_parameters
from ketasim.types import FloatArray

__all__ = [
    "FIT_RTOL",
    "RTOL",
    "TimeSegment",
    "check_fixed_target",
    "rate_matrix_of_time",
    "solve_time_varying",
    "time_varying_outputs",
]

RTOL = 1e-10
FIT_RTOL = 1e-8  # ``ketasim fit``: ~1e-8 relative, far below any assay's error, ~2x fewer steps


def rate_matrix_of_time(
    model: ModelSpec,
    patient: Patient,
    *,
    etas: Mapping[str, float] | None = None,
    kappas: Mapping[str, float] | None = None,
) -> tuple[Callable[[float], FloatArray], FloatArray]:
    """``K(tafd_min)`` and the (constant) output rows (mg/L) of one patient (on an occasion
    with inter-occasion effects ``kappas``)."""
    K_of, C0, _ = _rate_matrix_parts(model, patient, etas=etas, kappas=kappas)
    return K_of, C0


def _rate_matrix_parts(
    model: ModelSpec,
    patient: Patient,
    *,
    etas: Mapping[str, float] | None = None,
    kappas: Mapping[str, float] | None = None,
) -> tuple[Callable[[float], FloatArray], FloatArray, tuple[FloatArray, FloatArray] | None]:
    """:func:`rate_matrix_of_time` and, when ``K`` is affine in time, ``(K0, K1)``."""

    def mats(tafd: float) -> tuple[FloatArray, FloatArray]:
        cov: dict[str, Any] = dict(patient.covariates())
        cov["TAFD_MIN"] = float(tafd)
        got = assemble_rate_matrices(model, individual_parameters(model, cov, etas, kappas), 1)
        return got.K[0], got.rows[0]

    K0, C0 = mats(0.0)
    K1 = mats(1.0)[0] - K0
    K_far, C_far = mats(10_000.0)
    if not np.allclose(C_far, C0, rtol=1e-12, atol=0.0):
        raise ModelError(f"{model.id}: volumes that change with time are not supported")
    if np.allclose(K_far, K0 + 10_000.0 * K1, rtol=1e-9, atol=1e-15):
        return (lambda t: K0 + max(t, 0.0) * K1), C0, (K0, K1)
    return (lambda t: mats(max(t, 0.0))[0]), C0, None


def time_varying_outputs(
    model: ModelSpec, patient: Patient, *, etas: Mapping[str, float] | None = None
) -> frozenset[str]:
    """Names of the outputs (``<analyte>_<site>``) that the time after the first dose changes.

    A changed entry of ``K`` (row i) changes state i, and every state fed by a changed state
    changes too; an output is time-varying when it reads one of them. Empty for a model
    without ``TAFD_MIN``. For Flint 2017 only S-norketamine: the parent's states, and so a
    parent TCI plan or a parent steady state, are those of one fixed system.
    """
    if not model.time_varying:
        return frozenset()

    def assembled(tafd: float) -> Any:
        cov: dict[str, Any] = dict(patient.covariates())
        cov["TAFD_MIN"] = tafd
        return assemble_rate_matrices(model, individual_parameters(model, cov, etas), 1)

    a0, far = assembled(0.0), assembled(10_000.0)
    K0 = a0.K[0]
    changed: set[int] = {
        int(i)
        for i in np.flatnonzero(np.any(~np.isclose(far.K[0], K0, rtol=1e-12, atol=0.0), axis=1))
    }
    grew = True
    while grew:  # downstream closure: state j is fed by state i when K[j, i] != 0
        fed = {int(j) for i in changed for j in np.flatnonzero(K0[:, i]) if j not in changed}
        grew = bool(fed)
        changed |= fed
    rows = a0.rows[0]
    idx = sorted(changed)
    return frozenset(
        name for k, (name, _, _) in enumerate(a0.outputs) if idx and np.any(rows[k, idx] != 0.0)
    )


def check_fixed_target(
    model: ModelSpec,
    patient: Patient,
    analyte: str,
    *,
    etas: Mapping[str, float] | None = None,
    field: str = "analyte",
) -> frozenset[str]:
    """The model's time-varying outputs; refuses (naming ``field``) when ``analyte``'s plasma
    concentration is one of them."""
    varying = time_varying_outputs(model, patient, etas=etas)
    if f"{analyte}_plasma" in varying:
        fixed = [a for a in model.analyte_names if f"{a}_plasma" not in varying]
        raise InputError(
            field,
            f"{analyte} of {model.id} changes with the time after the first dose (TAFD_MIN); "
            f"a TCI plan or steady state needs a fixed system: target "
            f"{', '.join(fixed) or 'another model'}",
        )
    return varying


@dataclass(frozen=True)
class TimeSegment:
    """From ``start_min`` on (until the next segment): the patient's covariates and the
    occasion's inter-occasion effects (``kappas``)."""

    start_min: float
    patient: Patient
    kappas: Mapping[str, float] = field(default_factory=dict)


def solve_time_varying(
    model: ModelSpec,
    patient: Patient,
    inputs: SystemInputs,
    times_min: FloatArray,
    *,
    etas: Mapping[str, float] | None = None,
    segments: Sequence[TimeSegment] = (),
    rtol: float = RTOL,
) -> FloatArray:
    """Concentrations (mg/L) of every output at ``times_min`` (ascending).

    ``rtol``: the solver's relative tolerance (default :data:`RTOL`; a fit's many evaluations
    use a looser one, :data:`FIT_RTOL`).

    ``segments`` (ascending starts; the first holds from the beginning): covariates or
    occasions that change at known times (an event table's covariate changes, IOV occasions).
    ``K`` then depends on the segment and on the time after the first dose; the state is
    carried across a segment's start and concentrations are read with the segment's volumes.

    Runs with BLAS on one thread: its many tiny matrix exponentials and solves otherwise wait
    on BLAS threads left spinning by an earlier large product (a 24-h TCI plan's replay: 17 s
    with two threads, 2.5 s with one, measured).
    """
    with _blas().limit(limits=1, user_api="blas"):
        return _solve(model, patient, inputs, times_min, etas=etas, segments=segments, rtol=rtol)


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools, found once (a fresh search costs ~1 ms per solve)."""
    return ThreadpoolController()


def _solve(
    model: ModelSpec,
    patient: Patient,
    inputs: SystemInputs,
    times_min: FloatArray,
    *,
    etas: Mapping[str, float] | None,
    segments: Sequence[TimeSegment],
    rtol: float,
) -> FloatArray:
    """:func:`solve_time_varying` itself."""
    times = np.asarray(times_min, dtype=np.float64)
    starts = [b.time_min for b in inputs.boluses] + [i.start_min for i in inputs.infusions]
    if not starts:
        raise InputError("regimen", "no dose reaches the model")
    first = min(starts)
    parts = list(segments) or [TimeSegment(-np.inf, patient)]
    seg_starts = [p.start_min for p in parts]
    if any(b <= a for a, b in itertools.pairwise(seg_starts)):
        raise InputError("segments", f"segment starts must increase strictly (min): {seg_starts}")
    mats = [_rate_matrix_parts(model, p.patient, etas=etas, kappas=p.kappas) for p in parts]
    n = mats[0][1].shape[1]
    out = np.empty((times.size, mats[0][1].shape[0]))
    events = inputs.event_times()
    t0 = min([float(times[0]), *events])
    breaks = sorted({t0, *events, *(s for s in seg_starts[1:] if s > t0)})
    x = np.zeros(n)
    resets = {r.time_min for r in inputs.resets}
    boluses_at: dict[float, list[int]] = {}
    for i, bolus in enumerate(inputs.boluses):
        boluses_at.setdefault(bolus.time_min, []).append(i)
    # infusions by start time; the active ones are summed in their order in ``inputs``
    by_start = sorted(range(len(inputs.infusions)), key=lambda i: inputs.infusions[i].start_min)
    active: list[int] = []
    next_start = 0
    ascending = bool(np.all(np.diff(times) >= 0.0))
    for k, a in enumerate(breaks):
        b = breaks[k + 1] if k + 1 < len(breaks) else max(float(times[-1]), a)
        K_of, C, affine = mats[max(0, bisect.bisect_right(seg_starts, a) - 1)]
        if a in resets:
            x[:] = 0.0
        for i in boluses_at.get(a, ()):
            x[inputs.boluses[i].state] += inputs.boluses[i].amount_mg
        while next_start < len(by_start) and inputs.infusions[by_start[next_start]].start_min <= a:
            active.append(by_start[next_start])
            next_start += 1
        active = sorted(i for i in active if a < inputs.infusions[i].end_min)
        u = np.zeros(n)
        for i in active:
            u[inputs.infusions[i].state] += inputs.infusions[i].rate_mg_per_min
        last = k + 1 == len(breaks)
        sel = _between(times, a, b, last=last, ascending=ascending)
        if b <= a:
            out[sel] = x @ C.T
            continue
        atol = 1e-12 * max(1.0, float(np.max(np.abs(x))))
        if affine is not None and b - a <= MAX_STEP_MIN:  # short: a Magnus step
            try:
                idx = np.arange(times.size)[sel]
                ends = [_magnus(affine, u, x, a, float(times[i]), first, rtol, atol) for i in idx]
                x = _magnus(affine, u, x, a, b, first, rtol, atol)
            except MagnusCheckError:
                pass  # the ODE solver below takes the interval
            else:
                for i, xt in zip(idx, ends, strict=True):
                    out[i] = xt @ C.T
                continue

        def rhs(
            t: float,
            y: FloatArray,
            u: FloatArray = u,
            K_of: Callable[[float], FloatArray] = K_of,
        ) -> FloatArray:
            return np.asarray(K_of(t - first) @ y + u, dtype=np.float64)

        def jac(t: float, y: FloatArray, K_of: Callable[[float], FloatArray] = K_of) -> FloatArray:
            return K_of(t - first)

        sol = solve_ivp(
            rhs,
            (a, b),
            x,
            method="Radau",
            jac=jac,
            rtol=rtol,
            atol=atol,
            dense_output=True,
        )
        if not sol.success:
            raise ModelError(f"{model.id}: the ODE solver failed ({sol.message})")
        if times[sel].size:
            out[sel] = (sol.sol(times[sel]).T) @ C.T
        x = np.asarray(sol.y[:, -1], dtype=np.float64)
    return out


def _between(
    times: FloatArray, a: float, b: float, *, last: bool, ascending: bool
) -> slice | NDArray[np.bool_]:
    """The ``times`` in [a, b) ([a, b] when ``last``): a slice when they are ascending (no pass
    over every time per interval: a plan has thousands of intervals), else a mask."""
    if ascending:
        lo = int(np.searchsorted(times, a, side="left"))
        hi = int(np.searchsorted(times, b, side="right" if last else "left"))
        return slice(lo, max(lo, hi))
    return (times >= a) & ((times <= b) if last else (times < b))


def _magnus(
    affine: tuple[FloatArray, FloatArray],
    u: FloatArray,
    x: FloatArray,
    a: float,
    b: float,
    first: float,
    rtol: float,
    atol: float,
) -> FloatArray:
    """The state at ``b`` from ``x`` at ``a`` (min) under ``K0 + (t - first) K1``."""
    K0, K1 = affine
    return magnus_advance(K0, K1, u, x, a - first, b - first, rtol=rtol, atol=atol)
