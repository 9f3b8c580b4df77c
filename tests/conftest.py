"""Shared fixtures."""

from __future__ import annotations

import pytest

from ketasim.patient import Patient


@pytest.fixture
def adult() -> Patient:
    """A 70 kg, 40-year-old adult."""
    return Patient(weight_kg=70.0, age_years=40.0, height_cm=175.0, sex="male")
