"""The safety checker: a protocol, a patient and planned doses in; cited findings out.

:func:`check` applies every rule of a :class:`~ketasim.safety.rules.RuleSet` whose filters admit
the protocol and returns :class:`~ketasim.findings.Finding` objects sorted stop, warn, info.
:func:`monitoring_timeline` returns the monitoring schedule of one session.

Protocol checks (rules of kind ``protocol``; the limits come from the protocol file):

=====================  ===========================================================================
``age-range``          age outside the protocol's ``age_years``
``dose-above-max``     a session's dose above ``dose.max`` (age band applied)
``dose-above-hard-max``  above ``dose.hard_max`` (replaces ``dose-above-max`` for that session)
``dose-below-min``     below ``dose.min``
``dose-not-increment`` not a multiple of ``dose.increment`` (e.g. 28-mg devices)
``dose-not-allowed``   not one of ``dose.allowed`` (when it is a multiple of the increment)
``first-dose``         first session above ``dose.first_dose``
``sessions-per-week``  more sessions in any 7 days than ``frequency.max_sessions_per_week``,
                       counting the patient's previous sessions
``min-interval``       two sessions closer than ``frequency.min_interval_h``
``weekly-amount``      mg in any 7 days above max dose x max sessions per week
``course-total``       summary of the planned exposure (always, info)
``session-total-below``  a session's total below the rule's ``value_mg``
``repeated-sessions``  more than one session
=====================  ===========================================================================
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ketasim.errors import ModelError
from ketasim.findings import Finding
from ketasim.regimens.protocols import PlannedDose, Protocol
from ketasim.safety.record import PatientRecord
from ketasim.safety.rules import RuleSet, Threshold, default_rules

__all__ = ["MonitoringItem", "check", "monitoring_timeline", "parse_bp_threshold"]

_ORDER = {"stop": 0, "warn": 1, "info": 2}
_WEEK_MIN = 7 * 1440.0


@dataclass(frozen=True, slots=True)
class MonitoringItem:
    """One entry of a session's monitoring timeline.

    ``time_min`` counts from the start of the session (``None`` when the moment is named, not
    timed, e.g. "before discharge").
    """

    time_min: float | None
    when: str
    action: str
    rule_id: str
    source: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "time_min": self.time_min,
            "when": self.when,
            "action": self.action,
            "rule_id": self.rule_id,
            "source": self.source,
        }


def parse_bp_threshold(text: str) -> tuple[float, float]:
    """Read ``'140/90'`` (systolic/diastolic, mmHg) as ``(140.0, 90.0)``."""
    from ketasim.errors import InputError

    parts = text.replace("mmHg", "").strip().split("/")
    try:
        sbp, dbp = (float(p) for p in parts)
    except ValueError:
        raise InputError("bp_threshold_mmhg", f"cannot read {text!r}; write e.g. 140/90") from None
    if not (50 <= sbp <= 300 and 20 <= dbp <= 200 and dbp < sbp):
        raise InputError(
            "bp_threshold_mmhg",
            f"{text!r}: accepted systolic 50-300 and diastolic "
            "20-200 mmHg, diastolic below systolic",
        )
    return sbp, dbp


def _fmt(rule_id: str, template: str, values: Mapping[str, object]) -> str:
    try:
        return template.format_map(values)
    except (KeyError, ValueError) as exc:
        raise ModelError(f"rules: rule {rule_id}: message cannot be filled ({exc})") from None


def _ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``'1-3, 5'``."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


def _days(t_min: float) -> str:
    return f"{t_min / 1440.0:g}"


def _max_session_mg(
    protocol: Protocol, rule_max: float, weight_kg: float, doses: Sequence[PlannedDose]
) -> float:
    unit = protocol.dose.unit
    if unit == "mg":
        return rule_max
    if unit == "mg/kg":
        return rule_max * weight_kg
    duration = max((d.duration_min for d in doses), default=protocol.dose.duration_min)
    return rule_max * weight_kg * duration / 60.0


def _protocol_findings(
    protocol: Protocol,
    record: PatientRecord,
    doses: Sequence[PlannedDose],
    rules: RuleSet,
    applicable: Iterable[str],
) -> list[Finding]:
    by_check = {r.check: r for r in rules.rules if r.kind == "protocol" and r.id in set(applicable)}
    findings: list[Finding] = []
    dose_rule = protocol.dose_rule_for_age(record.age_years)
    unit = dose_rule.unit
    base = {"protocol": protocol.id, "unit": unit}

    def add(check: str, source: str, **values: object) -> None:
        rule = by_check.get(check)
        if rule is None:
            return
        src = source if rule.source == "protocol file" else rule.cited_source
        findings.append(
            Finding(rule.id, rule.severity, _fmt(rule.id, rule.message, {**base, **values}), src)
        )

    age = record.age_years
    if age is not None and not protocol.age_years.contains(age):
        add(
            "age-range",
            protocol.age_years.source or protocol.source_text,
            age_years=age,
            range=protocol.age_years.describe(),
        )

    # per-session dose checks, grouped by (check, dose) so a course gives one finding each
    groups: dict[tuple[str, float, float], list[int]] = {}

    def flag(check: str, amount: float, limit: float, session: int) -> None:
        groups.setdefault((check, amount, limit), []).append(session)

    for d in doses:
        a = d.amount
        if dose_rule.hard_max is not None and a > dose_rule.hard_max:
            flag("dose-above-hard-max", a, dose_rule.hard_max, d.session)
        elif dose_rule.max is not None and a > dose_rule.max:
            flag("dose-above-max", a, dose_rule.max, d.session)
        if dose_rule.min is not None and a < dose_rule.min:
            flag("dose-below-min", a, dose_rule.min, d.session)
        if (
            dose_rule.increment is not None
            and abs(a / dose_rule.increment - round(a / dose_rule.increment)) > 1e-9
        ):
            flag("dose-not-increment", a, dose_rule.increment, d.session)
        elif dose_rule.allowed is not None and not any(
            abs(a - x) < 1e-9 for x in dose_rule.allowed
        ):
            flag("dose-not-allowed", a, 0.0, d.session)
        if d.session == 1 and dose_rule.first_dose is not None and a > dose_rule.first_dose:
            flag("first-dose", a, dose_rule.first_dose, d.session)
    allowed = ", ".join(f"{x:g}" for x in dose_rule.allowed or [])
    for (check, amount, limit), sessions in groups.items():
        add(
            check,
            dose_rule.source,
            dose=amount,
            limit=limit,
            allowed=allowed,
            session=_ranges(sessions),
        )

    # frequency and cumulative exposure, counting previous sessions (negative times)
    events = sorted(
        [(-s.days_ago * 1440.0, s.amount_mg) for s in record.previous_sessions]
        + [(d.time_min, d.amount_mg) for d in doses]
    )
    times = [t for t, _ in events]
    freq = protocol.frequency
    worst_count, worst_window = 0, (0.0, 0.0)
    worst_mg, worst_mg_window = 0.0, (0.0, 0.0)
    for i, (t0, _) in enumerate(events):
        inside = [(t, mg) for t, mg in events[i:] if t < t0 + _WEEK_MIN - 1e-6]
        if len(inside) > worst_count:
            worst_count, worst_window = len(inside), (t0, inside[-1][0])
        total = sum(mg for _, mg in inside)
        if total > worst_mg:
            worst_mg, worst_mg_window = total, (t0, inside[-1][0])
    if (
        freq is not None
        and freq.max_sessions_per_week is not None
        and worst_count > freq.max_sessions_per_week
    ):
        add(
            "sessions-per-week",
            freq.source,
            count=worst_count,
            limit=float(freq.max_sessions_per_week),
            window=f"{_days(worst_window[0])} to {_days(worst_window[1])}",
        )
    if freq is not None and freq.min_interval_h is not None:
        for a, b in itertools.pairwise(times):
            if (b - a) / 60.0 < freq.min_interval_h:
                add(
                    "min-interval",
                    freq.source,
                    interval_h=(b - a) / 60.0,
                    limit=freq.min_interval_h,
                    window=f"on days {_days(a)} and {_days(b)}",
                )
                break
    if freq is not None and freq.max_sessions_per_week is not None and dose_rule.max is not None:
        limit_mg = (
            _max_session_mg(protocol, dose_rule.max, record.weight_kg, doses)
            * freq.max_sessions_per_week
        )
        if worst_mg > limit_mg * (1 + 1e-9):
            add(
                "weekly-amount",
                f"{dose_rule.source}; {freq.source}",
                amount_mg=worst_mg,
                limit=limit_mg,
                window=f"{_days(worst_mg_window[0])} to {_days(worst_mg_window[1])}",
            )
    if doses:
        add(
            "course-total",
            "",
            count=len(doses),
            amount_mg=sum(d.amount_mg for d in doses),
            weekly_mg=worst_mg,
        )
    below = by_check.get("session-total-below")
    if below is not None and below.value_mg is not None:
        for d in doses:
            if d.amount_mg < below.value_mg:
                add("session-total-below", "", amount_mg=d.amount_mg, session=d.session)
                break
    if len(doses) > 1:
        add("repeated-sessions", "")
    return findings


def _matching_classes(
    medications: Sequence[str], rules: RuleSet
) -> tuple[dict[str, list[str]], list[str]]:
    found: dict[str, list[str]] = {}
    unrecognised: list[str] = []
    for med in medications:
        key = med.strip().lower()
        hit = False
        for cls in rules.medication_classes:
            if key == cls.id or key in (m.lower() for m in cls.members):
                found.setdefault(cls.id, []).append(med)
                hit = True
        if not hit:
            unrecognised.append(med)
    return found, unrecognised


def check(
    protocol: Protocol,
    record: PatientRecord,
    doses: Sequence[PlannedDose],
    *,
    rules: RuleSet | None = None,
    bp_threshold: tuple[float, float] | None = None,
) -> tuple[Finding, ...]:
    """Every finding of ``rules`` (default: the shipped rules) for this plan.

    Parameters
    ----------
    protocol, record, doses:
        The protocol, the patient and the planned sessions (see
        :func:`ketasim.regimens.protocols.schedule_doses`).
    bp_threshold:
        ``(systolic, diastolic)`` mmHg replacing the thresholds of rules marked
        ``configurable = "bp_threshold"`` (default: the rules file's values, the label example
        140/90).

    Returns
    -------
    tuple of Finding
        Sorted stop, warn, info (file order within a severity).
    """
    rules = rules if rules is not None else default_rules()
    applicable = [
        r
        for r in rules.rules
        if r.applies_to(
            protocol_id=protocol.id,
            drug=protocol.drug,
            route=protocol.route,
            indication=protocol.indication,
        )
    ]
    conditions = rules.expand_conditions(record.conditions)
    med_classes, unrecognised = _matching_classes(record.medications, rules)
    labels = {c.id: c.label for c in rules.medication_classes}
    findings: list[Finding] = []
    for rule in applicable:
        values: dict[str, object] = {"protocol": protocol.id}
        fired = False
        if rule.kind == "condition":
            fired = bool(conditions.intersection(rule.conditions))
        elif rule.kind == "measurement":
            thresholds = dict(rule.measurements)
            if rule.configurable == "bp_threshold" and bp_threshold is not None:
                thresholds = {
                    "sbp_mmhg": Threshold(above=bp_threshold[0]),
                    "dbp_mmhg": Threshold(above=bp_threshold[1]),
                }
            for name, threshold in thresholds.items():
                v = record.measurement(name)
                values[name] = v if v is not None else float("nan")
                if v is not None and threshold.exceeded(v):
                    fired = True
            values["threshold"] = (
                "/".join(
                    f"{t.above if t.above is not None else t.below:g}" for t in thresholds.values()
                )
                + " mmHg"
            )
        elif rule.kind == "missing":
            missing = [f for f in rule.fields if getattr(record, f, None) is None]
            fired = bool(missing)
            values["fields"] = ", ".join(missing)
        elif rule.kind == "age":
            age = record.age_years
            if age is not None:
                values["age_years"] = age
                fired = (rule.age_below_years is not None and age < rule.age_below_years) or (
                    rule.age_at_least_years is not None and age >= rule.age_at_least_years
                )
        elif rule.kind == "medication":
            if rule.unrecognised:
                meds = unrecognised
                classes: list[str] = []
            else:
                classes = [c for c in rule.medication_classes if c in med_classes]
                meds = [m for c in classes for m in med_classes[c]]
            fired = bool(meds)
            values["medications"] = ", ".join(meds)
            values["classes"] = ", ".join(labels[c].lower() for c in classes)
        elif rule.kind == "monitoring":
            fired = True
        if fired:
            findings.append(
                Finding(
                    rule.id, rule.severity, _fmt(rule.id, rule.message, values), rule.cited_source
                )
            )
    findings += _protocol_findings(protocol, record, doses, rules, [r.id for r in applicable])
    return tuple(sorted(findings, key=lambda f: _ORDER[f.severity]))


def monitoring_timeline(
    protocol: Protocol, doses: Sequence[PlannedDose] = (), *, rules: RuleSet | None = None
) -> tuple[tuple[MonitoringItem, ...], float | None]:
    """The monitoring schedule of one session and the earliest discharge time.

    Returns ``(items, discharge_not_before_min)``: items sorted by time (timed first), and the
    minimum time from the start of the session before discharge (the longest ``observation_min``
    of the rules and the protocol, after the end of the administration), or ``None`` when no
    source states a minimum.
    """
    rules = rules if rules is not None else default_rules()
    items: list[MonitoringItem] = []
    observation: list[float] = []
    for rule in rules.rules:
        if rule.kind != "monitoring" or not rule.applies_to(
            protocol_id=protocol.id,
            drug=protocol.drug,
            route=protocol.route,
            indication=protocol.indication,
        ):
            continue
        items.append(
            MonitoringItem(
                rule.at_min,
                rule.when or f"{rule.at_min:g} min",
                rule.message,
                rule.id,
                rule.cited_source,
            )
        )
        if rule.observation_min is not None:
            observation.append(rule.observation_min)
    if protocol.observation_min is not None:
        observation.append(protocol.observation_min)
    administration = max((d.duration_min for d in doses), default=protocol.dose.duration_min)
    discharge = max(max(observation), administration) if observation else None
    timed = sorted(
        (i for i in items if i.time_min is not None),
        key=lambda i: i.time_min if i.time_min is not None else 0.0,
    )
    return tuple(timed + [i for i in items if i.time_min is None]), discharge
