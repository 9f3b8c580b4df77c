"""Parameters of the EMPIRICAL antidepressant model and the calibrated file shipped with ketasim.

The equations are in :mod:`ketasim.pd.antidepressant_parts`; the fit that writes
``pd/calibration/antidepressant_params.toml`` is :mod:`ketasim.pd.calibration.antidepressant_fit`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

from ketasim.errors import InputError

__all__ = [
    "AntidepressantParams",
    "default_antidepressant_params",
    "potency_factor",
    "stored_parameter_file",
]


@dataclass(frozen=True, slots=True)
class AntidepressantParams:
    """Parameters of the empirical model (rates per hour; MADRS points; EC50 in ng/mL: the
    constant concentration at which the typical patient's drug part is half its maximum; the
    memory Ce is in (ng/mL)^exposure_power, so its half-maximal level is EC50^exposure_power)."""

    ke0_per_h: float
    ec50_ng_per_ml: float
    emax: float
    hill: float
    omega_drug: float
    session_effect: float
    session_decay_per_h: float
    session_onset_per_h: float
    expectancy_effect: float
    expectancy_rate_per_h: float
    new_oral_ad_effect: float
    omega_placebo: float
    residual_sd_madrs: float
    typical_baseline_madrs: float
    baseline_sd_madrs: float
    overlap_q: float = 1.0  # 1: independent (log-additive) parts; see madrs_scores
    esketamine_potency: float = 1.0  # per ng/mL, relative to racemic ketamine; see potency_factor
    omega_trial_placebo: float = 0.0  # between-trial SD of the log non-specific part
    emax_share_of_drug_eta: float = 0.0  # 0: eta_D on potency, 1: on Emax; see drug_part
    emax_ceiling_ratio: float = 0.0  # 0: off; > 1: logit-normal Emax up to ratio x emax
    expectancy_fade_per_h: float = 0.0  # 0: the expectancy part never fades; see placebo_parts
    placebo_eta_normal: float = 0.0  # 0: factor exp(eta_P); 1: factor 1 + eta_P; madrs_scores
    # sixth session (schema 6): loss of benefit on continued treatment, both 0 (off) by default
    fluctuation_sd_log: float = 0.0  # within-patient OU fluctuation on log MADRS (stationary SD)
    fluctuation_tau_h: float = 0.0  # its correlation time (h); > 0 when fluctuation_sd_log > 0
    drug_tolerance_per_h: float = 0.0  # drug parts decay exp(-k t) on continued treatment
    relapse_on_ratings: float = 0.0  # 0: on the trajectory at the time; 1: rated, at visits
    # seventh session (schema 7): how the drug part rises, both at the old behaviour by default
    drug_onset_per_h: float = 0.0  # 0: off; > 0: drug part times 1 - exp(-k (t - first session))
    exposure_power: float = 1.0  # the memory integrates (C / 1 ng/mL)^power ng/mL; 1: C itself

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not math.isfinite(v) or v < 0:
                raise InputError(f.name, f"{v!r} must be a number >= 0")
        for name in (
            "ke0_per_h",
            "ec50_ng_per_ml",
            "hill",
            "session_decay_per_h",
            "session_onset_per_h",
            "expectancy_rate_per_h",
            "typical_baseline_madrs",
            "esketamine_potency",
            "exposure_power",
        ):
            if getattr(self, name) <= 0:
                raise InputError(name, f"{getattr(self, name)!r} must be > 0")
        if self.relapse_on_ratings not in (0.0, 1.0):
            raise InputError(
                "relapse_on_ratings", "must be 0 (trajectory) or 1 (ratings at visits)"
            )
        if self.placebo_eta_normal not in (0.0, 1.0):
            raise InputError("placebo_eta_normal", "must be 0 (log-normal) or 1 (normal)")
        if self.emax_share_of_drug_eta > 1:
            raise InputError("emax_share_of_drug_eta", "must lie in [0, 1]")
        if self.emax_ceiling_ratio and not self.emax_ceiling_ratio > 1:
            raise InputError("emax_ceiling_ratio", "must be 0 (off) or > 1")
        if self.emax_ceiling_ratio and self.emax_share_of_drug_eta:
            raise InputError(
                "emax_ceiling_ratio", "a logit-normal Emax needs emax_share_of_drug_eta = 0"
            )
        if self.fluctuation_sd_log > 0 and not self.fluctuation_tau_h > 0:
            raise InputError("fluctuation_tau_h", "must be > 0 h when fluctuation_sd_log > 0")
        if self.overlap_q < 1:
            raise InputError("overlap_q", f"{self.overlap_q!r} must be >= 1")
        if self.typical_baseline_madrs > 60:
            raise InputError("typical_baseline_madrs", "must lie in (0, 60]")


@cache
def _stored() -> dict[str, object]:
    path = resources.files("ketasim.pd") / "calibration" / "antidepressant_params.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def stored_parameter_file() -> dict[str, object]:
    """The parsed ``antidepressant_params.toml`` (parameters, sources, fit, LOSO, intervals)."""
    return dict(_stored())


def default_antidepressant_params() -> AntidepressantParams:
    """The calibrated parameters shipped with ketasim (fit report in the same file)."""
    values = _stored()["parameters"]
    assert isinstance(values, dict)
    return AntidepressantParams(**{k: float(v) for k, v in values.items()})


def potency_factor(parent_output: str, params: AntidepressantParams) -> float:
    """Antidepressant potency of one ng/mL of ``parent_output`` relative to racemic ketamine:
    ``esketamine_potency`` for ``esketamine_plasma``, 1 for ``ketamine_plasma`` (the reference)
    and ``arketamine_plasma`` (no clinical potency estimate found: treated as the racemate).

    The drug part is driven by the racemic-equivalent concentration ``factor x C``."""
    if parent_output == "esketamine_plasma":
        return params.esketamine_potency
    return 1.0
