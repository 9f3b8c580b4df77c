"""The antidepressant exposure memory of many patients in a trial arm.

The empirical antidepressant model (:mod:`ketasim.pd.antidepressant`) is driven by a slow memory
of the parent's plasma concentration, ``dCe/dt = ke0 (C - Ce)``. Here the parent concentration
is propagated exactly on a uniform 2-min grid from 0 for all patients at once and Ce advanced
with the exact step for a concentration linear between grid points
(:func:`ketasim.pd.antidepressant.exposure_memory_coefficients`); values between grid points are
interpolated linearly.

One path for every arm: the patients' systems as segments (:class:`ketasim.population.
occasions.OccasionBatch`; a plain arm is one segment), stepped with the kernel's own arrays
(:func:`ketasim.population.occasions.segmented_arrays`), so steady state, covariate changes,
inter-occasion variability and time-varying (``TAFD_MIN``) parameters drive the memory exactly
as they drive the concentration bands.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ketasim.pd import exposure_memory_coefficients
from ketasim.population.batch import BatchInputs
from ketasim.population.kernel import build_programs
from ketasim.population.occasions import OccasionBatch, segmented_arrays
from ketasim.types import FloatArray

__all__ = ["STEP_MIN", "exposure_memory_at"]

STEP_MIN = 2.0  # the 2-min exposure grid of ketasim.pd.antidepressant


def exposure_memory_at(
    segments: OccasionBatch,
    inputs: BatchInputs,
    parent_output: str,
    ke0_per_h: float,
    times_h: Sequence[float],
    *,
    steady_state: tuple[float, float] | None = None,
    scale: float = 1.0,
    power: float = 1.0,
) -> FloatArray:
    """Per patient, the exposure memory Ce ((ng/mL)^power of the parent) at ``times_h``, shape
    (n_patients, len(times_h)). ``inputs``: the arm's doses on ``segments`` (their events).
    The memory integrates ``(scale C)^power`` (``scale``: the parent's potency factor;
    ``power``: ``exposure_power`` of the antidepressant model, 1 integrates C itself), as
    :func:`ketasim.pd.antidepressant.exposure_memory` does for one patient.

    ``steady_state`` (``t0_h``, ``interval_h``): the arm starts at steady state at its first
    dose ``t0`` (NONMEM SS = 1). The memory is then at its periodic steady state too: being
    linear, it is the memory of the run from Ce(t0) = 0 plus ``Ce_ss exp(-ke0 (t - t0))``, with
    ``Ce_ss = F / (1 - exp(-ke0 II))`` and ``F`` the run's value at ``t0 + II`` (over that
    interval the concentration is the periodic one)."""
    if steady_state is not None:
        t0, ii = steady_state
        both = exposure_memory_at(
            segments,
            inputs,
            parent_output,
            ke0_per_h,
            [*times_h, t0 + ii],
            scale=scale,
            power=power,
        )
        decay = np.exp(-ke0_per_h * ii)
        ce_ss = both[:, -1] / (1.0 - decay)
        th = np.asarray(times_h, dtype=np.float64)
        carried = np.where(th >= t0, np.exp(-ke0_per_h * np.maximum(th - t0, 0.0)), 0.0)
        return np.asarray(both[:, :-1] + ce_ss[:, None] * carried[None, :], dtype=np.float64)
    system = segments.systems[0]
    n_pat = system.n_patients
    out = np.zeros((n_pat, len(times_h)))
    step_h = STEP_MIN / 60.0
    grid_h = np.arange(0.0, max(times_h) + step_h, step_h)
    a, b0, b1 = exposure_memory_coefficients(step_h, ke0_per_h)
    k_hi = [
        min(max(int(np.searchsorted(grid_h, t, side="left")), 1), grid_h.size - 1) for t in times_h
    ]
    wanted = set(k_hi) | {k - 1 for k in k_hi}
    last = max(wanted)
    out_index = system.output_names.index(parent_output)
    for prog in build_programs(inputs, grid_h * 60.0, system.K.shape[1]):
        phi, drive, bolus, C, step_idx, step_drive, _ = segmented_arrays(segments, prog)
        row = C[out_index]  # (n, P): the output in the kernel's (scaled) state
        x = np.zeros(row.shape)
        ce = np.zeros(row.shape[1])
        c_prev = np.zeros(row.shape[1])
        kept: dict[int, FloatArray] = {}
        for b in range(prog.times.size):
            bi = int(prog.bolus_index[b])
            if bi >= 0:
                x = x + bolus[bi]
            j = int(prog.record[b])
            if j >= 0:
                c = scale * np.maximum(np.einsum("kp,kp->p", row, x), 0.0)
                if power != 1.0:
                    c = np.power(c, power)
                ce = a * ce + b0 * c + b1 * c_prev if j > 0 else np.zeros(c.size)
                c_prev = c
                if j in wanted:
                    kept[j] = ce.copy()
                if j >= last:
                    break
            if b < prog.times.size - 1:
                x = np.einsum("ikp,kp->ip", phi[int(step_idx[b])], x)
                d = int(step_drive[b])
                if d >= 0:
                    x = x + drive[d]
        pts = prog.patients
        for i, (t, k) in enumerate(zip(times_h, k_hi, strict=True)):
            t0, t1 = float(grid_h[k - 1]), float(grid_h[k])
            w = (t - t0) / (t1 - t0)
            out[pts, i] = kept[k - 1] + w * (kept[k] - kept[k - 1])
    return out
