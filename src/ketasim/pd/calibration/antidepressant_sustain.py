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

Simulation choices (each an assumption, stated in the report): the typical 70-kg, 45-year adult
PK (perez-ruixo-2021), 56 mg on day 1 then 84 mg; weeks 5-8 weekly; from week 9 every other week
or weekly (both shown); relapse = the patient's true MADRS (no rating error) >= 22 at a weekly
visit (the trial's relapse definition was not read); stable remission = true MADRS <= 12 at 3 of
the 4 weekly visits of weeks 13-16; stable response = >= 50% below baseline at weeks 15 and 16
and not a stable remitter. Virtual patients drawn from the model's between-patient distribution.
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
from ketasim.pd.antidepressant_individuals import draw_individuals
from ketasim.pd.antidepressant_parts import drug_part, madrs_scores
from ketasim.pk import Dose, Regimen, simulate

__all__ = [
    "PLACEBO_MEDIAN_DAYS_REMITTERS",
    "PUBLISHED",
    "SustainArm",
    "SustainResult",
    "simulate_sustain",
]

FloatArray = NDArray[np.float64]
WEEK_H = 168.0
RELAPSE_MADRS = 22.0
REMISSION_MADRS = 12.0
PUBLISHED: dict[str, dict[str, float]] = {  # relapse fractions (crude, variable follow-up)
    "remitters": {"esketamine": 24 / 90, "placebo": 39 / 86, "hazard_ratio": 0.49},
    "responders": {"esketamine": 16 / 62, "placebo": 34 / 59},
}
PLACEBO_MEDIAN_DAYS_REMITTERS = 273.0  # Kaplan-Meier, 95% CI 97 to not estimable


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


def simulate_sustain(
    params: AntidepressantParams,
    *,
    maintenance_every_weeks: int = 2,
    follow_weeks: int = 48,
    n: int = 4000,
    seed: int = 20190605,
    baseline_madrs: float = 37.4,
) -> SustainResult:
    """Induction and optimisation on esketamine + a new oral antidepressant, then randomised
    withdrawal of the stable remitters and responders: relapse by week in each arm."""
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
    ce_cont = exposure_memory(conc, GRID_STEP_H, params.ke0_per_h)
    cut = round(16 * WEEK_H / GRID_STEP_H)  # randomisation at week 16 (before its dose)
    conc_stop = conc.copy()
    conc_stop[cut:] = 0.0
    ce_stop = exposure_memory(conc_stop, GRID_STEP_H, params.ke0_per_h)
    # weekly visits, the day before each week's session (trough of the session effect)
    visits_h = np.array([w * WEEK_H - 24.0 for w in range(1, 17 + follow_weeks)])
    idx = np.rint(visits_h / GRID_STEP_H).astype(int)
    parts = placebo_parts(visits_h, sessions, params, "new_oral_ad")
    hp = parts["session"] + parts["expectancy"] + parts["new_oral_ad"]
    ind = draw_individuals(params, n, np.random.default_rng(seed), baseline_madrs=baseline_madrs)

    def scores(ce: FloatArray) -> FloatArray:
        hd = drug_part(np.broadcast_to(ce[idx], (n, idx.size)), params, ind.eta_drug)
        return madrs_scores(ind.baseline_madrs, hp, hd, ind.eta_placebo, params.overlap_q)

    on, off = scores(ce_cont), scores(ce_stop)
    pre = slice(12, 16)  # visits of weeks 13-16
    remit = (on[:, pre] <= REMISSION_MADRS).sum(axis=1) >= 3
    half = 0.5 * ind.baseline_madrs[:, None]
    respond = np.all(on[:, 14:16] <= half, axis=1) & ~remit
    weeks = np.arange(1, follow_weeks + 1, dtype=np.float64)

    def arm(group: NDArray[np.bool_]) -> SustainArm:
        if not group.any():
            return SustainArm(weeks, np.full(weeks.size, np.nan), np.full(weeks.size, np.nan), 0)
        after = slice(16, 16 + follow_weeks)
        rel_on = np.maximum.accumulate(on[group, after] >= RELAPSE_MADRS, axis=1).mean(axis=0)
        rel_off = np.maximum.accumulate(off[group, after] >= RELAPSE_MADRS, axis=1).mean(axis=0)
        return SustainArm(weeks, rel_on, rel_off, int(group.sum()))

    return SustainResult(
        maintenance_every_weeks,
        arm(remit),
        arm(respond),
        float(remit.mean()),
        float(respond.mean()),
    )
