"""Units: parsing, conversions and errors."""

from __future__ import annotations

import pytest

from ketasim.errors import UnitError
from ketasim.units import MOLECULAR_WEIGHT_G_PER_MOL, convert, parse_duration_min, parse_quantity


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("40min", 40.0),
        ("40 min", 40.0),
        ("4h", 240.0),
        ("1.5 hours", 90.0),
        ("30 s", 0.5),
        ("2d", 2880.0),
    ],
)
def test_durations(text: str, minutes: float) -> None:
    assert parse_duration_min(text) == pytest.approx(minutes)


@pytest.mark.parametrize("text", ["40", "abc", "4 parsecs", "-3 min", "5 mg"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UnitError, match="duration"):
        parse_duration_min(text)


def test_spellings_of_micrograms() -> None:
    for text in ("250 ug/kg", "250 µg/kg", "250 μg/kg", "250 mcg/kg"):
        q = parse_quantity(text)
        assert q.unit == "ug/kg"
        assert q.to_internal() == pytest.approx(0.25)  # mg/kg


def test_concentration_conversions() -> None:
    assert convert(1.0, "ug/mL", "ng/mL") == pytest.approx(1000.0)
    assert convert(250.0, "ng/mL", "mg/L") == pytest.approx(0.25)
    # 1 umol/L of ketamine = 237.73 ng/mL (MW 237.73 g/mol)
    mw = MOLECULAR_WEIGHT_G_PER_MOL["ketamine"]
    assert convert(1.0, "uM", "ng/mL", molecular_weight_g_per_mol=mw) == pytest.approx(237.73)
    assert convert(0.51, "nmol/mL", "ng/mL", molecular_weight_g_per_mol=mw) == pytest.approx(
        121.24, rel=1e-3
    )  # Olofsen 2022 C50 0.51 nmol/mL ~ 121 ng/mL
    assert convert(237.73, "ng/mL", "uM", molecular_weight_g_per_mol=mw) == pytest.approx(1.0)
    with pytest.raises(UnitError, match="molecular weight"):
        convert(1.0, "uM", "ng/mL")
    with pytest.raises(UnitError, match="cannot convert"):
        convert(1.0, "mg", "ng/mL")


def test_rates_and_flows() -> None:
    assert convert(90.0, "L/h", "L/min") == pytest.approx(1.5)
    assert convert(1.0, "mg/kg/h", "ug/kg/min") == pytest.approx(1000.0 / 60.0)
    assert convert(36.0, "mL/min/kg", "L/h/kg") == pytest.approx(2.16)


def test_expected_dimension_is_enforced() -> None:
    with pytest.raises(UnitError, match="--dose"):
        parse_quantity("5 L", field="--dose", expect=("amount", "amount_per_kg"))
