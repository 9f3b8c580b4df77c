"""The front door of the PD layer: ``effects(pd_model, simulation or concentrations)``.

Two ways in, one result type:

- :func:`simulate_effects` joins a PD model to a PK model *exactly*: the PD paper's ke0 is added
  to the PK system as a new effect state (:func:`~ketasim.pd.effect.add_effect_site`) and the PK
  engine solves everything together.
- :func:`effects_from_concentrations` takes sampled plasma concentrations (e.g. a
  :class:`~ketasim.pk.SimulationResult` or measured levels) and filters them through the
  effect site, exact for curves linear between samples.

Concentrations are in ng/mL; times in minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pd.effect import add_effect_site, effect_site_from_samples, ke0_from_half_time
from ketasim.pd.response import fractional_inhibitory, hill_fraction, linear_effect, sigmoid_emax
from ketasim.pd.schema import Endpoint, PDModelSpec, PDParameter
from ketasim.pk import Regimen, SimulationResult, build_system, simulate
from ketasim.units import MOLECULAR_WEIGHT_G_PER_MOL, convert

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EffectResult",
    "EndpointResult",
    "analyte_role",
    "effects_from_concentrations",
    "effects_of_simulation",
    "endpoint_response",
    "pd_ke0_per_min",
    "simulate_effects",
]

_ROLES = {
    "ketamine": "ketamine",
    "esketamine": "ketamine",
    "arketamine": "ketamine",
    "norketamine": "norketamine",
    "noresketamine": "norketamine",
}


def analyte_role(analyte: str) -> str | None:
    """PD role of a PK analyte name: ``ketamine`` (parent, any form), ``norketamine`` or None."""
    return _ROLES.get(analyte)


def pd_ke0_per_min(pd_model: PDModelSpec) -> float | None:
    """The PD paper's ke0 (1/min), or None when the paper's link was not found."""
    p = pd_model.effect_site.t_half_ke0
    if p is None:
        return None
    t_half_min = convert(p.value, p.unit, "min")
    return ke0_from_half_time(t_half_min)


def _conc_ng_per_ml(p: PDParameter, analyte: str) -> float:
    mw = MOLECULAR_WEIGHT_G_PER_MOL[analyte]
    return convert(p.value, p.unit, "ng/mL", molecular_weight_g_per_mol=mw)


@dataclass(frozen=True)
class EndpointResult:
    """One endpoint over time.

    ``values``: the effect in ``unit`` (None when the paper's Hill coefficient was not found);
    ``ce_over_c50``: effect-site concentration relative to C50 (None for linear endpoints).
    """

    name: str
    description: str
    unit: str
    values: NDArray[np.float64] | None
    ce_over_c50: NDArray[np.float64] | None
    c50_ng_per_ml: float | None


@dataclass(frozen=True)
class EffectResult:
    """Effects of one PD model over time, with provenance and findings."""

    pd_model_id: str
    citation: str
    pk_model_id: str | None
    times_min: NDArray[np.float64]
    driver_ng_per_ml: Mapping[str, NDArray[np.float64]]
    endpoints: Mapping[str, EndpointResult]
    ke0_per_min: float | None
    findings: tuple[Finding, ...] = ()
    provenance: Mapping[str, str] = field(default_factory=dict)

    def to_dataframe(self) -> pd.DataFrame:
        """``time_min``, driver concentrations (``<analyte>_effect_site_ng_per_ml``, or
        ``<analyte>_plasma_ng_per_ml`` for a model without ke0), then each endpoint."""
        import pandas as pd

        data: dict[str, NDArray[np.float64]] = {"time_min": self.times_min}
        for name, values in self.driver_ng_per_ml.items():
            data[f"{name}_ng_per_ml"] = values
        for name, ep in self.endpoints.items():
            if ep.values is not None:
                data[name] = ep.values
            if ep.ce_over_c50 is not None:
                data[f"{name}_ce_over_c50"] = ep.ce_over_c50
        return pd.DataFrame(data)


def endpoint_response(
    endpoint: Endpoint, conc_ng_per_ml: Mapping[str, NDArray[np.float64]]
) -> EndpointResult:
    """Evaluate one endpoint from effect-site concentrations (ng/mL) keyed by analyte role."""

    def drive(role: str) -> NDArray[np.float64]:
        if role not in conc_ng_per_ml:
            raise InputError(
                "analyte",
                f"endpoint {endpoint.name} needs {role} concentrations; "
                f"given: {', '.join(sorted(conc_ng_per_ml))}",
            )
        return np.asarray(conc_ng_per_ml[role], dtype=float)

    if endpoint.kind == "linear":
        terms = []
        for s in endpoint.slopes:
            one_unit_ng_per_ml = convert(
                1.0,
                s.per_unit,
                "ng/mL",
                molecular_weight_g_per_mol=MOLECULAR_WEIGHT_G_PER_MOL[s.analyte],
            )
            terms.append((s.value / one_unit_ng_per_ml, drive(s.analyte)))
        e0 = endpoint.e0.value if endpoint.e0 is not None else 0.0
        return EndpointResult(
            endpoint.name,
            endpoint.description,
            endpoint.effect_unit,
            linear_effect(e0, terms),
            None,
            None,
        )
    assert endpoint.c50 is not None
    c = drive(endpoint.analyte)
    c50 = _conc_ng_per_ml(endpoint.c50, endpoint.analyte)
    ratio = c / c50
    values: NDArray[np.float64] | None = None
    if endpoint.gamma is not None:
        g = endpoint.gamma.value
        if endpoint.kind == "sigmoid_emax":
            assert endpoint.emax is not None
            e0 = endpoint.e0.value if endpoint.e0 is not None else 0.0
            values = sigmoid_emax(c, e0=e0, emax=endpoint.emax.value, c50=c50, gamma=g)
        elif endpoint.kind == "fractional_inhibitory":
            assert endpoint.e0 is not None and endpoint.imax is not None
            values = fractional_inhibitory(
                c, e0=endpoint.e0.value, imax=endpoint.imax.value, c50=c50, gamma=g
            )
        else:
            values = hill_fraction(c, c50, g)
    return EndpointResult(
        endpoint.name, endpoint.description, endpoint.effect_unit, values, ratio, c50
    )


def _drug_findings(pd_model: PDModelSpec, drug: str | None) -> list[Finding]:
    src = f"PD model {pd_model.id}"
    out: list[Finding] = []
    if drug is not None and drug not in pd_model.compatible_drugs:
        out.append(
            Finding(
                f"pd.{pd_model.id}.drug",
                "warn",
                f"PK model drug {drug!r} is not among the drugs {pd_model.id} was "
                f"estimated for ({', '.join(pd_model.compatible_drugs)})",
                src,
            )
        )
    if pd_model.effect_site.t_half_ke0 is None:
        out.append(
            Finding(
                f"pd.{pd_model.id}.no_ke0",
                "info",
                f"{pd_model.id}: no effect-site ke0 (none found in or identifiable "
                "from the source); the effect is driven by plasma concentration",
                src,
            )
        )
    if pd_model.empirical:
        out.append(
            Finding(
                f"pd.{pd_model.id}.empirical",
                "info",
                f"{pd_model.id} is an empirical model calibrated by ketasim to "
                "summary data, not a published PK/PD model",
                src,
            )
        )
    return out


def _select(pd_model: PDModelSpec, drug: str | None) -> tuple[list[Endpoint], list[Finding]]:
    chosen: list[Endpoint] = []
    skipped: list[str] = []
    for e in pd_model.endpoints:
        if e.drug is not None and drug is not None and not _same_drug(e.drug, drug):
            skipped.append(e.name)
        else:
            chosen.append(e)
    findings: list[Finding] = []
    if skipped:
        findings.append(
            Finding(
                f"pd.{pd_model.id}.endpoints_skipped",
                "info",
                f"endpoints estimated for another drug than {drug!r} not "
                f"computed: {', '.join(skipped)}",
                f"PD model {pd_model.id}",
            )
        )
    for e in chosen:
        if e.gamma is None and e.kind != "linear":
            findings.append(
                Finding(
                    f"pd.{pd_model.id}.{e.name}.no_gamma",
                    "info",
                    f"{e.name}: Hill coefficient not found in the source; reported as Ce/C50 "
                    "(1 = half-maximal effect)",
                    pd_model.citation.text,
                )
            )
    return chosen, findings


def _same_drug(a: str, b: str) -> bool:
    def norm(x: str) -> str:
        x = x.lower()
        if "esketamine" in x or x.startswith("s-") or "s(+)" in x:
            return "s"
        if "arketamine" in x or x.startswith("r-") or "r(-)" in x:
            return "r"
        return "racemic" if "racemic" in x else x

    return norm(a) == norm(b)


def _roles(
    concentrations: Mapping[str, NDArray[np.float64]], suffix: str
) -> dict[str, NDArray[np.float64]]:
    out: dict[str, NDArray[np.float64]] = {}
    for name, values in concentrations.items():
        if not name.endswith(suffix):
            continue
        role = analyte_role(name[: -len(suffix)])
        if role is not None and role not in out:
            out[role] = np.asarray(values, dtype=float)
    return out


def _finish(
    pd_model: PDModelSpec,
    drivers: dict[str, NDArray[np.float64]],
    times: NDArray[np.float64],
    pk_model_id: str | None,
    drug: str | None,
    findings: list[Finding],
    provenance: Mapping[str, str],
) -> EffectResult:
    chosen, more = _select(pd_model, drug)
    racemic = drug is not None and _same_drug(drug, "racemic ketamine")
    endpoints = {}
    for e in chosen:
        if e.enantiomer == "S" and racemic:
            half = {k: 0.5 * v for k, v in drivers.items()}
            endpoints[e.name] = endpoint_response(e, half)
            more.append(
                Finding(
                    f"pd.{pd_model.id}.{e.name}.racemic_half",
                    "info",
                    f"{e.name}: C50 refers to S-ketamine; taken as half of the "
                    "racemic concentration (approximation)",
                    f"PD model {pd_model.id}",
                )
            )
        else:
            endpoints[e.name] = endpoint_response(e, drivers)
    site = "plasma" if pd_ke0_per_min(pd_model) is None else "effect_site"
    return EffectResult(
        pd_model.id,
        pd_model.citation.text,
        pk_model_id,
        times,
        {f"{k}_{site}": v for k, v in drivers.items()},
        endpoints,
        pd_ke0_per_min(pd_model),
        tuple(findings + more),
        dict(provenance),
    )


def simulate_effects(
    pd_model: PDModelSpec,
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen,
    *,
    times_min: NDArray[np.float64] | list[float],
    etas: Mapping[str, float] | None = None,
    allow_extrapolation: bool = False,
) -> tuple[SimulationResult, EffectResult]:
    """Simulate ``model`` for ``patient`` and ``regimen`` and the effects of ``pd_model``.

    The PD paper's ke0 is added to the PK system for the ketamine (parent) and norketamine
    analytes the PD model needs; the whole system is solved exactly. Returns the PK result
    (with the new outputs ``<analyte>_pd_effect``) and the :class:`EffectResult`.
    """
    system = build_system(model, patient, etas=etas)
    ke0 = pd_ke0_per_min(pd_model)
    roles_needed = {e.analyte for e in pd_model.endpoints} | {
        s.analyte for e in pd_model.endpoints for s in e.slopes
    }
    analytes = {
        analyte_role(a.name): a.name
        for a in reversed(model.analytes)
        if analyte_role(a.name) is not None
    }
    if ke0 is not None:
        for role in sorted(roles_needed):
            if role in analytes:
                system = add_effect_site(system, analytes[role], ke0)
    sim = simulate(
        model,
        patient,
        regimen,
        times_min=times_min,
        etas=etas,
        allow_extrapolation=allow_extrapolation,
        system=system,
    )
    suffix = "_pd_effect" if ke0 is not None else "_plasma"
    drivers = _roles(sim.concentrations_ng_per_ml, suffix)
    findings = list(sim.findings) + _drug_findings(pd_model, model.drug)
    prov = {
        **sim.provenance,
        "pd_model_id": pd_model.id,
        "pd_doi": pd_model.citation.doi or "",
        "pd_pmid": pd_model.citation.pmid or "",
    }
    return sim, _finish(pd_model, drivers, sim.times_min, model.id, model.drug, findings, prov)


def effects_from_concentrations(
    pd_model: PDModelSpec,
    times_min: NDArray[np.float64] | list[float],
    plasma_ng_per_ml: Mapping[str, NDArray[np.float64] | list[float]],
    *,
    drug: str | None = None,
) -> EffectResult:
    """Effects from sampled plasma concentrations (ng/mL) keyed by analyte name.

    Keys are analyte names (``ketamine``, ``esketamine``, ``norketamine``, ...) or PK output
    names (``ketamine_plasma``). ``drug`` is the administered form (the PK model's ``drug``);
    without it, concentrations are taken as those each endpoint's C50 refers to. The effect
    site starts empty at the first time; the curve is
    taken as linear between samples, so sample finely around boluses.
    """
    t = np.asarray(times_min, dtype=float)
    ke0 = pd_ke0_per_min(pd_model)
    plasma = {
        k.removesuffix("_plasma"): np.asarray(v, dtype=float) for k, v in plasma_ng_per_ml.items()
    }
    drivers: dict[str, NDArray[np.float64]] = {}
    for name, values in plasma.items():
        role = analyte_role(name)
        if role is None or role in drivers:
            continue
        if values.shape != t.shape:
            raise InputError(name, "concentrations and times differ in length")
        if np.any(values < 0) or not np.all(np.isfinite(values)):
            raise InputError(name, "concentrations must be finite and >= 0 ng/mL")
        drivers[role] = values if ke0 is None else effect_site_from_samples(t, values, ke0)
    if not drivers:
        raise InputError("concentrations", "no ketamine or norketamine concentrations given")
    return _finish(pd_model, drivers, t, None, drug, _drug_findings(pd_model, drug), {})


def effects_of_simulation(
    pd_model: PDModelSpec, sim: SimulationResult, *, drug: str | None = None
) -> EffectResult:
    """Effects from a finished :class:`~ketasim.pk.SimulationResult` (plasma outputs, sampled).

    Prefer :func:`simulate_effects` (exact effect site); this one is for results at hand.
    """
    plasma = {k: v for k, v in sim.concentrations_ng_per_ml.items() if k.endswith("_plasma")}
    return effects_from_concentrations(pd_model, sim.times_min, plasma, drug=drug)
