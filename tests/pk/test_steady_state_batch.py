"""The batched steady state of trials (``steady_state_batch``) against the single-patient one
(``steady_state_inputs``, itself equal to 40 repeated doses in tests/io/test_steady_state.py),
patient by patient, for lags past II and infusions longer than II; and its refusals."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pk import build_system
from ketasim.pk.events import Bolus, Infusion, InputEvent, SystemInputs
from ketasim.pk.steady_state import steady_state_batch, steady_state_inputs
from ketasim.population.propagators import propagators

T0 = 30.0
II = 720.0


def _systems() -> np.ndarray:
    model = resolve_model("domino")
    return np.stack([build_system(model, Patient(w, 40.0)).K for w in (55.0, 70.0, 95.0)])


def test_batch_equals_single_patient_steady_state() -> None:
    K = _systems()
    P = K.shape[0]
    lag = np.array([0.0, 800.0, 1500.0])  # per patient: none, past II, past 2 II
    inf_end = np.array([120.0, 900.0, 2000.0])  # per patient: 2 h, longer than II, than 2 II
    events = [
        InputEvent(0, T0 + lag, T0 + lag, np.array([20.0, 30.0, 40.0])),
        InputEvent(0, np.full(P, T0), T0 + inf_end, np.array([35.0, 35.0, 50.0])),
    ]
    x_ss, tails = steady_state_batch(K, events, time_min=T0, ii_min=II, propagators=propagators)
    for p in range(P):
        rate = float(events[1].amount_mg[p] / inf_end[p])
        dose = SystemInputs(
            (Bolus(T0 + lag[p], 0, float(events[0].amount_mg[p])),),
            (Infusion(T0, T0 + inf_end[p], 0, rate),),
        )
        ref = steady_state_inputs(K[p], dose, time_min=T0, ii_min=II, mode=1)
        want = np.zeros(K.shape[1])
        for b in ref.boluses:
            if b.time_min == T0:
                want[b.state] += b.amount_mg
        np.testing.assert_allclose(x_ss[p], want, rtol=1e-12, atol=1e-12 * want.max())
        # inputs of earlier doses after T0: same amounts at the same times
        late = sorted((b.time_min, b.amount_mg) for b in ref.boluses if b.time_min > T0)
        got_late = sorted(
            (float(e.start_min[p]), float(e.amount_mg[p]))
            for e in tails
            if e.end_min[p] == e.start_min[p] and e.amount_mg[p] > 0
        )
        np.testing.assert_allclose(
            np.array(got_late).reshape(-1, 2), np.array(late).reshape(-1, 2), rtol=1e-12
        )
        runs = sorted((i.start_min, i.end_min, i.rate_mg_per_min) for i in ref.infusions)
        got_runs = sorted(
            (
                float(e.start_min[p]),
                float(e.end_min[p]),
                float(e.amount_mg[p]) / float(e.end_min[p] - e.start_min[p]),
            )
            for e in tails
            if e.end_min[p] > e.start_min[p]
        )
        np.testing.assert_allclose(
            np.array(got_runs).reshape(-1, 3), np.array(runs).reshape(-1, 3), rtol=1e-12
        )


def test_no_elimination_has_no_steady_state() -> None:
    K = np.zeros((2, 1, 1))
    events = [InputEvent(0, np.full(2, 0.0), np.full(2, 0.0), np.full(2, 10.0))]
    with pytest.raises(InputError) as info:
        steady_state_batch(
            K,
            events,
            time_min=0.0,
            ii_min=60.0,
            propagators=propagators,
            field="arms[0].interval_h",
        )
    assert info.value.field == "arms[0].interval_h"
