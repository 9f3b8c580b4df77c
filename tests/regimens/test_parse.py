"""Regimens written as text."""

from __future__ import annotations

import pytest

from ketasim.errors import InputError
from ketasim.regimens import parse_regimen, parse_repeat


def test_infusion() -> None:
    (d,) = parse_regimen("0.5 mg/kg over 40 min").doses
    assert (d.amount, d.unit, d.route, d.duration_min, d.time_min) == (
        0.5,
        "mg/kg",
        "iv",
        40.0,
        0.0,
    )
    assert d.amount_mg(70.0) == pytest.approx(35.0)


def test_bolus_and_routes() -> None:
    (d,) = parse_regimen("2 mg/kg IV bolus").doses
    assert d.duration_min == 0 and d.route == "iv"
    (d,) = parse_regimen("84 mg intranasal").doses
    assert d.route == "intranasal" and d.amount_mg(50.0) == 84.0
    (d,) = parse_regimen("20 mg", route="oral").doses
    assert d.route == "oral"


def test_rate_units_make_amounts() -> None:
    (d,) = parse_regimen("1 mg/kg/h over 2h").doses
    assert d.is_rate and d.amount_mg(70.0) == pytest.approx(140.0)


def test_repeats() -> None:
    r = parse_regimen("56 mg intranasal every 84h x 4")
    assert [d.time_min for d in r] == [0.0, 5040.0, 10080.0, 15120.0]
    r = parse_regimen("0.5 mg/kg", over="40min", repeat="every 12h x 3")
    assert [d.time_min for d in r] == [0.0, 720.0, 1440.0]
    assert all(d.duration_min == 40.0 for d in r)
    assert parse_repeat("every 3.5 d x 8") == (5040.0, 8)


def test_several_doses() -> None:
    r = parse_regimen("1 mg/kg; 0.5 mg/kg at 15 min")
    assert [(d.amount, d.time_min) for d in r] == [(1.0, 0.0), (0.5, 15.0)]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("-1 mg", "dose"),
        ("0 mg/kg", "dose"),
        ("", "dose"),
        ("5 furlongs", "dose"),
        ("5 mg over 0 min", "duration_min"),
        ("5 L", "dose"),
        ("1 mg/kg/h", "duration"),
    ],
)
def test_bad_regimens(text: str, field: str) -> None:
    with pytest.raises(InputError) as info:
        parse_regimen(text)
    assert str(info.value).startswith(field)


@pytest.mark.parametrize("text", ["every 12h", "12h x 4", "every 0h x 3", "every 2h x 0"])
def test_bad_repeats(text: str) -> None:
    with pytest.raises(InputError, match="repeat"):
        parse_repeat(text)
