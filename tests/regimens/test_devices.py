"""Esketamine devices per label (issue 10): 84 mg = three 28-mg devices 5 min apart."""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pk import Regimen, simulate
from ketasim.population.batch import batch_inputs, batch_system
from ketasim.regimens import parse_regimen
from ketasim.regimens.protocols import get_protocol, schedule_doses

ADULT = Patient(weight_kg=74.0, age_years=45.0)
TIMES = np.arange(0.0, 48 * 60.0 + 0.05, 0.5)


def test_parser_reads_devices_apart() -> None:
    r = parse_regimen("3 x 28 mg intranasal devices 5 min apart")
    assert [(d.amount, d.unit, d.time_min, d.route, d.session_mg) for d in r] == [
        (28.0, "mg", 0.0, "intranasal", 84.0),
        (28.0, "mg", 5.0, "intranasal", 84.0),
        (28.0, "mg", 10.0, "intranasal", 84.0),
    ]
    twice = parse_regimen("2 x 28 mg intranasal devices 5 min apart every 84h x 2")
    assert [d.time_min for d in twice] == [0.0, 5.0, 84 * 60.0, 84 * 60.0 + 5.0]
    assert all(d.session_mg == 56.0 for d in twice)
    with pytest.raises(InputError):
        parse_regimen("3 x 28 mg intranasal devices 5 min apart", over="10min")


def test_devices_keep_the_session_bioavailability_and_spread_the_input() -> None:
    # Perez-Ruixo 2021: nasal F of 84 mg (3 devices) 0.51; the device-count effect must use the
    # session, so the total exposure equals that of 84 mg given at once (linear system)
    model = resolve_model("perez-ruixo")
    devices = simulate(
        model, ADULT, parse_regimen("3 x 28 mg intranasal devices 5 min apart"), times_min=TIMES
    ).concentrations_ng_per_ml["esketamine_plasma"]
    at_once = simulate(
        model, ADULT, parse_regimen("84 mg intranasal"), times_min=TIMES
    ).concentrations_ng_per_ml["esketamine_plasma"]
    assert np.trapezoid(devices, TIMES) == pytest.approx(np.trapezoid(at_once, TIMES), rel=2e-3)
    assert devices.max() < at_once.max()  # the same amount, spread over 10 min
    # three single 28-mg devices without the session would each get the first-device fraction
    singles = simulate(
        model,
        ADULT,
        parse_regimen("28 mg intranasal; 28 mg intranasal at 5min; 28 mg intranasal at 10min"),
        times_min=TIMES,
    ).concentrations_ng_per_ml["esketamine_plasma"]
    assert np.trapezoid(singles, TIMES) > 1.1 * np.trapezoid(devices, TIMES)


def test_batched_resolver_sees_the_session_total() -> None:
    model = resolve_model("perez-ruixo")
    regimen = parse_regimen("3 x 28 mg intranasal devices 5 min apart")
    cov = {
        "WT": np.array([74.0]),
        "AGE": np.array([45.0]),
        "HT": np.array([170.0]),
        "FEMALE": np.array([0.0]),
    }
    system = batch_system(model, cov, {})
    events = batch_inputs(model, system, regimen, cov["WT"]).events
    nasal = sorted(e.amount_mg[0] for e in events if e.start_min[0] == e.end_min[0])
    frn = 0.54 * (1 + 2 * 0.62) / 3  # Table 3 FRn with the dose effect, averaged over 3 devices
    np.testing.assert_allclose(nasal, [28 * frn] * 3, rtol=1e-9)


def test_esketamine_protocols_schedule_devices_5_min_apart() -> None:
    for protocol_id in ("esketamine-trd-us", "esketamine-trd-eu", "esketamine-mdsi-us"):
        protocol = get_protocol(protocol_id)
        session = schedule_doses(protocol, weight_kg=74.0, age_years=45.0, dose=84.0)[0]
        doses = session.to_doses()
        assert [d.time_min for d in doses] == [0.0, 5.0, 10.0]
        assert all(d.amount == 28.0 and d.session_mg == 84.0 for d in doses)
        Regimen(doses)  # a valid regimen
