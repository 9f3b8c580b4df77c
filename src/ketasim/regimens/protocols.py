"""The protocol library: published dosing protocols as data files, each with its sources.

A protocol file (TOML, one per protocol, in ``regimens/data/protocols/``) holds:

- identity: ``id``, ``title``, ``drug``, ``route``, ``indication``, ``population``;
  the ``age_years`` range the protocol is written for (an unstated bound is absent);
- ``model``: the catalogue model used to predict concentrations (absent when no catalogue
  model supports the protocol's drug and route, e.g. IM racemic ketamine in adults);
  ``pd_models``: ``ketasim.pd`` models whose effects a plan shows for the first session;
- ``[dose]``: ``unit`` (``mg``, ``mg/kg`` or ``mg/kg/h``), ``default``, the protocol's ``min`` and
  ``max`` per session, an absolute ``hard_max`` where a source gives one, discrete ``allowed``
  doses and an ``increment`` (28-mg devices), the ``first_dose`` of a course, the administration
  ``duration_min`` (0 = bolus/instant) and the ``source``;
- ``[[age_bands]]``: dose overrides by age (e.g. EU SmPC: first dose 28 mg at >= 65 y);
- ``[[phases]]``: the course schedule by week (``start_week``, ``end_week``, ``session_days``
  within each week, or ``every_weeks``), each with its source; no phases = a single session;
- ``[frequency]``: ``max_sessions_per_week`` and ``min_interval_h`` (absent when unstated);
- ``observation_min``: minimum observation after each session, when a source states one;
- ``[[sources]]`` and ``notes``.

Functions: :func:`available_protocols`, :func:`get_protocol`, :func:`load_protocol_file`,
:func:`schedule_doses` (the dose schedule of a course for one patient).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ketasim.catalogue.schema import Range
from ketasim.datafiles import load_validated_toml
from ketasim.errors import InputError, ModelError
from ketasim.pk.events import Dose

__all__ = [
    "AgeBand",
    "DoseRule",
    "Frequency",
    "Phase",
    "PlannedDose",
    "Protocol",
    "ProtocolSource",
    "available_protocols",
    "get_protocol",
    "load_protocol_file",
    "schedule_doses",
]

MIN_PER_DAY = 1440.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProtocolSource(_Strict):
    """A citation: label section, guideline or paper."""

    text: str = Field(min_length=10)
    doi: str | None = None
    pmid: str | None = None
    url: str | None = None
    verified: str = Field(min_length=5, description="What was read to check the numbers.")


class DoseRule(_Strict):
    """Dose per session and its limits, in ``unit``.

    ``max`` is the protocol's upper limit (exceeding it is flagged); ``hard_max`` an absolute
    limit from a source (exceeding it is a stop). ``allowed`` lists the only doses a product
    permits; ``increment`` the device size every dose must be a multiple of.
    """

    unit: Literal["mg", "mg/kg", "mg/kg/h"]
    default: float = Field(gt=0)
    min: float | None = Field(default=None, gt=0)
    max: float | None = Field(default=None, gt=0)
    hard_max: float | None = Field(default=None, gt=0)
    allowed: list[float] | None = None
    increment: float | None = Field(default=None, gt=0)
    device_interval_min: float | None = Field(
        default=None,
        ge=0,
        description="a session of several ``increment`` devices is given "
        "one device at a time, this many minutes apart (e.g. SPRAVATO: 5 min)",
    )
    device_interval_source: str | None = None
    first_dose: float | None = Field(default=None, gt=0)
    duration_min: float = Field(default=0.0, ge=0)
    source: str = Field(min_length=3)
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DoseRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        if self.max is not None and self.hard_max is not None and self.hard_max < self.max:
            raise ValueError(f"hard_max {self.hard_max} < max {self.max}")
        if self.unit == "mg/kg/h" and self.duration_min <= 0:
            raise ValueError("a rate (mg/kg/h) needs duration_min > 0")
        return self


class AgeBand(_Strict):
    """Dose overrides for patients whose age lies in ``age_years``."""

    age_years: Range
    first_dose: float | None = Field(default=None, gt=0)
    allowed: list[float] | None = None
    min: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=3)


class Phase(_Strict):
    """Part of a course: sessions on ``session_days`` (0-based days of each week) of weeks
    ``start_week``..``end_week`` (1-based, inclusive), or every ``every_weeks`` weeks."""

    name: str = Field(min_length=2)
    start_week: int = Field(ge=1)
    end_week: int = Field(ge=1)
    session_days: list[int] = Field(min_length=1)
    every_weeks: int = Field(default=1, ge=1)
    open_ended: bool = False
    source: str = Field(min_length=3)
    note: str | None = None

    @model_validator(mode="after")
    def _weeks(self) -> Phase:
        if self.end_week < self.start_week:
            raise ValueError(f"end_week {self.end_week} < start_week {self.start_week}")
        if any(d < 0 or d > 6 for d in self.session_days):
            raise ValueError("session_days must lie in 0..6")
        return self


class Frequency(_Strict):
    """Frequency limits; an unstated limit is absent."""

    max_sessions_per_week: int | None = Field(default=None, ge=1)
    min_interval_h: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=3)


class Protocol(_Strict):
    """One dosing protocol, validated."""

    schema_version: Literal[1] = 1
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=5)
    drug: Literal["racemic ketamine", "esketamine"]
    route: Literal["iv", "im", "intranasal"]
    indication: Literal[
        "anaesthesia",
        "procedural-sedation",
        "analgesia",
        "chronic-pain",
        "treatment-resistant-depression",
        "depression",
        "mdd-suicidal-ideation",
    ]
    population: str
    jurisdiction: str | None = None
    age_years: Range = Range()
    model: str | None = None
    model_note: str | None = None
    pd_models: list[str] = Field(default_factory=list)
    dose: DoseRule
    age_bands: list[AgeBand] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    frequency: Frequency | None = None
    observation_min: float | None = Field(default=None, gt=0)
    observation_source: str | None = None
    evidence: str | None = None
    sources: list[ProtocolSource] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checks(self) -> Protocol:
        if self.model is None and not self.model_note:
            raise ValueError("model: absent; give model_note saying why")
        if self.observation_min is not None and not self.observation_source:
            raise ValueError("observation_min needs observation_source")
        return self

    @property
    def source_text(self) -> str:
        """All sources, joined for display."""
        return "; ".join(s.text for s in self.sources)

    def dose_rule_for_age(self, age_years: float | None) -> DoseRule:
        """The dose rule with the overrides of the first age band containing ``age_years``."""
        if age_years is None:
            return self.dose
        for band in self.age_bands:
            if band.age_years.contains(age_years):
                updates: dict[str, object] = {"source": f"{self.dose.source}; {band.source}"}
                for key in ("first_dose", "allowed", "min"):
                    value = getattr(band, key)
                    if value is not None:
                        updates[key] = value
                return self.dose.model_copy(update=updates)
        return self.dose

    def summary(self) -> dict[str, object]:
        """A JSON-ready summary: id, drug, route, indication, dose rules, schedule, source."""
        return {
            "id": self.id,
            "title": self.title,
            "drug": self.drug,
            "route": self.route,
            "indication": self.indication,
            "population": self.population,
            "jurisdiction": self.jurisdiction,
            "age_years": {"min": self.age_years.min, "max": self.age_years.max},
            "model": self.model,
            "pd_models": self.pd_models,
            "dose_rules": self.dose.model_dump(),
            "age_bands": [b.model_dump() for b in self.age_bands],
            "schedule": [p.model_dump() for p in self.phases],
            "frequency": self.frequency.model_dump() if self.frequency else None,
            "observation_min": self.observation_min,
            "evidence": self.evidence,
            "source": self.source_text,
            "sources": [s.model_dump() for s in self.sources],
        }


def _load_text(text: str, *, origin: str) -> Protocol:
    return load_validated_toml(text, Protocol, origin=origin)


def load_protocol_file(path: str | Path) -> Protocol:
    """Load and validate a user's protocol file (same schema as the library's)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("protocol", f"cannot read {p}: {exc.strerror}") from None
    return _load_text(text, origin=str(p))


@cache
def _library() -> tuple[Protocol, ...]:
    folder = resources.files("ketasim.regimens") / "data" / "protocols"
    protocols = [
        _load_text(
            entry.read_text(encoding="utf-8"), origin=f"regimens/data/protocols/{entry.name}"
        )
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    ]
    ids = [p.id for p in protocols]
    if len(set(ids)) != len(ids):
        raise ModelError("protocol library: duplicate protocol ids")
    return tuple(protocols)


def available_protocols() -> tuple[Protocol, ...]:
    """Every protocol of the library, sorted by file name."""
    return _library()


def get_protocol(name: str) -> Protocol:
    """The library protocol with this id, or a protocol file (path ending in ``.toml``)."""
    if name.endswith(".toml") or "/" in name:
        return load_protocol_file(name)
    for p in _library():
        if p.id == name:
            return p
    known = ", ".join(p.id for p in _library())
    raise InputError("protocol", f"unknown protocol {name!r}; known: {known}")


@dataclass(frozen=True, slots=True)
class PlannedDose:
    """One session of a planned course.

    ``amount`` is in ``unit`` (as the protocol states it); ``amount_mg`` is the total amount for
    this patient (mg); ``time_min`` counts from the first session; ``day`` = time_min / 1440.
    """

    session: int
    phase: str
    day: float
    time_min: float
    amount: float
    unit: str
    route: str
    duration_min: float
    amount_mg: float
    device_mg: float | None = None
    device_interval_min: float = 0.0

    def to_dose(self) -> Dose:
        """This session as one :class:`~ketasim.pk.events.Dose` (all devices at once)."""
        return Dose(self.amount, self.unit, self.time_min, self.route, self.duration_min)

    def to_doses(self) -> tuple[Dose, ...]:
        """This session as the PK engine should see it: one dose per device, ``device_interval``
        apart, each knowing the session total; a session without devices is one dose."""
        if not self.device_mg or self.unit != "mg":
            return (self.to_dose(),)
        count = round(self.amount / self.device_mg)
        if count < 1 or abs(count * self.device_mg - self.amount) > 1e-9:
            return (self.to_dose(),)  # not whole devices: the checker flags it
        return tuple(
            Dose(
                self.device_mg,
                "mg",
                self.time_min + k * self.device_interval_min,
                self.route,
                0.0,
                self.amount,
            )
            for k in range(count)
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "session": self.session,
            "phase": self.phase,
            "day": self.day,
            "time_min": self.time_min,
            "amount": self.amount,
            "unit": self.unit,
            "route": self.route,
            "duration_min": self.duration_min,
            "amount_mg": self.amount_mg,
        }


def _session_days(protocol: Protocol, weeks: int | None) -> list[tuple[str, int]]:
    if not protocol.phases:
        return [("single session", 0)]
    days: list[tuple[str, int]] = []
    for phase in protocol.phases:
        if weeks is None:
            last = phase.end_week
        elif phase.open_ended:
            last = weeks
        else:
            last = min(phase.end_week, weeks)
        for week in range(phase.start_week, last + 1, phase.every_weeks):
            for d in sorted(phase.session_days):
                days.append((phase.name, (week - 1) * 7 + d))
    return sorted(days, key=lambda t: t[1])


def schedule_doses(
    protocol: Protocol,
    *,
    weight_kg: float,
    age_years: float | None = None,
    dose: float | None = None,
    duration_min: float | None = None,
    weeks: int | None = None,
) -> tuple[PlannedDose, ...]:
    """The sessions of ``protocol`` for one patient.

    Parameters
    ----------
    weight_kg:
        Body weight (kg), to turn mg/kg doses into mg.
    age_years:
        Age (years), for age-dependent first doses (``[[age_bands]]``).
    dose:
        Dose per session in the protocol's unit (default: the protocol's default; the first
        session uses ``first_dose`` when the protocol states one and ``dose`` is not given).
        Doses outside the protocol's limits are scheduled as asked; the safety checker flags them.
    duration_min:
        Infusion duration (min) instead of the protocol's.
    weeks:
        Plan the first ``weeks`` weeks of the course (default: every phase to its ``end_week``);
        an ``open_ended`` phase (e.g. esketamine maintenance from week 9) runs to ``weeks``.
    """
    if weeks is not None and weeks < 1:
        raise InputError("weeks", f"{weeks} must be >= 1")
    rule = protocol.dose_rule_for_age(age_years)
    duration = rule.duration_min if duration_min is None else float(duration_min)
    if duration < 0:
        raise InputError("duration_min", f"{duration:g} min must be >= 0")
    if rule.unit == "mg/kg/h" and duration <= 0:
        raise InputError("duration_min", "an infusion (mg/kg/h) needs a duration > 0 min")
    if dose is not None and not dose > 0:
        raise InputError("dose", f"{dose:g} {rule.unit} must be > 0")
    doses: list[PlannedDose] = []
    for i, (phase, day) in enumerate(_session_days(protocol, weeks)):
        if dose is not None:
            amount = float(dose)
        elif i == 0 and rule.first_dose is not None:
            amount = rule.first_dose
        else:
            amount = rule.default
        time = day * MIN_PER_DAY
        d = Dose(amount, rule.unit, time, protocol.route, duration)
        devices = rule.increment if rule.device_interval_min is not None else None
        doses.append(
            PlannedDose(
                i + 1,
                phase,
                float(day),
                time,
                amount,
                rule.unit,
                protocol.route,
                duration,
                d.amount_mg(weight_kg),
                devices,
                rule.device_interval_min or 0.0,
            )
        )
    return tuple(doses)
