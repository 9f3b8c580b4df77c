"""The result of a virtual trial and its assembly from the merged summaries of every arm."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ketasim.findings import Finding
from ketasim.population.arms import ResolvedArm
from ketasim.population.backends import Scheduler
from ketasim.population.chunks import ENDPOINT_BINS
from ketasim.population.covariates import PresetPopulation
from ketasim.population.pd_endpoints import PDPlan
from ketasim.population.spec import Endpoint, TrialSpec
from ketasim.population.summaries import Accumulator, LogBins, quantiles_from_counts
from ketasim.types import FloatArray

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TrialResult", "assemble_result"]


@dataclass(frozen=True)
class TrialResult:
    """Summaries of a virtual trial.

    Attributes
    ----------
    summary:
        Percentile bands: one row per arm, output and time, with ``n`` and columns ``p5``,
        ``p50``, ... (ng/mL; 0 means below ``outputs.floor_ng_per_ml``).
    endpoints:
        One row per arm and endpoint: ``mean``, ``sd``, ``min``, ``max`` (exact), percentiles
        (from the merged histogram), and for ``probability_above`` the exact ``probability``
        with its Wilson 95% interval.
    individuals, individual_parameters:
        Full profiles and covariates/etas/parameters of the first K patients of each arm
        (``None`` unless asked for).
    replicate_bands:
        With ``replicates = K`` > 1: one row per arm, endpoint and statistic (``mean``,
        ``p50``, ``probability``) with its between-trial percentiles (``p5``, ``p50``,
        ``p95``) over the K replicate trials (``None`` otherwise).
    variability:
        Arm name -> how its variability was obtained (``published`` or ``ASSUMED: ...``).
    """

    spec: TrialSpec
    summary: pd.DataFrame
    endpoints: pd.DataFrame
    variability: Mapping[str, str]
    findings: tuple[Finding, ...] = ()
    individuals: pd.DataFrame | None = None
    individual_parameters: pd.DataFrame | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    replicate_bands: pd.DataFrame | None = None

    @property
    def seed(self) -> int:
        """The seed the trial ran with."""
        return self.spec.seed


def _pd_row(
    row: dict[str, Any],
    ep: Endpoint,
    arm: ResolvedArm,
    j: int,
    n: int,
    mean: float,
    sd: float,
    count: int = 0,
) -> None:
    """Columns of the PD kinds (added to the endpoint row in place)."""
    plan = arm.pd_plans.get(j)
    if plan is not None:
        row.update(
            {
                "output": plan.driver,
                "unit": plan.unit,
                "pd_model": plan.pd_model.id,
                "pd_endpoint": plan.endpoint.name,
            }
        )
        if ep.condition is not None:
            row.update({"condition": ep.condition, "level": getattr(ep, ep.condition)})
        basis = "EMPIRICAL model" if plan.pd_model.empirical else "published PD model"
        variability = (
            "PD variability: published CVs, log-normal (ASSUMED form)"
            if ep.pd_iiv and _has_pd_iiv(plan)
            else "PD typical values"
        )
        site = (
            f"effect site with the PD paper's ke0 {plan.site[1]:.4g} /min"
            if plan.site is not None
            else "plasma (the PD model has no ke0)"
        )
        row["note"] = (
            f"{basis} {plan.pd_model.id}; driver: {site}; value per patient: "
            f"{'Ce/C50' if plan.ratio_only else 'effect'} at the peak driver "
            f"concentration in the window; {variability}"
        )
        return
    rplan = arm.response_plans.get(j)
    if rplan is not None:
        k = round(mean * n)
        denom = n if rplan.kind != "relapse_rate" else int(count)
        lo, hi = _wilson(k, denom) if denom else (float("nan"), float("nan"))
        what = {
            "response_rate": "response (rating <= 50% of the patient's baseline)",
            "remission_rate": f"remission (rating <= {rplan.remission_cutoff:g})",
            "relapse_rate": "relapse (a responder at the end of the course, last session "
            "+ 24 h, who no longer responds at the assessment time)",
        }
        row.update(
            {
                "output": rplan.parent_output,
                "count": k,
                "denominator": denom,
                "probability": k / denom if denom else float("nan"),
                "ci95_low": lo,
                "ci95_high": hi,
                "pd_model": "antidepressant-empirical",
                "placebo_arm": rplan.placebo,
                "note": "EMPIRICAL (ketasim's antidepressant model calibrated to trial "
                f"summaries): counts individual virtual patients meeting "
                f"{what[rplan.kind]}, from each patient's exposure, random effects, "
                "baseline and rating error; the CI covers virtual-patient sampling "
                "only, not the empirical model's calibration uncertainty",
            }
        )


def _has_pd_iiv(plan: PDPlan) -> bool:
    return any(
        getattr(plan.endpoint, k) is not None and getattr(plan.endpoint, k).iiv_cv_percent
        for k in ("c50", "emax", "imax", "e0", "gamma")
    )


def _esketamine_caution(arm: ResolvedArm) -> str | None:
    """The esketamine phase-3 caution (as ``ketasim antidepressant`` prints it) for an arm
    whose antidepressant endpoints are driven by esketamine, else None."""
    plans = [
        p
        for p in arm.response_plans.values()
        if p.parent_output == "esketamine_plasma" and not p.placebo
    ]
    if not plans:
        return None
    from ketasim.pd.calibration.antidepressant_test_gap import esketamine_test_caution

    return esketamine_test_caution(plans[0].params)


def _pd_findings(arm: ResolvedArm) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()
    for plan in arm.pd_plans.values():
        pd_model = plan.pd_model
        if pd_model.id in seen:
            continue
        seen.add(pd_model.id)
        src = f"PD model {pd_model.id}"
        drug = arm.model.drug
        if drug is not None and drug not in pd_model.compatible_drugs:
            out.append(
                Finding(
                    f"pd.{pd_model.id}.drug",
                    "warn",
                    f"arm {arm.name!r}: PK model drug {drug!r} is not among the "
                    f"drugs {pd_model.id} was estimated for "
                    f"({', '.join(pd_model.compatible_drugs)})",
                    src,
                )
            )
        if plan.site is None:
            out.append(
                Finding(
                    f"pd.{pd_model.id}.no_ke0",
                    "info",
                    f"{pd_model.id}: no effect-site ke0 in the source; effects are "
                    "driven by plasma concentration",
                    src,
                )
            )
        if pd_model.empirical:
            out.append(
                Finding(
                    f"pd.{pd_model.id}.empirical",
                    "info",
                    f"{pd_model.id} is an EMPIRICAL model calibrated by ketasim to "
                    "summary data, not a published PK/PD model",
                    src,
                )
            )
        if plan.scale != 1.0:
            out.append(
                Finding(
                    f"pd.{pd_model.id}.racemic_half",
                    "info",
                    f"{pd_model.id}: C50 refers to S-ketamine; taken as half of the "
                    "racemic concentration (approximation)",
                    src,
                )
            )
    if arm.response_plans:
        out.append(
            Finding(
                "pd.antidepressant.empirical",
                "info",
                f"arm {arm.name!r}: response rates come from ketasim's EMPIRICAL "
                "antidepressant model (not a published PK/PD model)",
                "ketasim.pd.antidepressant",
            )
        )
    return out


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def assemble_result(
    spec: TrialSpec,
    arms: list[ResolvedArm],
    accs: list[Accumulator],
    bounds: dict[str, tuple[float, float]] | None,
    sched: Scheduler,
    individuals: int,
    grid: FloatArray,
    bins: LogBins,
) -> TrialResult:
    """Bands, endpoint rows, findings and provenance from every arm's merged summary."""
    import pandas as pd

    probs = np.asarray(spec.outputs.percentiles) / 100.0
    pcols = [f"p{p:g}" for p in spec.outputs.percentiles]
    frames = []
    ep_rows: list[dict[str, Any]] = []
    findings: list[Finding] = []
    if bounds is not None and isinstance(spec.population, PresetPopulation):
        shown = ", ".join(
            f"{k} {lo:g}-{hi:g}"
            for k, (lo, hi) in bounds.items()
            if np.isfinite(hi) or k == "age_years"
        )
        findings.append(
            Finding(
                "population.preset",
                "info",
                f"covariates from preset {spec.population.preset} "
                f"(validity = {spec.population.validity!r}): sampled within {shown}",
                spec.population.source,
            )
        )
    for arm, acc in zip(arms, accs, strict=True):
        q = quantiles_from_counts(acc.profile, probs, bins)  # (T, n_out, Q)
        wanted = [n for n in spec.outputs.names or arm.output_names if n in arm.output_names]
        for name in wanted:
            o = arm.output_names.index(name)
            frame = pd.DataFrame(
                {
                    "arm": arm.name,
                    "output": name,
                    "time_min": grid,
                    "n": acc.profile[:, o, :].sum(axis=1),
                }
            )
            for k, col in enumerate(pcols):
                frame[col] = q[:, o, k]
            frames.append(frame)
        eq = quantiles_from_counts(acc.endpoint_counts, probs, ENDPOINT_BINS)
        for j, ep in enumerate(spec.endpoints):
            if not spec.endpoint_applies(j, arm.name):
                continue
            n = acc.n_patients
            mean = acc.endpoint_sum[j] / n
            var = max(acc.endpoint_sumsq[j] / n - mean * mean, 0.0) * n / max(n - 1, 1)
            row: dict[str, Any] = {
                "arm": arm.name,
                "endpoint": ep.name,
                "kind": ep.kind,
                "output": ep.output,
                "unit": ep.unit,
                "threshold_ng_per_ml": ep.threshold_ng_per_ml,
                "n": n,
                "mean": mean,
                "sd": float(np.sqrt(var)),
                "min": acc.endpoint_min[j],
                "max": acc.endpoint_max[j],
            }
            for k, col in enumerate(pcols):
                row[col] = eq[j, k]
            if ep.kind in ("probability_above", "pd_event"):
                k_ = int(acc.exceed[j])
                lo, hi = _wilson(k_, n)
                row.update({"count": k_, "probability": k_ / n, "ci95_low": lo, "ci95_high": hi})
            _pd_row(row, ep, arm, j, n, mean, float(np.sqrt(var)), int(acc.exceed[j]))
            ep_rows.append(row)
        findings.extend(_pd_findings(arm))
        if acc.outside_validity:
            findings.append(
                Finding(
                    "population.validity",
                    "warn",
                    f"arm {arm.name!r}: {acc.outside_validity} of {acc.n_patients} virtual "
                    f"patients lie outside the covariate ranges model {arm.model.id} was built on",
                    f"model file {arm.model.id}",
                )
            )
        if acc.antidepressant_minors:
            findings.append(
                Finding(
                    "antidepressant.age",
                    "warn",
                    f"arm {arm.name!r}: {acc.antidepressant_minors} of {acc.n_patients} virtual "
                    "patients are under 18; the empirical antidepressant model is calibrated "
                    "on adults, so their response, remission and relapse are extrapolations",
                    "ketasim.pd.antidepressant_population_range",
                )
            )
        caution = _esketamine_caution(arm)
        if caution is not None:
            findings.append(
                Finding(
                    "antidepressant.esketamine_test",
                    "warn",
                    f"arm {arm.name!r}: {caution}",
                    "ketasim.pd.calibration.antidepressant_test_gap",
                )
            )
        if arm.model.iov:
            findings.append(
                Finding(
                    "population.iov",
                    "info",
                    f"arm {arm.name!r}: inter-occasion variability of {arm.model.id} on "
                    f"{', '.join(arm.model.iov)}: a new draw per dosing day (occasion)",
                    f"model file {arm.model.id}",
                )
            )
        if arm.omega.assumed:
            findings.append(
                Finding(
                    "population.assumed_variability",
                    "info",
                    f"arm {arm.name!r}: variability is ASSUMED, not published ({arm.variability})",
                    "trial spec",
                )
            )
    summary = pd.concat(frames, ignore_index=True)
    endpoints = pd.DataFrame(ep_rows)
    indiv = params = None
    if individuals:
        parts, pparts = [], []
        for arm, acc in zip(arms, accs, strict=True):
            for chunk in acc.individuals:
                f = pd.DataFrame(chunk)
                f.insert(0, "arm", arm.name)
                parts.append(f)
            for chunk in acc.parameters:
                f = pd.DataFrame(chunk)
                f.insert(0, "arm", arm.name)
                pparts.append(f)
        indiv = pd.concat(parts, ignore_index=True) if parts else None
        params = pd.concat(pparts, ignore_index=True) if pparts else None
    from ketasim.pk.simulate import _version

    provenance = {
        "seed": spec.seed,
        "n_per_arm": spec.n,
        "chunk_size": spec.chunk_size,
        "scheduler": sched.describe(),
        "ketasim_version": _version(),
        "models": {
            a.name: {
                "id": a.model.id,
                "citation": a.model.citation.text,
                "doi": a.model.citation.doi,
                "pmid": a.model.citation.pmid,
            }
            for a in arms
        },
        "population_source": spec.population.source,
        "histogram": "128 bins per octave (relative width <= 0.78%); quantiles "
        "interpolated log-linearly within a bin",
    }
    replicate_bands = None
    if spec.replicates > 1 and spec.replicate is None:
        from ketasim.population.replicates import replicate_bands as _bands

        replicate_bands = _bands(spec, scheduler=sched)
        provenance["replicates"] = (
            f"{spec.replicates} replicate trials of {spec.n} patients per arm, each with the "
            "models' estimates drawn from their published RSEs (independent truncated normals)"
        )
    return TrialResult(
        spec=spec,
        summary=summary,
        endpoints=endpoints,
        variability={a.name: a.variability for a in arms},
        findings=tuple(findings),
        individuals=indiv,
        individual_parameters=params,
        provenance=provenance,
        replicate_bands=replicate_bands,
    )
