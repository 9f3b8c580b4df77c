"""SUSTAIN-1 (randomised withdrawal of esketamine) simulated with the EMPIRICAL model: a TEST.

Never fitted. Published design and results (Daly EJ et al. JAMA Psychiatry 2019;76:893-903,
PMC6551577, abstract; SUSTAIN-1 poster abstract for the Kaplan-Meier median): adults with TRD
took esketamine 56 or 84 mg with a newly started oral antidepressant for 16 weeks (4-week
twice-weekly induction, then weekly, then weekly or every other week); those in stable
remission (MADRS <= 12 in at least 3 of the last 4 weeks) and, separately, those in stable
response without remission (>= 50% drop in the last 2 weeks) were randomised to continue
esketamine or switch to placebo nasal spray, the oral antidepressant continued in both arms.
Relapse among stable remitters: 24/90 (26.7%) vs 39/86 (45.3%), HR 0.49; among stable
responders: 16/62 (25.8%) vs 34/59 (57.6%); Kaplan-Meier median time to relapse of remitters on
placebo 273 days (95% CI 97 to not estimable), not reached on esketamine. Follow-up was variable
(the study ran until enough relapses), so the crude proportions are over unequal follow-up.

Definitions as published (ClinicalTrials.gov NCT02493868 results, read via
meddatax.com/clinical-trials/NCT02493868/results): relapse = MADRS total >= 22 on 2 consecutive
assessments separated by 5-15 days, and/or hospitalisation for worsening depression or another
event suggesting relapse (suicide attempt, hospitalisation for suicide prevention; not modelled);
stable remission = MADRS <= 12 in at least 3 of the last 4 weeks of the optimisation phase, the
one allowed excursion (> 12) or missing value only at week 13 or 14; stable response (Daly 2019
abstract) = >= 50% below baseline in each of the last 2 weeks, without stable remission.

Simulation choices (each an assumption, stated in the report): the typical 70-kg, 45-year adult
PK (perez-ruixo-2021), 56 mg on day 1 then 84 mg; weeks 5-8 weekly; from week 9 every other week
or weekly (both shown); one rated assessment a week, the day before that week's session (the
trial's visit schedule was not read); a rating = the patient's trajectory, times the optional
within-patient fluctuation ``exp(x(t))`` (:mod:`ketasim.pd.antidepressant_fluctuation`; off by
default: its size and time scale have no source), plus the rating error (``residual_sd_madrs``,
independent between visits). Both arms of a patient share the same draws, so the randomised
comparison differs only by the drug. Virtual patients are drawn from the model's between-patient
distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pd.antidepressant import (
    GRID_STEP_H,
    AntidepressantParams,
    exposure_memory,
    placebo_parts,
    potency_factor,
)
from ketasim.pd.antidepressant_fluctuation import ou_paths
from ketasim.pd.antidepressant_individuals import draw_individuals
from ketasim.pd.antidepressant_parts import drug_time_factor, individual_scores
from ketasim.pk import Dose, Regimen, simulate

__all__ = [
    "PLACEBO_MEDIAN_DAYS_REMITTERS",
    "PUBLISHED",
    "SustainArm",
    "SustainResult",
    "simulate_sustain",
    "stable_remission",
    "sustain_lines",
    "sustain_relapse",
]

FloatArray = NDArray[np.float64]
WEEK_H = 168.0
RELAPSE_MADRS = 22.0  # on 2 consecutive assessments 5-15 days apart
RELAPSE_GAP_DAYS = (5.0, 15.0)
REMISSION_MADRS = 12.0
PUBLISHED: dict[str, dict[str, float]] = {  # relapse fractions (crude, variable follow-up)
    "remitters": {"esketamine": 24 / 90, "placebo": 39 / 86, "hazard_ratio": 0.49},
    "responders": {"esketamine": 16 / 62, "placebo": 34 / 59},
}
PLACEBO_MEDIAN_DAYS_REMITTERS = 273.0  # Kaplan-Meier, 95% CI 97 to not estimable
FLUCTUATION_SD_LOG = (0.1, 0.2, 0.3)  # the range shown (log scale), not estimates
FLUCTUATION_TAU_WEEKS = (1.0, 4.0, 12.0)


@dataclass(frozen=True)
class SustainArm:
    """Relapse among the randomised group, by weeks after randomisation."""

    weeks: FloatArray
    relapse_esketamine: FloatArray
    relapse_placebo: FloatArray
    n_randomised: int

    def median_days_placebo(self) -> float | None:
        """First follow-up day with >= 50% relapsed on placebo (None: not reached)."""
        hit = np.nonzero(self.relapse_placebo >= 0.5)[0]
        return float(self.weeks[hit[0]] * 7) if hit.size else None


@dataclass(frozen=True)
class SustainResult:
    """Stable remitters and stable responders, for one maintenance spacing."""

    maintenance_every_weeks: int
    remitters: SustainArm
    responders: SustainArm
    fraction_stable_remitters: float
    fraction_stable_responders: float


def _sessions_h(every_weeks: int, follow_weeks: int) -> list[float]:
    induction = [0.0, 72.0, 168.0, 240.0, 336.0, 408.0, 504.0, 576.0]
    weekly = [w * WEEK_H for w in range(4, 8)]
    later = [w * WEEK_H for w in range(8, 16 + follow_weeks, every_weeks)]
    return induction + weekly + later


def sustain_relapse(
    ratings: FloatArray,
    visits_h: FloatArray,
    *,
    threshold: float = RELAPSE_MADRS,
    gap_days: tuple[float, float] = RELAPSE_GAP_DAYS,
) -> NDArray[np.int64]:
    """SUSTAIN-1's rating criterion of relapse: the index of the visit at which a patient has
    had MADRS >= ``threshold`` on 2 consecutive assessments separated by ``gap_days`` (5-15
    days), i.e. the second of the two; -1 if never. ``ratings``: (n, T); ``visits_h``: (T,).
    A pair further apart than 15 days (or closer than 5) does not count."""
    r = np.asarray(ratings, dtype=np.float64)
    v = np.asarray(visits_h, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] != v.size:
        raise ValueError("ratings must be (n, T) with T = len(visits_h)")
    gap = np.diff(v) / 24.0
    ok_gap = (gap >= gap_days[0]) & (gap <= gap_days[1])
    high = r >= threshold
    pair = high[:, 1:] & high[:, :-1] & ok_gap[None, :]
    first = np.where(pair.any(axis=1), pair.argmax(axis=1) + 1, -1)
    return np.asarray(first, dtype=np.int64)


def stable_remission(last4: FloatArray) -> NDArray[np.bool_]:
    """SUSTAIN-1's stable remission from the ratings of the last 4 weeks of optimisation
    (n, 4), weeks 13-16: <= 12 at weeks 15 and 16 and at least one of weeks 13 and 14 (one
    excursion allowed, only at week 13 or 14)."""
    ok = np.asarray(last4) <= REMISSION_MADRS
    return np.asarray(ok[:, 2] & ok[:, 3] & (ok[:, 0] | ok[:, 1]), dtype=np.bool_)


def simulate_sustain(
    params: AntidepressantParams,
    *,
    maintenance_every_weeks: int = 2,
    follow_weeks: int = 48,
    n: int = 4000,
    seed: int = 20190605,
    baseline_madrs: float = 37.4,
    fluctuation_sd_log: float = 0.0,
    fluctuation_tau_weeks: float = 4.0,
) -> SustainResult:
    """Induction and optimisation on esketamine + a new oral antidepressant, then randomised
    withdrawal of the stable remitters and responders: cumulative relapse (the published rating
    criterion) by week in each arm. ``fluctuation_sd_log`` and ``fluctuation_tau_weeks``: the
    within-patient Ornstein-Uhlenbeck fluctuation (0: none)."""
    if maintenance_every_weeks not in (1, 2):
        raise ValueError("maintenance_every_weeks must be 1 or 2")
    sessions = _sessions_h(maintenance_every_weeks, follow_weeks)
    horizon_h = (16 + follow_weeks) * WEEK_H
    grid = np.arange(0.0, horizon_h + GRID_STEP_H / 2, GRID_STEP_H)
    doses = [
        Dose(56.0 if i == 0 else 84.0, "mg", s * 60.0, "intranasal", 0.0)
        for i, s in enumerate(sessions)
    ]
    sim = simulate(
        resolve_model("perez-ruixo-2021"),
        Patient(weight_kg=70.0, age_years=45.0),
        Regimen(tuple(doses)),
        times_min=grid * 60.0,
    )
    conc = np.maximum(sim.concentrations_ng_per_ml["esketamine_plasma"], 0.0)
    conc = conc * potency_factor("esketamine_plasma", params)
    ce_cont = exposure_memory(conc, GRID_STEP_H, params.ke0_per_h, power=params.exposure_power)
    cut = round(16 * WEEK_H / GRID_STEP_H)  # randomisation at week 16 (before its dose)
    conc_stop = conc.copy()
    conc_stop[cut:] = 0.0
    ce_stop = exposure_memory(conc_stop, GRID_STEP_H, params.ke0_per_h, power=params.exposure_power)
    # weekly visits, the day before each week's session (trough of the session effect)
    visits_h = np.array([w * WEEK_H - 24.0 for w in range(1, 17 + follow_weeks)])
    idx = np.rint(visits_h / GRID_STEP_H).astype(int)
    parts = placebo_parts(visits_h, sessions, params, "new_oral_ad")
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    tolerance = drug_time_factor(visits_h, sessions, params)
    rng = np.random.default_rng(seed)
    ind = draw_individuals(params, n, rng, baseline_madrs=baseline_madrs)
    tau_h = fluctuation_tau_weeks * WEEK_H
    fluct = np.exp(ou_paths(n, visits_h, fluctuation_sd_log, tau_h, rng))
    error = rng.normal(0.0, params.residual_sd_madrs, (n, visits_h.size))

    def ratings(ce: FloatArray) -> FloatArray:
        ce_n = np.broadcast_to(ce[idx], (n, idx.size))
        true = individual_scores(
            ind.baseline_madrs, hp, ce_n, params, ind.eta_placebo, ind.eta_drug, tolerance
        )
        return np.asarray(np.clip(true * fluct + error, 0.0, 60.0), dtype=np.float64)

    on, off = ratings(ce_cont), ratings(ce_stop)
    remit = stable_remission(on[:, 12:16])  # visits of weeks 13-16
    half = 0.5 * ind.baseline_madrs[:, None]
    respond = np.all(on[:, 14:16] <= half, axis=1) & ~remit
    weeks = np.arange(1, follow_weeks + 1, dtype=np.float64)
    after = slice(16, 16 + follow_weeks)
    rel_on = sustain_relapse(on[:, after], visits_h[after])
    rel_off = sustain_relapse(off[:, after], visits_h[after])

    def cumulative(rel: NDArray[np.int64]) -> FloatArray:
        hit = (rel[:, None] >= 0) & (rel[:, None] <= np.arange(follow_weeks)[None, :])
        return np.asarray(hit.mean(axis=0), dtype=np.float64)

    def arm(group: NDArray[np.bool_]) -> SustainArm:
        if not group.any():
            return SustainArm(weeks, np.full(weeks.size, np.nan), np.full(weeks.size, np.nan), 0)
        return SustainArm(
            weeks, cumulative(rel_on[group]), cumulative(rel_off[group]), int(group.sum())
        )

    return SustainResult(
        maintenance_every_weeks,
        arm(remit),
        arm(respond),
        float(remit.mean()),
        float(respond.mean()),
    )


def sustain_lines(params: AntidepressantParams) -> list[str]:
    """The report's SUSTAIN-1 section: published values, the model without fluctuation at
    both maintenance spacings, and the fluctuation sensitivity grid."""
    rem, resp = PUBLISHED["remitters"], PUBLISHED["responders"]
    lines = [
        f"  published: stable remitters relapsed {100 * rem['esketamine']:.1f}% on esketamine "
        f"vs {100 * rem['placebo']:.1f}% on placebo (HR {rem['hazard_ratio']}); stable "
        f"responders {100 * resp['esketamine']:.1f}% vs {100 * resp['placebo']:.1f}%; KM median "
        f"on placebo (remitters) {PLACEBO_MEDIAN_DAYS_REMITTERS:.0f} days; variable follow-up",
    ]
    for every in (2, 1):
        r = simulate_sustain(params, maintenance_every_weeks=every, n=2000)
        lines.append(
            f"  model, maintenance every {every} week(s): stable remitters "
            f"{100 * r.fraction_stable_remitters:.0f}% of those treated, stable responders "
            f"{100 * r.fraction_stable_responders:.0f}%"
        )
        for name, arm in (("remitters", r.remitters), ("responders", r.responders)):
            if not arm.n_randomised:
                lines.append(f"    {name}: none in the simulation")
                continue
            w = [3, 11, 23, 47]
            esk = ", ".join(f"{100 * arm.relapse_esketamine[i]:.0f}%" for i in w)
            pbo = ", ".join(f"{100 * arm.relapse_placebo[i]:.0f}%" for i in w)
            med = arm.median_days_placebo()
            lines.append(
                f"    {name} relapsed by weeks 4 / 12 / 24 / 48: esketamine {esk}; placebo "
                f"{pbo}; placebo median {'not reached' if med is None else f'{med:.0f} days'}"
            )
    lines.append(
        "  Relapse as published (NCT02493868 results): MADRS >= 22 on 2 consecutive assessments "
        "5-15 days apart (hospitalisation and suicide events not modelled), on rated MADRS "
        "(trajectory plus rating error) at weekly visits; stable remission <= 12 in 3 of weeks "
        "13-16, the excursion only at week 13 or 14. Without a within-patient fluctuation the "
        "trajectories are smooth: relapse after withdrawal happens while the exposure memory "
        "fades and hardly later."
    )
    lines.append(
        "  Sensitivity (NOT a model value: no published size or correlation time of the "
        "week-to-week fluctuation was found): Ornstein-Uhlenbeck fluctuation on log MADRS, "
        "maintenance every 2 weeks, relapsed by week 48, esketamine vs placebo:"
    )
    for sd in FLUCTUATION_SD_LOG:
        cells = []
        for tau in FLUCTUATION_TAU_WEEKS:
            r = simulate_sustain(params, n=2000, fluctuation_sd_log=sd, fluctuation_tau_weeks=tau)
            a_rem, a_res = r.remitters, r.responders
            cells.append(
                f"tau {tau:g} wk: remitters {100 * a_rem.relapse_esketamine[-1]:.0f}/"
                f"{100 * a_rem.relapse_placebo[-1]:.0f}%, responders "
                f"{100 * a_res.relapse_esketamine[-1]:.0f}/"
                f"{100 * a_res.relapse_placebo[-1]:.0f}%"
            )
        lines.append(f"    SD {sd:g}: " + "; ".join(cells))
    return lines
