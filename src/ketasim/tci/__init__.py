"""Target-controlled infusion: plasma- and effect-site targeting over a pump model.

``plan_tci(model, patient, targets, duration_min=..., site="effect", pump=Pump(...))`` returns
an immutable :class:`TciPlan` (rate per pump interval, cumulative dose, predicted plasma and
effect-site concentrations); :func:`tci_performance` replays a plan into patients drawn from a
model's variability and reports Varvel's MDPE, MDAPE, divergence and wobble;
:func:`plan_manual` turns the same target into a few round rate changes (or boluses) for an
ordinary pump (:mod:`ketasim.tci.manual`).
"""

from ketasim.tci.effect import EffectSiteInfo, ke0_from_tpeak, with_effect_site
from ketasim.tci.manual import ManualScheme, ManualSettings, SchemeStep, plan_manual
from ketasim.tci.performance import (
    TciPerformance,
    VarvelMeasures,
    sample_etas,
    tci_performance,
    varvel_measures,
)
from ketasim.tci.plan import TciPlan, plan_tci, replay_rates
from ketasim.tci.pump import Pump, parse_pump
from ketasim.tci.schedule import TargetSchedule, TargetStep, parse_targets

__all__ = [
    "EffectSiteInfo",
    "ManualScheme",
    "ManualSettings",
    "Pump",
    "SchemeStep",
    "TargetSchedule",
    "TargetStep",
    "TciPerformance",
    "TciPlan",
    "VarvelMeasures",
    "ke0_from_tpeak",
    "parse_pump",
    "parse_targets",
    "plan_manual",
    "plan_tci",
    "replay_rates",
    "sample_etas",
    "tci_performance",
    "varvel_measures",
    "with_effect_site",
]
