"""Derive a first-order absorption rate constant from a published time to peak (Tmax).

Used for the malinovsky-1996-herd-2007-composite model file: Malinovsky et al. 1996 publish
bioavailability and mean Tmax for nasal and rectal racemic ketamine in children, but no
absorption rate constant. Given a disposition model (Herd 2007) and a body weight, the ka whose
predicted Tmax equals the published one is found by root finding. The result is a DERIVED value
and is labelled so in the model file.

Run: .venv/bin/python scripts/derive_ka_from_tmax.py
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm
from scipy.optimize import brentq

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import build_system

WEIGHT_KG = 20.0  # middle of Malinovsky's 10-30 kg children (aged 2-9 y)
TARGETS_MIN = {"intranasal (3 mg/kg)": 20.0, "rectal (9 mg/kg)": 42.0}  # Malinovsky 1996


def tmax_min(ka_per_min: float, K: np.ndarray) -> float:
    """Time (min) of peak central amount after a unit dose into a depot draining at ka."""
    n = K.shape[0] + 1
    A = np.zeros((n, n))
    A[1:, 1:] = K
    A[0, 0] = -ka_per_min
    A[1, 0] = ka_per_min
    t = np.linspace(0.05, 180.0, 3600)
    step = expm(A * (t[1] - t[0]))
    x = expm(A * t[0])[:, 0]
    central = np.empty(t.size)
    for i in range(t.size):
        central[i] = x[1]
        x = step @ x
    return float(t[int(np.argmax(central))])


def main() -> None:
    system = build_system(resolve_model("herd-2007"), Patient(weight_kg=WEIGHT_KG, age_years=5))
    K = system.K[:2, :2]  # central and peripheral amounts (the effect state is not needed)
    for label, target in TARGETS_MIN.items():
        ka = brentq(lambda k, target=target: tmax_min(k, K) - target, 0.005, 2.0, xtol=1e-6)
        print(f"{label}: Tmax {target:g} min -> ka {ka:.4f} /min")


if __name__ == "__main__":
    main()
