"""A patient as the safety checker sees one: covariates, vital signs, conditions, medicines.

:func:`parse_patient_record` turns a mapping (read by the caller from JSON or TOML) into a
validated :class:`PatientRecord`. Unknown fields, unknown condition ids and implausible vital
signs are errors naming the field and the accepted values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.safety.rules import RuleSet

__all__ = ["PATIENT_FIELDS", "PatientRecord", "PriorSession", "parse_patient_record"]

# Plausibility limits of measured vital signs (catch unit or typing mistakes; not clinical
# thresholds, which live in the rules file).
_VITALS: dict[str, tuple[float, float, str]] = {
    "sbp_mmhg": (50.0, 300.0, "mmHg"),
    "dbp_mmhg": (20.0, 200.0, "mmHg"),
    "heart_rate_bpm": (20.0, 250.0, "beats/min"),
}

PATIENT_FIELDS = (
    "id",
    "age_years",
    "weight_kg",
    "height_cm",
    "sex",
    "sbp_mmhg",
    "dbp_mmhg",
    "heart_rate_bpm",
    "conditions",
    "medications",
    "pregnant",
    "previous_sessions",
    "covariates",
)


@dataclass(frozen=True, slots=True)
class PriorSession:
    """A session already given: ``days_ago`` days before the first planned session, ``amount_mg``
    of the same drug."""

    days_ago: float
    amount_mg: float


@dataclass(frozen=True)
class PatientRecord:
    """Everything the checker and the planner need to know about one patient.

    Vital signs are the latest pre-dose values (mmHg, beats/min); ``conditions`` are condition ids
    of the rules file as given (:meth:`RuleSet.expand_conditions` adds what they imply).
    """

    patient: Patient
    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    heart_rate_bpm: float | None = None
    conditions: frozenset[str] = frozenset()
    medications: tuple[str, ...] = ()
    pregnant: bool | None = None
    previous_sessions: tuple[PriorSession, ...] = ()
    label: str | None = None

    @property
    def age_years(self) -> float | None:
        """Age (years)."""
        return self.patient.age_years

    @property
    def weight_kg(self) -> float:
        """Body weight (kg)."""
        return self.patient.weight_kg

    def measurement(self, name: str) -> float | None:
        """A vital sign by field name (``sbp_mmhg``, ``dbp_mmhg``, ``heart_rate_bpm``)."""
        value = getattr(self, name)
        return None if value is None else float(value)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the fields a patient file holds)."""
        p = self.patient
        return {
            "id": self.label,
            "age_years": p.age_years,
            "weight_kg": p.weight_kg,
            "height_cm": p.height_cm,
            "sex": p.sex,
            "sbp_mmhg": self.sbp_mmhg,
            "dbp_mmhg": self.dbp_mmhg,
            "heart_rate_bpm": self.heart_rate_bpm,
            "conditions": sorted(self.conditions),
            "medications": list(self.medications),
            "pregnant": self.pregnant,
            "previous_sessions": [
                {"days_ago": s.days_ago, "amount_mg": s.amount_mg} for s in self.previous_sessions
            ],
            "covariates": dict(p.extra),
        }


def _number(data: Mapping[str, object], name: str, *, required: bool = False) -> float | None:
    if name not in data or data[name] is None:
        if required:
            raise InputError(name, "required")
        return None
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(name, f"{value!r} is not a number")
    v = float(value)
    if not math.isfinite(v):
        raise InputError(name, f"{value!r} is not a finite number")
    return v


def _string_list(data: Mapping[str, object], name: str) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(name, "must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _vital(data: Mapping[str, object], name: str) -> float | None:
    v = _number(data, name)
    if v is None:
        return None
    lo, hi, unit = _VITALS[name]
    if not lo <= v <= hi:
        raise InputError(name, f"{v:g} {unit} is out of range; accepted {lo:g} to {hi:g} {unit}")
    return v


def _prior_sessions(data: Mapping[str, object]) -> tuple[PriorSession, ...]:
    value = data.get("previous_sessions")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError("previous_sessions", "must be a list of {days_ago, amount_mg}")
    out = []
    for i, item in enumerate(value):
        where = f"previous_sessions[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"days_ago", "amount_mg"}:
            raise InputError(where, "must hold exactly days_ago and amount_mg")
        days = _number(item, "days_ago", required=True)
        amount = _number(item, "amount_mg", required=True)
        assert days is not None and amount is not None
        if days <= 0:
            raise InputError(f"{where}.days_ago", f"{days:g} must be > 0 (days before the plan)")
        if amount <= 0:
            raise InputError(f"{where}.amount_mg", f"{amount:g} mg must be > 0")
        out.append(PriorSession(days, amount))
    return tuple(sorted(out, key=lambda s: -s.days_ago))


def parse_patient_record(data: Mapping[str, object], rules: RuleSet) -> PatientRecord:
    """Validate a patient mapping (from a JSON or TOML patient file).

    Required: ``age_years``, ``weight_kg``. Optional: ``height_cm``, ``sex``, ``sbp_mmhg``,
    ``dbp_mmhg``, ``heart_rate_bpm``, ``conditions`` (condition ids of ``rules``),
    ``medications`` (generic names), ``pregnant`` (bool), ``previous_sessions``
    (``[{days_ago, amount_mg}]``), ``covariates`` (model-specific numbers, e.g. ``ASIAN``), ``id``.

    Raises
    ------
    InputError
        Naming the field: unknown field, unknown condition id, value missing, not a number or out
        of the accepted range.
    """
    unknown = sorted(set(data) - set(PATIENT_FIELDS))
    if unknown:
        raise InputError(unknown[0], f"unknown field; accepted: {', '.join(PATIENT_FIELDS)}")
    age = _number(data, "age_years", required=True)
    weight = _number(data, "weight_kg", required=True)
    assert age is not None and weight is not None
    height = _number(data, "height_cm")
    sex_raw = data.get("sex")
    sex: Literal["female", "male"] | None = None
    if sex_raw is not None:
        key = str(sex_raw).strip().lower()
        if key in ("f", "female"):
            sex = "female"
        elif key in ("m", "male"):
            sex = "male"
        else:
            raise InputError("sex", f"{sex_raw!r} is not one of female, male")
    covariates_raw = data.get("covariates") or {}
    if not isinstance(covariates_raw, Mapping):
        raise InputError("covariates", "must be a table of numbers, e.g. {ASIAN = 0}")
    covariates: dict[str, float] = {}
    for k, v in covariates_raw.items():
        num = _number(covariates_raw, k)
        if num is None:
            raise InputError(f"covariates.{k}", f"{v!r} is not a number")
        covariates[str(k)] = num
    patient = Patient(weight_kg=weight, age_years=age, height_cm=height, sex=sex, extra=covariates)
    sbp = _vital(data, "sbp_mmhg")
    dbp = _vital(data, "dbp_mmhg")
    if sbp is not None and dbp is not None and dbp >= sbp:
        raise InputError("dbp_mmhg", f"{dbp:g} mmHg must be below sbp_mmhg ({sbp:g} mmHg)")
    hr = _vital(data, "heart_rate_bpm")
    conditions = _string_list(data, "conditions")
    known = rules.condition_ids
    for c in conditions:
        if c not in known:
            raise InputError(
                "conditions", f"unknown condition id {c!r}; accepted: {', '.join(known)}"
            )
    pregnant = data.get("pregnant")
    if pregnant is not None and not isinstance(pregnant, bool):
        raise InputError("pregnant", f"{pregnant!r} is not true or false")
    if pregnant and sex == "male":
        raise InputError("pregnant", "true but sex is male")
    cond_set = set(conditions)
    if pregnant:
        cond_set.add("pregnancy")
    label = data.get("id")
    return PatientRecord(
        patient=patient,
        sbp_mmhg=sbp,
        dbp_mmhg=dbp,
        heart_rate_bpm=hr,
        conditions=frozenset(cond_set),
        medications=tuple(_string_list(data, "medications")),
        pregnant=pregnant,
        previous_sessions=_prior_sessions(data),
        label=None if label is None else str(label),
    )
