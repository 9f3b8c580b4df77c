"""The effect site a TCI targets, and where its ke0 comes from.

Three origins, reported with every plan:

- ``model``: the model file's own effect site (its source and whether the file marks it as
  assumed, e.g. Domino's ke0 derived by opentiva from an assumed 1-min time to peak);
- ``user ke0``: a ke0 (1/min) given by the user;
- ``user tpeak``: a time to peak effect given by the user; ke0 is solved numerically so that,
  after an IV bolus into the model, the effect-site concentration peaks at exactly ``tpeak``
  (the "tpeak method" of Minto et al., Anesthesiology 2003;99:324-333, which opentiva 1.1.2
  implements as ``PkPdModel.ke0_tpeak_method``). At the peak dCe/dt = ke0 (Cp - Ce) = 0, so
  the root of ``Cp(tpeak) - Ce(tpeak; ke0)`` is found with Brent's method, with Ce from the
  exact solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.pk.solve import ExactSolver
from ketasim.pk.system import LinearSystem, with_effect_site

__all__ = ["EffectSiteInfo", "ke0_from_tpeak", "resolve_effect_site", "with_effect_site"]

_KE0_BRACKET_PER_MIN = (1e-4, 1e3)


@dataclass(frozen=True, slots=True)
class EffectSiteInfo:
    """The effect site used: its ke0 (1/min), where it came from and a sentence saying so."""

    analyte: str
    ke0_per_min: float
    origin: str  # "model" | "user ke0" | "user tpeak"
    assumed: bool
    description: str
    tpeak_min: float | None = None


def _iv_state(system: LinearSystem) -> int:
    if "iv" not in system.routes:
        raise InputError(
            "model",
            f"model {system.model_id} has no IV route; TCI needs one "
            f"(routes: {', '.join(system.routes)})",
        )
    inputs = system.routes["iv"]
    if len(inputs) != 1 or inputs[0].lag is not None or inputs[0].duration is not None:
        raise InputError(
            "model",
            f"the IV route of {system.model_id} is not a single direct input; TCI needs one",
        )
    return inputs[0].state


def ke0_from_tpeak(system: LinearSystem, analyte: str, tpeak_min: float) -> float:
    """ke0 (1/min) that puts the effect-site peak at ``tpeak_min`` after an IV bolus.

    Raises :class:`~ketasim.errors.InputError` if no ke0 in 1e-4 to 1e3 /min does.
    """
    if not np.isfinite(tpeak_min) or tpeak_min <= 0:
        raise InputError("tpeak_min", f"{tpeak_min:g} min must be > 0")
    state = _iv_state(system)

    def gap(ke0: float) -> float:
        sys_ = with_effect_site(system, analyte, ke0)
        phi, _ = ExactSolver(sys_.K).propagator(tpeak_min)
        x0 = np.zeros(sys_.n_states)
        x0[state] = 1.0
        x = phi @ x0
        cp = float(next(o.row for o in sys_.outputs if o.name == f"{analyte}_plasma") @ x)
        ce = float(next(o.row for o in sys_.outputs if o.name == f"{analyte}_effect") @ x)
        return (cp - ce) / max(cp, 1e-300)

    lo, hi = _KE0_BRACKET_PER_MIN
    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo * g_hi > 0:
        raise InputError(
            "tpeak_min",
            f"no ke0 between {lo:g} and {hi:g} /min puts the "
            f"effect-site peak at {tpeak_min:g} min for {system.model_id}",
        )
    return float(brentq(gap, lo, hi, xtol=1e-12, rtol=1e-12))


def resolve_effect_site(
    model: ModelSpec,
    system: LinearSystem,
    analyte: str,
    *,
    ke0_per_min: float | None = None,
    tpeak_min: float | None = None,
) -> tuple[LinearSystem, EffectSiteInfo]:
    """The system with the effect site to target, and a description of its origin.

    Precedence: the user's ``ke0_per_min``, then ``tpeak_min``, then the model file's site.
    """
    if ke0_per_min is not None and tpeak_min is not None:
        raise InputError("ke0_per_min", "give either ke0_per_min or tpeak_min, not both")
    if ke0_per_min is not None:
        info = EffectSiteInfo(
            analyte,
            ke0_per_min,
            "user ke0",
            True,
            f"ke0 {ke0_per_min:.4g} /min given by the user (--ke0)",
        )
        return with_effect_site(system, analyte, ke0_per_min), info
    if tpeak_min is not None:
        ke0 = ke0_from_tpeak(system, analyte, tpeak_min)
        info = EffectSiteInfo(
            analyte,
            ke0,
            "user tpeak",
            True,
            f"ke0 {ke0:.4g} /min solved from the user's time to peak effect {tpeak_min:g} min "
            "(--tpeak; effect-site peak after an IV bolus, tpeak method as in opentiva)",
            tpeak_min,
        )
        return with_effect_site(system, analyte, ke0), info
    site = next((e for e in model.effect_sites if e.analyte == analyte), None)
    if site is None:
        raise InputError(
            "site",
            f"model {model.id} has no effect site for {analyte} (its "
            "paper gives no ke0); give --ke0 (e.g. '0.652 /min') or --tpeak "
            "(e.g. 1min), or target the plasma (--site plasma)",
        )
    out = next(o for o in system.outputs if o.name == f"{analyte}_effect")
    s = int(np.argmax(out.row))
    ke0 = float(-system.K[s, s])
    kind = "assumed, not a PK/PD estimate" if site.assumed else "PK/PD estimate"
    info = EffectSiteInfo(
        analyte,
        ke0,
        "model",
        site.assumed,
        f"ke0 {ke0:.4g} /min from the model file {model.id} ({kind}): {site.source}",
    )
    return system, info
