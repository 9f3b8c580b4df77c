"""The front door of the PK engine: ``simulate(model, patient, regimen, times_min=...)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, RangeError
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk.events import Regimen, SystemInputs, resolve_inputs
from ketasim.pk.prepared import prepare
from ketasim.pk.solve import ExactSolver
from ketasim.pk.system import LinearSystem, build_system

if TYPE_CHECKING:
    import pandas as pd

    from ketasim.pk.occasions import Occasion

__all__ = ["SimulationResult", "check_validity", "refuse_extrapolation", "simulate"]

TIME_VARYING_PATH = "scipy Radau ODE path, relative tolerance 1e-10"

_COVARIATE_FIELDS = {
    "weight_kg": ("weight", "kg"),
    "age_years": ("age", "years"),
    "height_cm": ("height", "cm"),
}


def check_validity(model: ModelSpec, patient: Patient) -> list[Finding]:
    """Compare the patient's covariates with the ranges the model was built on.

    Returns ``warn`` findings for values outside the range (or unknown when a range exists);
    callers decide whether that is an error (see ``allow_extrapolation`` in :func:`simulate`).
    """
    findings: list[Finding] = []
    for key, rng in model.validity.items():
        label, unit = _COVARIATE_FIELDS[key]
        value = getattr(patient, key)
        source = rng.source or f"model file {model.id}"
        if value is None:
            findings.append(
                Finding(
                    f"validity.{key}.unknown",
                    "warn",
                    f"{label} not given; {model.id} was built on {rng.describe()} {unit}",
                    source,
                    key,
                )
            )
        elif not rng.contains(value):
            findings.append(
                Finding(
                    f"validity.{key}",
                    "warn",
                    f"{label} {value:g} {unit} is outside the range model {model.id} was built on "
                    f"({rng.describe()} {unit})",
                    source,
                    key,
                )
            )
    return findings


def refuse_extrapolation(findings: list[Finding], *, allow: bool) -> None:
    """Raise :class:`~ketasim.errors.RangeError` naming the first covariate out of range,
    unless extrapolation is allowed (``allow_extrapolation``)."""
    out_of_range = [f for f in findings if not f.rule_id.endswith(".unknown")]
    if out_of_range and not allow:
        first = out_of_range[0]
        raise RangeError(first.field or "patient", first.message)


@dataclass(frozen=True)
class SimulationResult:
    """Concentrations over time for one patient, with provenance.

    Attributes
    ----------
    times_min:
        Output times (min).
    concentrations_ng_per_ml:
        ``<analyte>_<site>`` -> concentration (ng/mL) at each time.
    states:
        Raw state values at each time (only with ``return_states=True``, else ``None``):
        amounts (mg) of the compartments, then effect-site concentrations (mg/L); columns
        named by ``state_names``.
    findings:
        Warnings raised on the way (e.g. extrapolation beyond the model's covariate ranges).
    """

    model_id: str
    citation: str
    patient: Patient
    regimen: Regimen | None
    times_min: NDArray[np.float64]
    concentrations_ng_per_ml: Mapping[str, NDArray[np.float64]]
    states: NDArray[np.float64] | None
    state_names: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    provenance: Mapping[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """Output column names, e.g. ``ketamine_plasma_ng_per_ml``."""
        return [f"{name}_ng_per_ml" for name in self.concentrations_ng_per_ml]

    def to_dataframe(self) -> pd.DataFrame:
        """A pandas DataFrame: ``time_min`` then one ``<analyte>_<site>_ng_per_ml`` column each."""
        import pandas as pd

        data: dict[str, NDArray[np.float64]] = {"time_min": self.times_min}
        for name, values in self.concentrations_ng_per_ml.items():
            data[f"{name}_ng_per_ml"] = values
        return pd.DataFrame(data)


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ketasim")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def simulate(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen | None,
    *,
    times_min: NDArray[np.float64] | list[float],
    etas: Mapping[str, float] | None = None,
    extra_inputs: SystemInputs | None = None,
    allow_extrapolation: bool = False,
    solver: ExactSolver | None = None,
    system: LinearSystem | None = None,
    return_states: bool = False,
    occasions: Sequence[Occasion] | None = None,
) -> SimulationResult:
    """Simulate plasma (and effect-site, metabolite) concentrations exactly.

    Parameters
    ----------
    model:
        A catalogue model (see :func:`ketasim.catalogue.resolve_model`).
    patient:
        Covariates (weight kg, age years, ...).
    regimen:
        Doses; ``None`` when all input comes from ``extra_inputs``.
    times_min:
        Output times in minutes, ascending.
    etas:
        Individual random effects by parameter name (default: typical patient).
    extra_inputs:
        Additional resolved inputs (e.g. from a NONMEM event table with CMT doses).
    allow_extrapolation:
        If False, covariates outside the model's validated ranges raise
        :class:`~ketasim.errors.RangeError`; if True they become ``warn`` findings.
    solver, system:
        Reuse a prepared system/solver (e.g. many regimens for one patient). Without them
        the preparation is taken from a small cache keyed by the model object, the patient's
        covariates and the etas (:mod:`ketasim.pk.prepared`; a cache of work, not of results).
    return_states:
        Also return the raw states (amounts in mg, effect-site mg/L) in ``result.states``.
    occasions:
        Inter-occasion variability: the occasions (start times, kappas) of a model with
        ``[iov]`` entries (:mod:`ketasim.pk.occasions`); each occasion has its own parameters
        and each dose takes those of its occasion. Default: one occasion, kappas 0.

    Returns
    -------
    SimulationResult
        Concentrations in ng/mL at ``times_min``.
    """
    findings = check_validity(model, patient)
    refuse_extrapolation(findings, allow=allow_extrapolation)
    if occasions is not None:
        return _simulate_occasions(
            model,
            patient,
            regimen,
            occasions,
            times_min,
            etas=etas,
            extra_inputs=extra_inputs,
            findings=findings,
            prepared=system is not None or solver is not None,
            return_states=return_states,
        )
    prepared = prepare(model, patient, etas) if system is None and solver is None else None
    if prepared is not None:
        sys_ = prepared.system
    else:
        sys_ = system if system is not None else build_system(model, patient, etas=etas)
    inputs = SystemInputs()
    if regimen is not None and prepared is not None:
        inputs = prepared.inputs(regimen, patient.weight_kg)
    elif regimen is not None:
        inputs = resolve_inputs(sys_, regimen, patient.weight_kg)
    if extra_inputs is not None:
        inputs = inputs + extra_inputs
    if not inputs.boluses and not inputs.infusions:
        raise InputError("regimen", "no dose reaches the model (all doses have zero amount)")
    times = np.asarray(times_min, dtype=float)
    if model.time_varying and system is None and solver is None:
        if return_states:
            raise InputError(
                "return_states",
                f"model {model.id} has time-varying parameters; states are not returned",
            )
        from ketasim.pk.time_varying import solve_time_varying

        mg_per_l = solve_time_varying(model, patient, inputs, times, etas=etas)
        return _outputs_result(
            model,
            patient,
            regimen,
            times,
            mg_per_l * 1000.0,
            sys_,
            findings,
            time_varying=TIME_VARYING_PATH,
        )
    if prepared is not None:
        solver, project = prepared.solver, prepared.project_ng_per_ml
    else:
        solver = solver if solver is not None else ExactSolver(sys_.K)
        project = sys_.output_matrix() * 1000.0
    if return_states:
        states: NDArray[np.float64] | None = solver.solve(inputs, times)
        assert states is not None
        conc_ng_per_ml = states @ project.T
    else:
        states = None
        conc_ng_per_ml = solver.solve(inputs, times, project=project)
    conc_ng_per_ml = np.asfortranarray(conc_ng_per_ml)  # each output column contiguous
    conc = {o.name: conc_ng_per_ml[:, i] for i, o in enumerate(sys_.outputs)}
    return SimulationResult(
        model_id=model.id,
        citation=model.citation.text,
        patient=patient,
        regimen=regimen,
        times_min=times,
        concentrations_ng_per_ml=conc,
        states=states,
        state_names=sys_.state_names,
        findings=tuple(findings),
        provenance={
            "model_id": model.id,
            "doi": model.citation.doi or "",
            "pmid": model.citation.pmid or "",
            "ketasim_version": _version(),
        },
    )


def _simulate_occasions(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen | None,
    occasions: Sequence[Occasion],
    times_min: NDArray[np.float64] | list[float],
    *,
    etas: Mapping[str, float] | None,
    extra_inputs: SystemInputs | None,
    findings: list[Finding],
    prepared: bool,
    return_states: bool,
) -> SimulationResult:
    from ketasim.pk.occasions import solve_occasions

    if prepared:
        raise InputError(
            "occasions",
            "occasions build their own systems; do not pass a prepared system or solver",
        )
    if return_states:
        raise InputError("return_states", "states are not returned with occasions")
    times = np.asarray(times_min, dtype=float)
    doses = list(regimen) if regimen is not None else []
    how = {
        "occasions": f"{len(occasions)} occasion(s) at "
        + ", ".join(f"{o.start_min:g}" for o in occasions)
        + " min"
    }
    if model.time_varying:  # K(t) on each occasion: the checked ODE path, by segments
        from ketasim.pk.occasions import occasion_inputs
        from ketasim.pk.time_varying import TimeSegment, solve_time_varying

        inputs, first = occasion_inputs(
            model, patient, doses, occasions, etas=etas, extra_inputs=extra_inputs
        )
        segments = [
            TimeSegment(-np.inf if k == 0 else o.start_min, patient, o.kappas)
            for k, o in enumerate(occasions)
        ]
        conc = 1000.0 * solve_time_varying(
            model, patient, inputs, times, etas=etas, segments=segments
        )
        how["time_varying"] = TIME_VARYING_PATH
    else:
        conc, first = solve_occasions(
            model, patient, doses, occasions, times, etas=etas, extra_inputs=extra_inputs
        )
    return _outputs_result(model, patient, regimen, times, conc, first, findings, **how)


def _outputs_result(
    model: ModelSpec,
    patient: Patient,
    regimen: Regimen | None,
    times: NDArray[np.float64],
    conc_ng_per_ml: NDArray[np.float64],
    system: LinearSystem,
    findings: list[Finding],
    **how: str,
) -> SimulationResult:
    """A result from every output's concentrations (ng/mL, one column per output of
    ``system``), without states; ``how`` adds to the provenance."""
    conc = np.asfortranarray(conc_ng_per_ml)
    return SimulationResult(
        model_id=model.id,
        citation=model.citation.text,
        patient=patient,
        regimen=regimen,
        times_min=times,
        concentrations_ng_per_ml={o.name: conc[:, i] for i, o in enumerate(system.outputs)},
        states=None,
        state_names=system.state_names,
        findings=tuple(findings),
        provenance={
            "model_id": model.id,
            "doi": model.citation.doi or "",
            "pmid": model.citation.pmid or "",
            "ketasim_version": _version(),
            **how,
        },
    )
