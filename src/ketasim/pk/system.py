"""From a model file and a patient to a linear system dx/dt = K x + u (internal units).

States are compartment amounts (mg of the compartment's analyte) followed by effect-site
concentrations (mg/L). Effect sites obey dCe/dt = ke0 (Cp - Ce): linear in the state, so the
whole system stays linear and is solved exactly by :mod:`ketasim.pk.solve`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelError
from ketasim.expressions import Expression, compile_expression
from ketasim.patient import Patient
from ketasim.pk.effect_site import append_effect_sites, link_effect_site

__all__ = [
    "LinearSystem",
    "Output",
    "RateMatrices",
    "RouteInputResolved",
    "assemble_rate_matrices",
    "build_system",
    "individual_parameters",
    "resolve_routes",
    "with_effect_site",
]


@dataclass(frozen=True, slots=True)
class Output:
    """An observable: ``conc (mg/L) = row @ state``.

    ``name`` is ``<analyte>_<site>`` (e.g. ``ketamine_plasma``, ``ketamine_effect``).
    """

    name: str
    analyte: str
    site: str
    row: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RouteInputResolved:
    """One pathway of a route: a ``fraction`` of the dose into ``state`` (index).

    ``duration`` (min): modelled zero-order input; ``lag`` (min): absorption lag; ``rate``
    (mg/min): modelled rate for NONMEM RATE = -1 doses. Values are expressions evaluated per
    dose because they may depend on ``DOSE_MG``.
    """

    state: int
    compartment: str
    fraction: Expression
    duration: Expression | None
    lag: Expression | None
    rate: Expression | None = None
    split: bool = False


@dataclass(frozen=True)
class LinearSystem:
    """The individual linear system of one patient under one model.

    Attributes
    ----------
    K:
        Rate matrix (1/min), shape (n, n): dx/dt = K x + u.
    state_names:
        Compartment names, then ``effect_<analyte>`` states.
    outputs:
        Observables (plasma and effect-site concentrations).
    routes:
        Route name -> its input pathways.
    parameters:
        Individual parameter values (internal units) and covariates used to build K.
    """

    model_id: str
    K: NDArray[np.float64]
    state_names: tuple[str, ...]
    outputs: tuple[Output, ...]
    routes: Mapping[str, tuple[RouteInputResolved, ...]]
    parameters: Mapping[str, float]

    @property
    def n_states(self) -> int:
        """Number of states."""
        return len(self.state_names)

    def output_matrix(self) -> NDArray[np.float64]:
        """Rows of all outputs stacked, shape (n_outputs, n_states): conc (mg/L) = C @ x."""
        return np.vstack([o.row for o in self.outputs])

    def state_index(self, name: str) -> int:
        """Index of the state called ``name``."""
        try:
            return self.state_names.index(name)
        except ValueError:
            raise InputError(
                "compartment", f"no compartment {name!r}; states: {', '.join(self.state_names)}"
            ) from None


def _apply_eta(value: Any, eta: float, scale: str) -> Any:
    if scale == "exponential":
        return value * np.exp(eta)
    if scale == "logit":
        logit = np.log(value / (1.0 - value)) + eta
        return 1.0 / (1.0 + np.exp(-logit))
    return value + eta


def individual_parameters(
    model: ModelSpec,
    covariates: Mapping[str, Any],
    etas: Mapping[str, Any] | None = None,
    kappas: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate parameters, covariate equations and IIV for one set of covariates.

    Covariates and etas may be floats (one patient) or equal-length numpy arrays (a population
    evaluated at once).

    Parameter values are converted to internal units (mg, L, min). ``etas`` maps a parameter
    or derived name with an ``[iiv]`` entry to its random effect (0 = typical value);
    ``kappas`` maps a name with an ``[iov]`` entry to its effect on the current occasion, added
    to the eta before it is applied (``P = TV x exp(eta + kappa)``).
    Returns parameters, derived values and the covariates in one namespace.
    """
    from ketasim.units import to_internal

    etas = dict(etas or {})
    unknown = set(etas) - set(model.iiv)
    if unknown:
        raise InputError("etas", f"{sorted(unknown)} have no iiv entry in model {model.id}")
    if kappas:
        unknown = set(kappas) - set(model.iov)
        if unknown:
            raise InputError("kappas", f"{sorted(unknown)} have no iov entry in model {model.id}")
        for name, kappa in kappas.items():
            etas[name] = etas.get(name, 0.0) + kappa
    values: dict[str, Any] = {"TAFD_MIN": 0.0} if model.time_varying else {}  # min after 1st dose
    values.update(model.covariate_defaults)
    values.update(covariates)
    for name, p in model.parameters.items():
        v, _ = to_internal(p.value, p.unit)
        if name in etas:
            v = _apply_eta(v, etas[name], model.variability_scale(name))
        values[name] = v
    for name, text in model.derived.items():
        expr = compile_expression(text)
        missing = expr.names - set(values)
        if missing:
            raise InputError(
                "patient",
                f"model {model.id} needs covariate(s) {', '.join(sorted(missing))} "
                f"(for {name}); give them with the patient",
            )
        v = expr.evaluate(values)
        if name in etas:
            v = _apply_eta(v, etas[name], model.variability_scale(name))
        values[name] = v
    return values


@dataclass(frozen=True)
class RateMatrices:
    """The assembled linear systems of P patients (P = 1 for :func:`build_system`).

    ``K``: (P, n, n) rate matrices (1/min). ``rows``: (P, n_out, n) output rows giving
    concentrations in mg/L from the state. ``outputs``: (name, analyte, site) per row.
    """

    K: NDArray[np.float64]
    rows: NDArray[np.float64]
    state_names: tuple[str, ...]
    outputs: tuple[tuple[str, str, str], ...]


def assemble_rate_matrices(
    model: ModelSpec, values: Mapping[str, Any], n_patients: int, *, field: str = "patient"
) -> RateMatrices:
    """Rate matrices and output rows of ``n_patients`` from evaluated parameter ``values``.

    ``values`` (from :func:`individual_parameters`) hold floats or arrays of shape
    (n_patients,). One set of rules for one patient and for a population: flows (rate or
    clearance / source volume), molar conversion between analytes, effect sites
    dCe/dt = ke0 (Cp - Ce). Errors name ``field`` and the number of patients affected.
    """

    def ev(text: str, where: str) -> NDArray[np.float64]:
        expr = compile_expression(text)
        missing = expr.names - set(values)
        if missing:
            raise InputError(
                field, f"model {model.id} needs {', '.join(sorted(missing))} for {where}"
            )
        value = np.asarray(expr.evaluate(values), dtype=np.float64)
        arr = (
            np.full(n_patients, value)
            if value.ndim == 0
            else np.broadcast_to(value, (n_patients,)).copy()
        )
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ModelError(f"{model.id}: {where} is not finite for {int(bad.sum())} patient(s)")
        return arr

    comps = model.compartments
    index = {c.name: i for i, c in enumerate(comps)}
    volumes: dict[str, NDArray[np.float64]] = {}
    for c in comps:
        if c.volume is not None:
            v = ev(c.volume, f"volume of {c.name}")
            if (v <= 0).any():
                raise ModelError(
                    f"{model.id}: volume of {c.name} is <= 0 L for "
                    f"{int(np.sum(v <= 0))} patient(s); must be > 0"
                )
            volumes[c.name] = v
    mw = {a.name: a.molecular_weight_g_per_mol for a in model.analytes}
    n_comp = len(comps)
    n = n_comp + len(model.effect_sites)
    K = np.zeros((n_patients, n, n))
    for i, f in enumerate(model.flows):
        src = index[f.from_]
        if f.rate is not None:
            k = ev(f.rate, f"flows[{i}].rate")
        else:
            k = ev(f.clearance or "", f"flows[{i}].clearance") / volumes[f.from_]
        if (k < 0).any():
            raise ModelError(
                f"{model.id}: flows[{i}] has a negative rate for {int(np.sum(k < 0))} patient(s)"
            )
        K[:, src, src] -= k
        if f.to is not None:
            factor = 1.0
            a_from, a_to = comps[src].analyte, comps[index[f.to]].analyte
            conversion = f.conversion or ("molar" if a_from != a_to else "none")
            if conversion == "molar" and a_from and a_to and a_from != a_to:
                factor = mw[a_to] / mw[a_from]
            K[:, index[f.to], src] += k * factor
    rows: list[NDArray[np.float64]] = []
    outputs: list[tuple[str, str, str]] = []
    plasma_rows: dict[str, NDArray[np.float64]] = {}
    for a in model.analytes:
        plasma = next(c for c in comps if c.analyte == a.name and c.observed == "plasma")
        row = np.zeros((n_patients, n))
        row[:, index[plasma.name]] = 1.0 / volumes[plasma.name]
        plasma_rows[a.name] = row
        rows.append(row)
        outputs.append((f"{a.name}_plasma", a.name, "plasma"))
    state_names = [c.name for c in comps]
    for j, e in enumerate(model.effect_sites):
        s = n_comp + j
        ke0 = ev(e.ke0, f"ke0 of {e.analyte}")
        if (ke0 <= 0).any():
            raise ModelError(
                f"{model.id}: ke0 of {e.analyte} is <= 0 for "
                f"{int(np.sum(ke0 <= 0))} patient(s); must be > 0"
            )
        link_effect_site(K, s, plasma_rows[e.analyte], ke0)
        row = np.zeros((n_patients, n))
        row[:, s] = 1.0
        rows.append(row)
        outputs.append((f"{e.analyte}_effect", e.analyte, "effect"))
        state_names.append(f"effect_{e.analyte}")
    return RateMatrices(K, np.stack(rows, axis=1), tuple(state_names), tuple(outputs))


def resolve_routes(model: ModelSpec) -> dict[str, tuple[RouteInputResolved, ...]]:
    """The model's routes with their pathways' states and compiled expressions."""
    index = {c.name: i for i, c in enumerate(model.compartments)}
    return {
        r.name: tuple(
            RouteInputResolved(
                state=index[i.compartment],
                compartment=i.compartment,
                fraction=compile_expression(i.fraction),
                duration=compile_expression(i.duration) if i.duration else None,
                lag=compile_expression(i.lag) if i.lag else None,
                rate=compile_expression(i.rate) if i.rate else None,
                split=i.split,
            )
            for i in r.inputs
        )
        for r in model.routes
    }


def build_system(
    model: ModelSpec,
    patient: Patient,
    *,
    etas: Mapping[str, float] | None = None,
    kappas: Mapping[str, float] | None = None,
) -> LinearSystem:
    """Build the individual rate matrix of ``patient`` under ``model``.

    ``kappas``: the occasion's inter-occasion effects (see :func:`individual_parameters`).
    Covariate ranges are not checked here (see :func:`ketasim.pk.simulate.check_validity`).
    """
    values = individual_parameters(model, patient.covariates(), etas, kappas)
    assembled = assemble_rate_matrices(model, values, 1)
    outputs = tuple(
        Output(name, analyte, site, assembled.rows[0, i])
        for i, (name, analyte, site) in enumerate(assembled.outputs)
    )
    routes = resolve_routes(model)
    scalars = {
        k: float(v) for k, v in values.items() if isinstance(v, (int, float)) or np.ndim(v) == 0
    }
    return LinearSystem(model.id, assembled.K[0], assembled.state_names, outputs, routes, scalars)


def with_effect_site(
    system: LinearSystem, analyte: str, ke0_per_min: float, *, site: str = "effect"
) -> LinearSystem:
    """A copy of ``system`` whose ``<analyte>_<site>`` output has rate constant ``ke0_per_min``.

    An existing output of that name is re-linked; otherwise a state ``<site>_<analyte>`` (mg/L)
    and its output are appended. Errors name ``ke0_per_min`` and ``analyte``.
    """
    if not math.isfinite(ke0_per_min) or not ke0_per_min > 0:
        raise InputError("ke0_per_min", f"{ke0_per_min!r} /min must be a positive number")
    plasma = next((o for o in system.outputs if o.analyte == analyte and o.site == "plasma"), None)
    if plasma is None:
        names = sorted({o.analyte for o in system.outputs})
        raise InputError(
            "analyte",
            f"model {system.model_id} has no plasma output for "
            f"{analyte!r}; analytes: {', '.join(names)}",
        )
    name = f"{analyte}_{site}"
    existing = next((o for o in system.outputs if o.name == name), None)
    if existing is not None:
        K = system.K.copy()
        link_effect_site(K, int(np.argmax(existing.row)), plasma.row, ke0_per_min)
        return replace(system, K=K)
    K = append_effect_sites(system.K[None], plasma.row[None, None, :], np.array([[ke0_per_min]]))[0]
    n = system.n_states
    outputs = [replace(o, row=np.append(o.row, 0.0)) for o in system.outputs]
    row = np.zeros(n + 1)
    row[n] = 1.0
    outputs.append(Output(name, analyte, site, row))
    return replace(
        system, K=K, state_names=(*system.state_names, f"{site}_{analyte}"), outputs=tuple(outputs)
    )
