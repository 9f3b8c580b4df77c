"""From a model file and a patient to a linear system dx/dt = K x + u (internal units).

States are compartment amounts (mg of the compartment's analyte) followed by effect-site
concentrations (mg/L). Effect sites obey dCe/dt = ke0 (Cp - Ce): linear in the state, so the
whole system stays linear and is solved exactly by :mod:`ketasim.pk.solve`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError, ModelError
from ketasim.expressions import Expression, compile_expression
from ketasim.patient import Patient

__all__ = [
    "LinearSystem",
    "Output",
    "RouteInputResolved",
    "build_system",
    "individual_parameters",
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

    ``duration_min`` > 0: modelled zero-order input; ``lag_min``: absorption lag. Values are
    expressions evaluated per dose because they may depend on ``DOSE_MG``.
    """

    state: int
    compartment: str
    fraction: Expression
    duration: Expression | None
    lag: Expression | None


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
            raise InputError("compartment", f"no compartment {name!r}; states: "
                             f"{', '.join(self.state_names)}") from None


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
) -> dict[str, Any]:
    """Evaluate parameters, covariate equations and IIV for one set of covariates.

    Covariates and etas may be floats (one patient) or equal-length numpy arrays (a population
    evaluated at once).

    Parameter values are converted to internal units (mg, L, min). ``etas`` maps a parameter
    or derived name with an ``[iiv]`` entry to its random effect (0 = typical value).
    Returns parameters, derived values and the covariates in one namespace.
    """
    from ketasim.units import to_internal

    etas = dict(etas or {})
    unknown = set(etas) - set(model.iiv)
    if unknown:
        raise InputError("etas", f"{sorted(unknown)} have no iiv entry in model {model.id}")
    values: dict[str, Any] = dict(model.covariate_defaults)
    values.update(covariates)
    for name, p in model.parameters.items():
        v, _ = to_internal(p.value, p.unit)
        if name in etas:
            v = _apply_eta(v, etas[name], model.iiv[name].scale)
        values[name] = v
    for name, text in model.derived.items():
        expr = compile_expression(text)
        missing = expr.names - set(values)
        if missing:
            raise InputError(
                "patient", f"model {model.id} needs covariate(s) {', '.join(sorted(missing))} "
                f"(for {name}); give them with the patient"
            )
        v = expr.evaluate(values)
        if name in etas:
            v = _apply_eta(v, etas[name], model.iiv[name].scale)
        values[name] = v
    return values


def build_system(
    model: ModelSpec,
    patient: Patient,
    *,
    etas: Mapping[str, float] | None = None,
) -> LinearSystem:
    """Build the individual rate matrix of ``patient`` under ``model``.

    Covariate ranges are not checked here (see :func:`ketasim.pk.simulate.check_validity`).
    """
    values = individual_parameters(model, patient.covariates(), etas)

    def ev(text: str, where: str) -> float:
        expr = compile_expression(text)
        missing = expr.names - set(values)
        if missing:
            raise InputError("patient", f"model {model.id} needs {', '.join(sorted(missing))} "
                             f"for {where}")
        result = float(expr.evaluate(values))
        if not np.isfinite(result):
            raise ModelError(f"{model.id}: {where} evaluates to {result}")
        return result

    comps = model.compartments
    index = {c.name: i for i, c in enumerate(comps)}
    volumes: dict[str, float] = {}
    for c in comps:
        if c.volume is not None:
            v = ev(c.volume, f"volume of {c.name}")
            if v <= 0:
                raise ModelError(f"{model.id}: volume of {c.name} is {v} L; must be > 0")
            volumes[c.name] = v
    mw = {a.name: a.molecular_weight_g_per_mol for a in model.analytes}
    n_comp = len(comps)
    n = n_comp + len(model.effect_sites)
    K = np.zeros((n, n))
    for i, f in enumerate(model.flows):
        src = index[f.from_]
        if f.rate is not None:
            k = ev(f.rate, f"flows[{i}].rate")
        else:
            k = ev(f.clearance or "", f"flows[{i}].clearance") / volumes[f.from_]
        if k < 0:
            raise ModelError(f"{model.id}: flows[{i}] has a negative rate {k} /min")
        K[src, src] -= k
        if f.to is not None:
            factor = 1.0
            a_from, a_to = comps[src].analyte, comps[index[f.to]].analyte
            conversion = f.conversion or ("molar" if a_from != a_to else "none")
            if conversion == "molar" and a_from and a_to and a_from != a_to:
                factor = mw[a_to] / mw[a_from]
            K[index[f.to], src] += k * factor
    outputs: list[Output] = []
    names = [c.name for c in comps]
    for a in model.analytes:
        plasma = next(c for c in comps if c.analyte == a.name and c.observed == "plasma")
        row = np.zeros(n)
        row[index[plasma.name]] = 1.0 / volumes[plasma.name]
        outputs.append(Output(f"{a.name}_plasma", a.name, "plasma", row))
    for j, e in enumerate(model.effect_sites):
        s = n_comp + j
        plasma_row = next(o.row for o in outputs if o.analyte == e.analyte)
        ke0 = ev(e.ke0, f"ke0 of {e.analyte}")
        if ke0 <= 0:
            raise ModelError(f"{model.id}: ke0 of {e.analyte} is {ke0}; must be > 0")
        K[s, :] += ke0 * plasma_row
        K[s, s] -= ke0
        row = np.zeros(n)
        row[s] = 1.0
        outputs.append(Output(f"{e.analyte}_effect", e.analyte, "effect", row))
        names.append(f"effect_{e.analyte}")
    routes: dict[str, tuple[RouteInputResolved, ...]] = {
        r.name: tuple(
            RouteInputResolved(
                state=index[i.compartment],
                compartment=i.compartment,
                fraction=compile_expression(i.fraction),
                duration=compile_expression(i.duration) if i.duration else None,
                lag=compile_expression(i.lag) if i.lag else None,
            )
            for i in r.inputs
        )
        for r in model.routes
    }
    scalars = {k: float(v) for k, v in values.items() if np.ndim(v) == 0}
    return LinearSystem(model.id, K, tuple(names), tuple(outputs), routes, scalars)
