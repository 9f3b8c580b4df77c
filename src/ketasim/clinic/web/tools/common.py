"""What the tool pages share: their one router, the bounded query parameters, the patient typed
into a form (:class:`PatientQuery`), the catalogue's model ids and figures as inline PNG."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ketasim.catalogue import available_models
from ketasim.patient import Patient

__all__ = [
    "MAX_MIN",
    "Age",
    "Changes",
    "Height",
    "PatientQ",
    "PatientQuery",
    "Short",
    "Text",
    "Weight",
    "model_ids",
    "patient_query",
    "png",
    "router",
]

router = APIRouter(include_in_schema=False)
MAX_MIN = 7 * 1440.0
Weight = Annotated[float, Query(ge=1.0, le=400.0, description="kg")]
Age = Annotated[float | None, Query(ge=0.0, le=120.0, description="years")]
Height = Annotated[float | None, Query(ge=30.0, le=250.0, description="cm")]
Short = Annotated[str, Query(max_length=200)]
Text = Annotated[str, Query(max_length=1000)]
Changes = Annotated[int, Query(ge=1, le=30, description="rate changes of a manual scheme")]


def png(draw: Callable[[Path], object]) -> str:
    """The figure ``draw`` writes to a PNG file, base64-encoded for an ``<img src="data:...">``."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "figure.png"
        draw(path)
        return base64.b64encode(path.read_bytes()).decode("ascii")


def model_ids() -> list[str]:
    """The catalogue's model ids (the choices of the tool pages)."""
    return [m if isinstance(m, str) else m.id for m in available_models()]


@dataclass(frozen=True)
class PatientQuery:
    """The patient of a tool page's query (as ``--weight --age --height --sex`` of the CLI)."""

    weight_kg: float
    age_years: float | None
    height_cm: float | None
    sex: str

    def to_patient(self) -> Patient:
        """The :class:`~ketasim.patient.Patient` (a sex other than female/male: not given)."""
        return Patient(
            weight_kg=self.weight_kg,
            age_years=self.age_years,
            height_cm=self.height_cm,
            sex=self.sex if self.sex in ("female", "male") else None,  # type: ignore[arg-type]
        )


def patient_query(
    weight_kg: Weight = 70.0,
    age_years: Age = 40.0,
    height_cm: Height = None,
    sex: Short = "",
) -> PatientQuery:
    """The patient's query parameters, bounded (a dependency)."""
    return PatientQuery(weight_kg, age_years, height_cm, sex)


PatientQ = Annotated[PatientQuery, Depends(patient_query)]
