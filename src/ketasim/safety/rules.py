"""Safety rules as versioned data (``safety/data/rules.toml``), validated when loaded.

A rules file holds a ``version`` and ``date``, the vocabulary of ``[[conditions]]`` a patient
file may name (with ``implies`` for specific forms of a broader condition), the
``[[medication_classes]]`` used to recognise co-medications, and the ``[[rules]]``. Every rule has
an ``id``, a ``severity`` (``stop``, ``warn``, ``info``), a ``kind`` saying what it matches, a
``message`` (a template filled with the values that triggered it), a ``source`` and a ``status``
(``src``: seen in the source; ``verify``: read only in a secondary copy or recalled).

Kinds and the fields they use:

- ``condition``: ``conditions`` (any of them present, after ``implies``);
- ``measurement``: ``measurements`` ``{field = {above = x}}`` (any exceeded); a rule with
  ``configurable = "bp_threshold"`` takes its thresholds from the caller when given;
- ``missing``: ``fields`` of the patient record that are absent;
- ``age``: ``age_below_years`` or ``age_at_least_years``;
- ``medication``: ``medication_classes`` (or ``unrecognised = true`` for names in no class);
- ``protocol``: ``check`` (a named check against the protocol file's limits, see
  :mod:`ketasim.safety.checker`);
- ``monitoring``: ``at_min`` (from the start of each session) and/or ``when``, optional
  ``observation_min``; each becomes an ``info`` finding and a monitoring-timeline entry.

Filters ``drugs``, ``routes``, ``indications``, ``protocols`` restrict where a rule applies.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ketasim.datafiles import load_validated_toml
from ketasim.errors import InputError

__all__ = [
    "MEASUREMENT_FIELDS",
    "ConditionDef",
    "MedicationClass",
    "Rule",
    "RuleSet",
    "Threshold",
    "default_rules",
    "load_rules",
]

MEASUREMENT_FIELDS = ("sbp_mmhg", "dbp_mmhg", "heart_rate_bpm")
PROTOCOL_CHECKS = (
    "age-range",
    "dose-above-max",
    "dose-above-hard-max",
    "dose-below-min",
    "dose-not-allowed",
    "dose-not-increment",
    "first-dose",
    "sessions-per-week",
    "min-interval",
    "weekly-amount",
    "course-total",
    "session-total-below",
    "repeated-sessions",
)
_ID = r"^[a-z0-9][a-z0-9.\-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConditionDef(_Strict):
    """A condition id a patient file may list."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    label: str = Field(min_length=3)
    implies: list[str] = Field(default_factory=list)


class MedicationClass(_Strict):
    """A class of co-medications, recognised by generic names."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    label: str = Field(min_length=3)
    members: list[str] = Field(min_length=1)


class Threshold(_Strict):
    """A limit on a measurement: the rule fires above ``above`` (or below ``below``)."""

    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one(self) -> Threshold:
        if self.above is None and self.below is None:
            raise ValueError("give above or below")
        return self

    def exceeded(self, value: float) -> bool:
        """Whether ``value`` lies beyond the threshold (strictly)."""
        return (self.above is not None and value > self.above) or (
            self.below is not None and value < self.below
        )


class Rule(_Strict):
    """One safety rule (see the module docstring for the kinds)."""

    id: str = Field(pattern=_ID)
    severity: Literal["stop", "warn", "info"]
    kind: Literal[
        "condition", "measurement", "missing", "age", "medication", "protocol", "monitoring"
    ]
    message: str = Field(min_length=5)
    source: str = Field(min_length=5)
    status: Literal["src", "verify"]
    drugs: list[str] | None = None
    routes: list[str] | None = None
    indications: list[str] | None = None
    protocols: list[str] | None = None
    conditions: list[str] = Field(default_factory=list)
    measurements: dict[Literal["sbp_mmhg", "dbp_mmhg", "heart_rate_bpm"], Threshold] = Field(
        default_factory=dict
    )
    configurable: Literal["bp_threshold"] | None = None
    fields: list[str] = Field(default_factory=list)
    age_below_years: float | None = None
    age_at_least_years: float | None = None
    medication_classes: list[str] = Field(default_factory=list)
    unrecognised: bool = False
    check: str | None = None
    value_mg: float | None = Field(default=None, gt=0)
    at_min: float | None = None
    when: str | None = None
    observation_min: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _kind_fields(self) -> Rule:
        k = self.kind
        if k == "condition" and not self.conditions:
            raise ValueError("a condition rule needs conditions")
        if k == "measurement" and not self.measurements:
            raise ValueError("a measurement rule needs measurements")
        if k == "missing" and not self.fields:
            raise ValueError("a missing rule needs fields")
        if k == "age" and (self.age_below_years is None) == (self.age_at_least_years is None):
            raise ValueError("an age rule needs exactly one of age_below_years, age_at_least_years")
        if k == "medication" and not (self.medication_classes or self.unrecognised):
            raise ValueError("a medication rule needs medication_classes or unrecognised")
        if k == "protocol" and self.check not in PROTOCOL_CHECKS:
            raise ValueError(f"check {self.check!r} is not one of {', '.join(PROTOCOL_CHECKS)}")
        if k == "protocol" and self.check == "session-total-below" and self.value_mg is None:
            raise ValueError("check session-total-below needs value_mg")
        if k == "monitoring" and self.at_min is None and self.when is None:
            raise ValueError("a monitoring rule needs at_min or when")
        if k == "monitoring" and self.severity != "info":
            raise ValueError("monitoring rules have severity info")
        return self

    @property
    def cited_source(self) -> str:
        """The source, marked when its status is ``verify``."""
        return self.source + (" [verify]" if self.status == "verify" else "")

    def applies_to(self, *, protocol_id: str, drug: str, route: str, indication: str) -> bool:
        """Whether the rule's filters admit this protocol."""
        return (
            (self.protocols is None or protocol_id in self.protocols)
            and (self.drugs is None or drug in self.drugs)
            and (self.routes is None or route in self.routes)
            and (self.indications is None or indication in self.indications)
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form: id, severity, kind, the condition or measurement matched, message,
        source, status and filters."""
        matched: dict[str, object] = {}
        if self.conditions:
            matched["conditions"] = self.conditions
        if self.measurements:
            matched["measurements"] = {
                k: v.model_dump(exclude_none=True) for k, v in self.measurements.items()
            }
        if self.fields:
            matched["missing_fields"] = self.fields
        if self.age_below_years is not None:
            matched["age_below_years"] = self.age_below_years
        if self.age_at_least_years is not None:
            matched["age_at_least_years"] = self.age_at_least_years
        if self.medication_classes:
            matched["medication_classes"] = self.medication_classes
        if self.unrecognised:
            matched["medications"] = "unrecognised"
        if self.check is not None:
            matched["protocol_check"] = self.check
        if self.kind == "monitoring":
            matched["monitoring"] = {
                "at_min": self.at_min,
                "when": self.when,
                "observation_min": self.observation_min,
            }
        filters = {
            k: v
            for k, v in (
                ("drugs", self.drugs),
                ("routes", self.routes),
                ("indications", self.indications),
                ("protocols", self.protocols),
            )
            if v is not None
        }
        return {
            "id": self.id,
            "severity": self.severity,
            "kind": self.kind,
            "condition": matched,
            "applies_to": filters or "all protocols",
            "configurable": self.configurable,
            "message": self.message,
            "source": self.source,
            "status": self.status,
        }


class RuleSet(_Strict):
    """A whole rules file, validated (ids unique, every referenced id defined)."""

    schema_version: Literal[1] = 1
    version: str = Field(min_length=1)
    date: str
    title: str
    conditions: list[ConditionDef] = Field(min_length=1)
    medication_classes: list[MedicationClass] = Field(default_factory=list)
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> RuleSet:
        cond_ids = [c.id for c in self.conditions]
        if len(set(cond_ids)) != len(cond_ids):
            raise ValueError("conditions: duplicate ids")
        for c in self.conditions:
            unknown = set(c.implies) - set(cond_ids)
            if unknown:
                raise ValueError(f"conditions.{c.id}.implies: unknown {sorted(unknown)}")
        class_ids = {m.id for m in self.medication_classes}
        rule_ids = [r.id for r in self.rules]
        if len(set(rule_ids)) != len(rule_ids):
            dupes = sorted({i for i in rule_ids if rule_ids.count(i) > 1})
            raise ValueError(f"rules: duplicate ids {dupes}")
        for r in self.rules:
            unknown = set(r.conditions) - set(cond_ids)
            if unknown:
                raise ValueError(f"rules.{r.id}.conditions: unknown {sorted(unknown)}")
            unknown = set(r.medication_classes) - class_ids
            if unknown:
                raise ValueError(f"rules.{r.id}.medication_classes: unknown {sorted(unknown)}")
        return self

    @property
    def condition_ids(self) -> tuple[str, ...]:
        """Every condition id a patient file may use."""
        return tuple(c.id for c in self.conditions)

    def expand_conditions(self, ids: frozenset[str]) -> frozenset[str]:
        """``ids`` plus everything they imply (transitively)."""
        implies = {c.id: c.implies for c in self.conditions}
        out = set(ids)
        todo = list(ids)
        while todo:
            for j in implies.get(todo.pop(), []):
                if j not in out:
                    out.add(j)
                    todo.append(j)
        return frozenset(out)


def _parse(text: str, origin: str) -> RuleSet:
    return load_validated_toml(text, RuleSet, origin=origin)


@cache
def default_rules() -> RuleSet:
    """The rules shipped with ketasim (``safety/data/rules.toml``)."""
    entry = resources.files("ketasim.safety") / "data" / "rules.toml"
    return _parse(entry.read_text(encoding="utf-8"), "safety/data/rules.toml")


def load_rules(path: str | Path | None = None) -> RuleSet:
    """A rules file (same schema as the shipped one), or the shipped rules when ``path`` is None."""
    if path is None:
        return default_rules()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("rules", f"cannot read {p}: {exc.strerror}") from None
    return _parse(text, str(p))
