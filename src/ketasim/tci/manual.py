"""Manual infusion schemes: a TCI target as a few round rate changes for an ordinary pump.

Where no TCI pump is available (historically none was cleared in the United States), a target is
given as a handful of rate changes a nurse sets by hand, at round times, to round rates, with an
optional loading bolus; or as intermittent hand-given boluses. :func:`plan_manual` builds such a
scheme and reports what it achieves (the scheme itself: :mod:`ketasim.tci.manual_scheme`).

How (everything on the exact propagators of :mod:`ketasim.pk`):

1. :func:`ketasim.tci.plan_tci` is run for the same model, patient, target and pump: it checks the
   covariates, resolves the effect site (and where its ke0 comes from), and gives the reference
   TCI dose. Its system and input state are the ones the scheme is built on.
2. The targeted site's response to a unit rate (mg/min) from time 0 and to a unit bolus (mg) is
   computed once by :class:`ketasim.pk.ExactSolver` on an evaluation grid; the response of any
   scheme is a sum of shifted copies of these (the system is linear and time-invariant).
3. For a given set of change times the rates (and bolus) are found by a linear programme
   (scipy's HiGHS): minimise the worst relative deviation from the target after the settling
   time of each target step, plus a small weight on the shortfall during settling, with the
   overshoot held below ``max_overshoot`` throughout and rates within ``[0, pump maximum]``.
4. The change times are picked greedily from round times (multiples of ``time_step_min``) until
   ``max_changes`` settings are used or another change no longer helps; then each time is moved to
   its neighbouring round times if that helps.
5. Rates are rounded to the pump's step (``rate_step_ml_per_h``) and the bolus to
   ``bolus_step_mg`` one at a time in time order, each choosing the lower or upper step by
   re-solving the programme for the later ones. Rounding down never breaks the overshoot limit
   (more drug earlier can only raise every later concentration), so a feasible choice exists.
6. The rounded scheme is replayed exactly and judged on a 1-s grid: worst deviation after
   settling and worst overshoot are reported with their times.

The defaults (7 settings, 0.5 mL/h rate step, 5-min round times, 1-mg bolus step, 10 min to settle,
10% overshoot) are settings, not evidence, from the request this feature answers (at most 7
changes in the first hour, as SimTIVA-style schemes; +-10% after 10 min), options of ``ketasim
tci --manual``; set ``--rate-step`` to what a real pump accepts (its manual).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.tci.manual_lp import (
    MAX_GRID,
    SELECT_GRID,
    SearchTimeError,
    build_problem,
    candidate_times,
    choose_times,
    round_values,
    settle_times,
    windows,
)
from ketasim.tci.manual_scheme import ManualScheme, SchemeStep
from ketasim.tci.manual_settings import ManualSettings
from ketasim.tci.plan import Site, plan_tci
from ketasim.tci.pump import Pump
from ketasim.tci.schedule import TargetSchedule

if TYPE_CHECKING:
    pass

__all__ = ["ManualScheme", "ManualSettings", "SchemeStep", "plan_manual"]

FloatArray = NDArray[np.float64]
_JUDGE_STEP_MIN = 1.0 / 60.0  # the final scheme is judged on a 1-s grid


def plan_manual(
    model: ModelSpec,
    patient: Patient,
    targets: TargetSchedule | float,
    *,
    duration_min: float,
    site: Site = "effect",
    pump: Pump | None = None,
    settings: ManualSettings | None = None,
    ke0_per_min: float | None = None,
    tpeak_min: float | None = None,
    analyte: str | None = None,
    etas: Mapping[str, float] | None = None,
    allow_extrapolation: bool = False,
    time_limit_s: float | None = None,
) -> ManualScheme:
    """A manual scheme for a plasma or effect-site target (see the module notes).

    Arguments as for :func:`ketasim.tci.plan_tci`; ``settings`` says how the scheme may look
    (:class:`ManualSettings`). The pump's syringe concentration converts mg to mL and its
    maximum rate caps the rates; its update interval only affects the reference TCI plan.
    ``time_limit_s``: the search for the change times and rounded rates stops after that many
    seconds with an :class:`~ketasim.errors.InputError` naming ``max_changes`` (a request
    bound for the clinic's pages; None: no limit).
    """
    settings = settings or ManualSettings()
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    reference = plan_tci(
        model,
        patient,
        targets,
        duration_min=duration_min,
        site=site,
        pump=pump,
        ke0_per_min=ke0_per_min,
        tpeak_min=tpeak_min,
        analyte=analyte,
        etas=etas,
        allow_extrapolation=allow_extrapolation,
    )
    pump = reference.pump
    changes = sorted(
        {round(s.time_min, 9) for s in reference.targets.steps if s.time_min < duration_min}
    )
    if settings.mode == "boluses":
        changes = [t for t in changes if reference.targets.at(t) > 0] or [0.0]
    if len(changes) > settings.max_changes:
        raise InputError(
            "max_changes",
            f"{settings.max_changes} is fewer than the "
            f"{len(changes)} settings the target schedule itself needs",
        )
    loading = settings.mode == "infusion" and settings.loading_bolus
    # choose the times on a coarse grid, then round the rates on a fine one
    try:
        coarse = build_problem(reference, duration_min, settings, SELECT_GRID, deadline)
        by_index: dict[int, float] = {}
        for t in [*changes, *candidate_times(settings, duration_min, changes)]:
            by_index.setdefault(round(t / coarse.dt), t)
        mandatory = [round(t / coarse.dt) for t in changes]
        picked = choose_times(
            coarse,
            mandatory,
            sorted(set(by_index) - set(mandatory)),
            settings.max_changes,
            settings.mode,
            loading,
        )
        times = [by_index[k] for k in picked]
        p = build_problem(reference, duration_min, settings, MAX_GRID, deadline)
        idx = [round(t / p.dt) for t in times]
        conc = pump.syringe_mg_per_ml
        rate_step_mg_per_min = settings.rate_step_ml_per_h * conc / 60.0
        steps = ([settings.bolus_step_mg] if loading else []) + [
            rate_step_mg_per_min if settings.mode == "infusion" else settings.bolus_step_mg
            for _ in idx
        ]
        values = round_values(p, idx, settings.mode, loading, steps)
    except SearchTimeError:
        raise InputError(
            "max_changes",
            f"the search for this scheme ({len(reference.targets.steps)} target steps, "
            f"{settings.max_changes} changes over {duration_min:g} min) ran past the "
            f"{time_limit_s:g} s allowed; ask for fewer changes or target steps or a shorter "
            "duration (the command line `ketasim tci --manual` has no limit)",
        ) from None
    scheme_steps = _steps(times, values, settings, loading, conc)
    draft = ManualScheme(reference, settings, scheme_steps, 0.0, 0.0, 0.0, 0.0, duration_min, ())
    return _judged(draft)


def _steps(
    times: Sequence[float],
    values: FloatArray,
    settings: ManualSettings,
    loading: bool,
    syringe_mg_per_ml: float,
) -> tuple[SchemeStep, ...]:
    out: list[SchemeStep] = []
    if settings.mode == "boluses":
        return tuple(
            SchemeStep(t, 0.0, float(v)) for t, v in zip(times, values, strict=True) if v > 0
        )
    offset = 1 if loading else 0
    previous = None
    for j, t in enumerate(times):
        ml_h = round(float(values[j + offset]) * 60.0 / syringe_mg_per_ml, 6)
        bolus = float(values[0]) if (loading and j == 0) else 0.0
        if ml_h == previous and bolus == 0.0:
            continue  # rounding made two neighbouring rates equal: no change
        out.append(SchemeStep(t, ml_h, bolus))
        previous = ml_h
    return tuple(out)


def _judged(draft: ManualScheme) -> ManualScheme:
    settings = draft.settings
    duration = draft.duration_min
    times = np.arange(0.0, duration + 1e-9, _JUDGE_STEP_MIN)
    c = draft.concentrations_at(times, varying=False)[f"{draft.analyte}_{draft.site}"]
    target, assessed, capped, _ = windows(
        draft.targets, times, settle_times(draft.reference, settings), duration
    )
    pos = target > 0
    rel = np.zeros(times.size)
    rel[pos] = c[pos] / target[pos] - 1.0
    dev = np.where(assessed & pos, np.abs(rel), -np.inf)
    over = np.where(capped & pos, rel, -np.inf)
    k_dev = int(np.argmax(dev))
    k_over = int(np.argmax(over))
    worst = float(dev[k_dev]) if np.isfinite(dev[k_dev]) else float("nan")
    overshoot = max(0.0, float(over[k_over])) if np.isfinite(over[k_over]) else 0.0
    what = (
        f"{draft.n_rate_settings} pump setting(s)"
        + (
            f" and a loading bolus of {draft.steps[0].bolus_mg:g} mg"
            if draft.steps and draft.steps[0].bolus_mg > 0 and settings.mode == "infusion"
            else ""
        )
        if settings.mode == "infusion"
        else f"{draft.n_boluses} bolus(es)"
    )
    findings = [
        *draft.reference.findings,
        Finding(
            "tci.manual.scheme",
            "info",
            f"manual {settings.mode} scheme: {what}; {draft.site}-site worst deviation "
            f"{worst * 100:.1f}% at {times[k_dev]:.2f} min (judged from "
            f"{settings.settle_min:g} min after each target change), overshoot "
            f"{overshoot * 100:.1f}%; total "
            f"{draft.total_mg:.4g} mg (TCI pump: {draft.reference.total_mg:.4g} mg)",
            "ketasim.tci.manual",
        ),
    ]
    if draft.total_mg <= 0 and any(s.target_ng_per_ml > 0 for s in draft.targets.steps):
        findings.append(
            Finding(
                "tci.manual.empty",
                "warn",
                "no dose fits the settings: every rounded step would overshoot the target by more "
                f"than {settings.max_overshoot * 100:g}% (raise --max-overshoot, or use a smaller "
                "--bolus-step / --rate-step or a more dilute syringe)",
                "ketasim.tci.manual",
            )
        )
    if overshoot > settings.max_overshoot + 1e-3:
        findings.append(
            Finding(
                "tci.manual.overshoot",
                "warn",
                f"the rounded scheme overshoots the target by {overshoot * 100:.1f}% at "
                f"{times[k_over]:.2f} min (limit {settings.max_overshoot * 100:g}%)",
                "ketasim.tci.manual",
            )
        )
    return ManualScheme(
        draft.reference,
        settings,
        draft.steps,
        worst,
        float(times[k_dev]),
        overshoot,
        float(times[k_over]) if overshoot > 0 else 0.0,
        duration,
        tuple(findings),
    )
