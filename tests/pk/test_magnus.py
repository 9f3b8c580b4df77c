"""The Magnus step for short intervals of a system affine in time (``pk/magnus.py``), against
scipy ODE solutions written independently, and the ODE solver's fallback when its check fails."""

from __future__ import annotations

import numpy as np
import pytest
from flint_reference import flint_reference_rates
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import build_system, magnus
from ketasim.pk import time_varying as tv
from ketasim.pk.events import Infusion, SystemInputs

K0 = np.array([[-0.9, 0.2, 0.0], [0.6, -0.25, 0.0], [0.3, 0.0, -1.2]])
K1 = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.01, -0.02]])  # per min, per min


def _ode(x0: np.ndarray, u: np.ndarray, sa: float, sb: float) -> np.ndarray:
    """dx/ds = (K0 + s K1) x + u by scipy (DOP853, relative 1e-13)."""
    sol = solve_ivp(
        lambda s, x: (K0 + s * K1) @ x + u, (sa, sb), x0, method="DOP853", rtol=1e-13, atol=1e-16
    )
    return np.asarray(sol.y[:, -1])


@pytest.mark.parametrize(("sa", "h"), [(0.0, 1.0), (30.0, 0.25), (600.0, 1.0 / 6.0)])
def test_magnus_matches_ode_with_a_strongly_time_varying_matrix(sa: float, h: float) -> None:
    x0 = np.array([2.0, 0.5, 0.1])
    u = np.array([0.7, 0.0, 0.0])
    got = magnus.magnus_advance(K0, K1, u, x0, sa, sa + h, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got, _ode(x0, u, sa, sa + h), rtol=1e-9, atol=1e-13)


def test_large_input_is_exact_for_a_constant_matrix() -> None:
    """With K1 = 0 the step is the exact solution of the augmented system, also for an input
    far larger than the states (the input column is scaled inside)."""
    x0 = np.array([1.0, 0.0, 0.0])
    u = np.array([500.0, 0.0, 0.0])
    h = 0.5
    got = magnus.magnus_advance(K0, 0.0 * K1, u, x0, 10.0, 10.0 + h, rtol=1e-12, atol=1e-14)
    aug = np.zeros((4, 4))
    aug[:3, :3] = K0
    aug[:3, 3] = u
    want = (expm(h * aug) @ np.append(x0, 1.0))[:3]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_check_refuses_when_the_halvings_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(magnus, "MAX_DEPTH", 0)
    with pytest.raises(magnus.MagnusCheckError):
        magnus.magnus_advance(
            K0, 50.0 * K1, np.zeros(3), np.ones(3), 100.0, 101.0, rtol=1e-14, atol=0.0
        )


def _pump_rates() -> np.ndarray:
    """A pump's rates every 10 s for 40 min (mg/min): a loading phase, then steps down."""
    rng = np.random.default_rng(7)
    return np.concatenate([np.full(6, 3.0), 0.2 + 0.1 * rng.random(234)])


def _solve(rates: np.ndarray) -> np.ndarray:
    h = 1.0 / 6.0
    inputs = SystemInputs(
        infusions=tuple(Infusion(k * h, (k + 1) * h, 0, float(r)) for k, r in enumerate(rates))
    )
    times = np.arange(rates.size + 1) * h
    model = resolve_model("flint-2017")
    conc = 1000.0 * tv.solve_time_varying(model, Patient(7.0, 0.5), inputs, times)
    names = [o.name for o in build_system(model, Patient(7.0, 0.5)).outputs]
    return np.column_stack(
        [conc[:, names.index("ketamine_plasma")], conc[:, names.index("norketamine_plasma")]]
    )


def test_pump_schedule_on_the_magnus_path_matches_flint_by_hand() -> None:
    rates = _pump_rates()
    ref = flint_reference_rates(Patient(7.0, 0.5), rates, 1.0 / 6.0)
    np.testing.assert_allclose(_solve(rates), ref, rtol=1e-7, atol=1e-9)


def test_failed_check_falls_back_to_the_ode_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> np.ndarray:
        raise magnus.MagnusCheckError("refused for the test")

    monkeypatch.setattr(tv, "magnus_advance", refuse)
    rates = _pump_rates()[:60]
    ref = flint_reference_rates(Patient(7.0, 0.5), rates, 1.0 / 6.0)
    np.testing.assert_allclose(_solve(rates), ref, rtol=1e-7, atol=1e-9)
