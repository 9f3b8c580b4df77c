"""ketasim: clinical pharmacology of ketamine and esketamine.

Cited population PK models as data, an exact PK engine, and (as the project grows) effects,
dosing support, virtual trials and a clinic application. Decision support and research software
for professionals; never advice to the public.

Quick start::

    import numpy as np
    from ketasim import Dose, Patient, Regimen, resolve_model, simulate

    model = resolve_model("domino")
    result = simulate(model, Patient(weight_kg=70, age_years=40),
                      Regimen.of(Dose(0.5, "mg/kg", duration_min=40)),
                      times_min=np.arange(0, 241, 5.0))
    result.to_dataframe()

The names below are imported on first use (PEP 562), so ``import ketasim`` (and the command
line's start-up) does not pay for the numerical stack until it is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ketasim.catalogue import available_models, load_model_file, resolve_model
    from ketasim.patient import Patient
    from ketasim.pk import Dose, Regimen, SimulationResult, simulate
    from ketasim.regimens import parse_regimen

__all__ = [
    "Dose",
    "Patient",
    "Regimen",
    "SimulationResult",
    "available_models",
    "load_model_file",
    "parse_regimen",
    "resolve_model",
    "simulate",
]

_HOME = {
    "Dose": "ketasim.pk",
    "Patient": "ketasim.patient",
    "Regimen": "ketasim.pk",
    "SimulationResult": "ketasim.pk",
    "available_models": "ketasim.catalogue",
    "load_model_file": "ketasim.catalogue",
    "parse_regimen": "ketasim.regimens",
    "resolve_model": "ketasim.catalogue",
    "simulate": "ketasim.pk",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'ketasim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
