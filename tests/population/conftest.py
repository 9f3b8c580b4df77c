"""Shared helpers for the population tests: a one-compartment model with log-normal clearance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synthetic_models import ONE_COMPARTMENT_LOGNORMAL_CL

V_L = 20.0
CL_L_PER_MIN = 0.2
OMEGA_SQ = 0.09


@pytest.fixture
def onecomp_path(tmp_path: Path) -> Path:
    path = tmp_path / "onecomp.toml"
    path.write_text(ONE_COMPARTMENT_LOGNORMAL_CL)
    return path


def base_spec(model: str, **changes: Any) -> dict[str, Any]:
    """A small valid spec dict (fixed 70 kg population, 100 mg IV bolus)."""
    spec: dict[str, Any] = {
        "title": "test",
        "n": 200,
        "seed": 7,
        "chunk_size": 100,
        "population": {"kind": "fixed", "weight_kg": 70.0, "age_years": 40.0},
        "outputs": {"until": "2h", "every": "10min", "percentiles": [5, 50, 95]},
        "arms": [{"name": "bolus", "model": model, "regimen": "100 mg"}],
    }
    spec.update(changes)
    return spec
