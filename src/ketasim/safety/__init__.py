"""Safety checks: contraindications, dose and frequency limits, monitoring, as cited rules.

- :mod:`~ketasim.safety.rules`: the rules file (versioned data with sources) and its schema;
- :mod:`~ketasim.safety.record`: the patient record (vitals, conditions, medications);
- :mod:`~ketasim.safety.checker`: ``check(protocol, record, doses) -> tuple[Finding, ...]`` and
  the monitoring timeline;
- :mod:`~ketasim.safety.plan`: ``make_plan(protocol, record, ...)`` (doses, findings,
  monitoring, predicted concentrations with a variability band).
"""

from ketasim.safety.checker import MonitoringItem, check, monitoring_timeline, parse_bp_threshold
from ketasim.safety.plan import ConcentrationPrediction, Plan, make_plan, sample_etas
from ketasim.safety.record import PatientRecord, PriorSession, parse_patient_record
from ketasim.safety.rules import RuleSet, default_rules, load_rules

__all__ = [
    "ConcentrationPrediction",
    "MonitoringItem",
    "PatientRecord",
    "Plan",
    "PriorSession",
    "RuleSet",
    "check",
    "default_rules",
    "load_rules",
    "make_plan",
    "monitoring_timeline",
    "parse_bp_threshold",
    "parse_patient_record",
    "sample_etas",
]
