"""An independent reference: the model's ODEs written flow by flow and solved with scipy.

Nothing here uses the rate matrix of ketasim.pk.system: derivatives are summed directly from the
model file's flows and effect sites, so a mistake in the matrix assembly or in the exact
propagation shows up as a difference.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from scipy.integrate import solve_ivp

from ketasim.catalogue.schema import ModelSpec
from ketasim.expressions import Expression
from ketasim.patient import Patient
from ketasim.pk.system import individual_parameters


def ode_concentrations(
    model: ModelSpec,
    patient: Patient,
    boluses: Sequence[tuple[float, str, float]],
    infusions: Sequence[tuple[float, float, str, float]],
    times_min: np.ndarray,
    *,
    method: str = "Radau",
    rtol: float = 1e-12,
) -> dict[str, np.ndarray]:
    """Concentrations (ng/mL) by scipy's Radau solver (or ``method``, at ``rtol``).

    ``boluses``: (time_min, compartment, mg); ``infusions``: (start, end, compartment, mg/min).
    """
    values = individual_parameters(model, patient.covariates())
    first = min([b[0] for b in boluses] + [i[0] for i in infusions], default=0.0)
    comps = [c.name for c in model.compartments]
    idx = {n: i for i, n in enumerate(comps)}
    vol = {
        c.name: float(Expression(c.volume).evaluate(values)) for c in model.compartments if c.volume
    }
    mw = {a.name: a.molecular_weight_g_per_mol for a in model.analytes}
    analyte = {c.name: c.analyte for c in model.compartments}

    def flows_with(values: dict[str, float]) -> list[tuple[int, int | None, float, float]]:
        flows = []
        for f in model.flows:
            if f.rate is not None:
                k = float(Expression(f.rate).evaluate(values))
            else:
                k = float(Expression(f.clearance or "").evaluate(values)) / vol[f.from_]
            factor = 1.0
            if f.to is not None and analyte[f.from_] != analyte[f.to] and f.conversion != "none":
                factor = mw[analyte[f.to] or ""] / mw[analyte[f.from_] or ""]
            flows.append((idx[f.from_], None if f.to is None else idx[f.to], k, factor))
        return flows

    flows = flows_with(values)

    def flows_at(t: float) -> list[tuple[int, int | None, float, float]]:
        """A model with TAFD_MIN (time after the first dose) gets its flows at time t."""
        if not model.time_varying:
            return flows
        cov = dict(patient.covariates())
        cov["TAFD_MIN"] = max(t - first, 0.0)
        return flows_with(individual_parameters(model, cov))

    plasma = {
        a.name: next(
            c.name for c in model.compartments if c.analyte == a.name and c.observed == "plasma"
        )
        for a in model.analytes
    }
    effects = [(e.analyte, float(Expression(e.ke0).evaluate(values))) for e in model.effect_sites]
    n = len(comps) + len(effects)

    def rhs(t: float, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        dx = np.zeros(n)
        for src, dst, k, factor in flows_at(t):
            dx[src] -= k * x[src]
            if dst is not None:
                dx[dst] += k * factor * x[src]
        for j, (a, ke0) in enumerate(effects):
            cp = x[idx[plasma[a]]] / vol[plasma[a]]
            dx[len(comps) + j] = ke0 * (cp - x[len(comps) + j])
        return dx + u

    events = sorted(
        {
            0.0,
            float(times_min[-1]),
            *(b[0] for b in boluses),
            *(i[0] for i in infusions),
            *(i[1] for i in infusions),
        }
    )
    x = np.zeros(n)
    states = np.zeros((len(times_min), n))
    for a, b in itertools.pairwise(events):
        for t, comp, amt in boluses:
            if t == a:
                x[idx[comp]] += amt
        u = np.zeros(n)
        for s, e, comp, rate in infusions:
            if s <= a < e:
                u[idx[comp]] += rate
        mask = (times_min >= a) & ((times_min < b) | (b == events[-1]))
        scale = max(1e-12, float(np.max(np.abs(x))) + float(np.max(u)) * (b - a))
        atol = 1e-3 * rtol * scale
        sol = solve_ivp(
            rhs,
            (a, b),
            x,
            method=method,
            t_eval=times_min[mask],
            args=(u,),
            rtol=rtol,
            atol=atol,
            dense_output=False,
        )
        assert sol.success, sol.message
        states[mask] = sol.y.T
        end = solve_ivp(rhs, (a, b), x, method=method, args=(u,), rtol=rtol, atol=atol)
        x = end.y[:, -1].copy()
    out: dict[str, np.ndarray] = {}
    for a in model.analytes:
        out[f"{a.name}_plasma"] = states[:, idx[plasma[a.name]]] / vol[plasma[a.name]] * 1000.0
    for j, (a, _) in enumerate(effects):
        out[f"{a}_effect"] = states[:, len(comps) + j] * 1000.0
    return out
