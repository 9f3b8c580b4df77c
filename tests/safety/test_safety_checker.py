"""The safety checker: what the issue must show, and each rule kind against the label text.

Thresholds and limits in these tests are copied from the sources (SPRAVATO US PI section 4 and
5.6, ASRA 2018, KETALAR label), not from the rules file.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ketasim.errors import InputError, ModelError
from ketasim.findings import Finding
from ketasim.regimens.protocols import get_protocol, schedule_doses
from ketasim.safety import (
    check,
    default_rules,
    load_rules,
    monitoring_timeline,
    parse_bp_threshold,
    parse_patient_record,
)

CLEAN: dict[str, Any] = {
    "age_years": 45,
    "weight_kg": 72,
    "sbp_mmhg": 124,
    "dbp_mmhg": 78,
    "heart_rate_bpm": 72,
    "conditions": [],
    "medications": ["sertraline"],
    "pregnant": False,
}


def findings_for(
    protocol_id: str,
    *,
    dose: float | None = None,
    rules: Any = None,
    bp_threshold: tuple[float, float] | None = None,
    **patient: Any,
) -> tuple[Finding, ...]:
    rules = rules or default_rules()
    record = parse_patient_record({**CLEAN, **patient}, rules)
    protocol = get_protocol(protocol_id)
    doses = schedule_doses(
        protocol, weight_kg=record.weight_kg, age_years=record.age_years, dose=dose
    )
    return check(protocol, record, doses, rules=rules, bp_threshold=bp_threshold)


def ids(findings: tuple[Finding, ...], severity: str | None = None) -> set[str]:
    return {f.rule_id for f in findings if severity is None or f.severity == severity}


# --- what the issue must show --------------------------------------------------------------------


def test_aortic_aneurysm_with_esketamine_is_a_stop_naming_rule_and_source() -> None:
    found = findings_for("esketamine-trd-us", conditions=["aortic-aneurysm"])
    stops = [f for f in found if f.severity == "stop"]
    assert [f.rule_id for f in stops] == ["esketamine.contraindication.aneurysmal-vascular-disease"]
    assert "SPRAVATO" in stops[0].source and "Contraindications" in stops[0].source
    assert "aneurysmal vascular disease" in stops[0].message
    assert found[0] == stops[0]  # stops come first


@pytest.mark.parametrize(
    "condition",
    [
        "aneurysmal-vascular-disease",
        "intracranial-aneurysm",
        "peripheral-arterial-aneurysm",
        "arteriovenous-malformation",
        "intracerebral-haemorrhage",
        "hypersensitivity-ketamine",
    ],
)
def test_every_label_contraindication_stops_esketamine(condition: str) -> None:
    # SPRAVATO PI section 4: the four contraindications (aneurysm sites imply the first)
    for protocol_id in ("esketamine-trd-us", "esketamine-trd-eu", "esketamine-mdsi-us"):
        assert ids(findings_for(protocol_id, conditions=[condition]), "stop")


def test_aneurysm_stops_racemic_ketamine_through_the_ketalar_rule() -> None:
    found = findings_for("depression-iv-course", conditions=["aortic-aneurysm"])
    assert ids(found, "stop") == {"ketamine.contraindication.bp-elevation-hazard"}


@pytest.mark.parametrize(
    ("sbp", "dbp", "fires"),
    [
        (150, 85, True),  # systolic above 140
        (130, 95, True),  # diastolic above 90
        (140, 90, False),  # label: "> 140/90", so 140/90 itself does not fire
        (124, 78, False),
    ],
)
def test_bp_threshold_default_is_the_label_example(sbp: float, dbp: float, fires: bool) -> None:
    found = findings_for("esketamine-trd-us", sbp_mmhg=sbp, dbp_mmhg=dbp)
    assert ("bp.pre-dose-above-threshold" in ids(found, "warn")) is fires


def test_bp_threshold_is_configurable() -> None:
    assert "bp.pre-dose-above-threshold" not in ids(
        findings_for("esketamine-trd-us", sbp_mmhg=150, dbp_mmhg=95, bp_threshold=(160, 100))
    )
    found = findings_for(
        "esketamine-trd-us", sbp_mmhg=135, dbp_mmhg=85, bp_threshold=parse_bp_threshold("130/80")
    )
    bp = [f for f in found if f.rule_id == "bp.pre-dose-above-threshold"]
    assert len(bp) == 1 and "130/80 mmHg" in bp[0].message and "135/85" in bp[0].message


def test_bp_rule_severity_comes_from_the_rules_file(tmp_path: Path) -> None:
    text = (resources.files("ketasim.safety") / "data" / "rules.toml").read_text()
    start = text.index('id = "bp.pre-dose-above-threshold"')
    text = text[:start] + text[start:].replace('severity = "warn"', 'severity = "stop"', 1)
    path = tmp_path / "strict.toml"
    path.write_text(text)
    found = findings_for("esketamine-trd-us", rules=load_rules(path), sbp_mmhg=150, dbp_mmhg=85)
    assert "bp.pre-dose-above-threshold" in ids(found, "stop")


@pytest.mark.parametrize(
    ("protocol_id", "dose", "rule_id", "severity"),
    [
        ("depression-iv-course", 0.75, "dose.above-protocol-max", "warn"),  # APA: 0.5 mg/kg
        ("anaesthesia-induction-iv", 5.0, "dose.above-protocol-max", "warn"),  # label: <= 4.5
        ("analgesia-bolus-iv", 0.5, "dose.above-protocol-max", "warn"),  # ASRA: <= 0.35
        ("analgesia-infusion-iv", 2.5, "dose.above-protocol-max", "warn"),  # ASRA: <= 2 mg/kg/h
        ("analgesia-infusion-iv", 8.0, "dose.above-hard-max", "stop"),  # ASRA: 7 only in ICU
        ("esketamine-trd-us", 112.0, "dose.above-protocol-max", "warn"),  # PI: 56 or 84 mg
        ("esketamine-trd-us", 70.0, "dose.not-device-multiple", "stop"),  # 28-mg devices
        ("esketamine-trd-us", 28.0, "dose.not-allowed", "warn"),  # US adults: 56/84
        ("esketamine-trd-us", 84.0, "dose.first-dose", "warn"),  # day 1: 56 mg
    ],
)
def test_dose_above_protocol_limit_is_flagged(
    protocol_id: str, dose: float, rule_id: str, severity: str
) -> None:
    found = findings_for(protocol_id, dose=dose)
    assert rule_id in ids(found, severity)


def test_clean_patient_gets_none_of_these() -> None:
    for protocol_id in (
        "esketamine-trd-us",
        "esketamine-mdsi-us",
        "depression-iv-course",
        "analgesia-infusion-iv",
        "anaesthesia-induction-iv",
    ):
        found = findings_for(protocol_id)
        assert not ids(found, "stop"), protocol_id
        assert not ids(found, "warn"), (protocol_id, ids(found, "warn"))
        assert not any(
            i.startswith(("dose.", "bp.", "esketamine.contraindication")) for i in ids(found)
        )


def test_severity_order_and_every_finding_has_a_source() -> None:
    found = findings_for(
        "esketamine-trd-us",
        conditions=["aortic-aneurysm", "psychosis"],
        sbp_mmhg=150,
        medications=["lorazepam"],
    )
    order = [{"stop": 0, "warn": 1, "info": 2}[f.severity] for f in found]
    assert order == sorted(order)
    assert all(len(f.source) > 5 for f in found)


# --- other rule kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("medication", "rule_id"),
    [
        ("Lorazepam", "interaction.cns-depressant"),
        ("oxycodone", "interaction.cns-depressant"),
        ("zolpidem", "interaction.cns-depressant"),
        ("methylphenidate", "interaction.psychostimulant"),
        ("phenelzine", "interaction.maoi"),
        ("benzodiazepine", "interaction.cns-depressant"),
    ],
)
def test_interacting_comedications(medication: str, rule_id: str) -> None:
    found = findings_for("esketamine-trd-us", medications=[medication])
    hit = [f for f in found if f.rule_id == rule_id]
    assert hit and hit[0].severity == "warn" and medication in hit[0].message


def test_unrecognised_medication_is_an_info_note() -> None:
    found = findings_for("esketamine-trd-us", medications=["sertraline"])
    assert "medication.unrecognised" in ids(found, "info")


@pytest.mark.parametrize(
    ("patient", "rule_id"),
    [
        ({"pregnant": True, "sex": "female"}, "relative.pregnancy"),
        ({"conditions": ["schizophrenia"]}, "relative.psychosis"),
        ({"conditions": ["substance-use-disorder"]}, "relative.substance-use-disorder"),
        ({"conditions": ["hepatic-impairment-moderate"]}, "esketamine.hepatic-impairment-moderate"),
        ({"conditions": ["hepatic-impairment-severe"]}, "esketamine.hepatic-impairment-severe"),
        ({"conditions": ["raised-intracranial-pressure"]}, "relative.raised-intracranial-pressure"),
        ({"conditions": ["raised-intraocular-pressure"]}, "relative.raised-intraocular-pressure"),
        (
            {"conditions": ["uncontrolled-cardiovascular-disease"]},
            "relative.uncontrolled-cardiovascular-disease",
        ),
    ],
)
def test_relative_contraindications_warn(patient: dict[str, Any], rule_id: str) -> None:
    assert rule_id in ids(findings_for("esketamine-trd-us", **patient), "warn")


def test_age_rules() -> None:
    assert "esketamine.age.paediatric" in ids(
        findings_for("esketamine-trd-us", age_years=16), "warn"
    )
    assert "protocol.age-range" in ids(findings_for("esketamine-trd-us", age_years=16), "warn")
    child = findings_for("paediatric-sedation-iv", age_years=0.1, weight_kg=5)
    assert "acep.contraindication.age-under-3-months" in ids(child, "stop")
    assert "esketamine.age.65-or-older-us" in ids(
        findings_for("esketamine-trd-us", age_years=70), "info"
    )


def test_frequency_and_cumulative_exposure_count_previous_sessions() -> None:
    # a session 2 days before the plan + days 0 and 3: 3 sessions in 7 days (PI: twice weekly)
    found = findings_for(
        "esketamine-trd-us", dose=84.0, previous_sessions=[{"days_ago": 2, "amount_mg": 84}]
    )
    assert "frequency.sessions-per-week" in ids(found, "warn")
    weekly = [f for f in found if f.rule_id == "cumulative.weekly-above-protocol"]
    # 3 x 84 = 252 mg in 7 days > 2 x 84 = 168 mg
    assert weekly and "252 mg" in weekly[0].message and "168 mg" in weekly[0].message
    clean = findings_for("esketamine-trd-us", previous_sessions=[{"days_ago": 8, "amount_mg": 56}])
    assert not ids(clean, "warn")


def test_course_total_is_the_sum_of_sessions() -> None:
    found = findings_for("depression-iv-course", weight_kg=80)
    total = next(f for f in found if f.rule_id == "cumulative.course-total")
    assert "6 session(s), 240 mg" in total.message  # 6 x 0.5 mg/kg x 80 kg


def test_asra_total_below_80_mg_note() -> None:
    # 0.5 mg/kg/h x 50 kg x 2 h = 50 mg < 80 mg
    rules = default_rules()
    record = parse_patient_record({**CLEAN, "weight_kg": 50}, rules)
    p = get_protocol("analgesia-infusion-iv")
    doses = schedule_doses(p, weight_kg=50, age_years=45, duration_min=120)
    assert "asra.total-below-80mg" in ids(check(p, record, doses), "info")


def test_monitoring_timeline_esketamine() -> None:
    p = get_protocol("esketamine-trd-us")
    items, discharge = monitoring_timeline(p)
    timed = [(i.time_min, i.rule_id) for i in items if i.time_min is not None]
    # PI: BP before dosing and at ~40 min; observation >= 2 h
    assert (0.0, "esketamine.monitoring.bp-before") in timed
    assert (40.0, "esketamine.monitoring.bp-40min") in timed
    assert discharge == 120.0
    named = {i.rule_id for i in items if i.time_min is None}
    assert {"esketamine.monitoring.bp-discharge", "esketamine.discharge.no-driving"} <= named


def test_monitoring_without_a_stated_minimum() -> None:
    items, discharge = monitoring_timeline(get_protocol("depression-iv-course"))
    assert discharge is None and items


# --- input errors name the field -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"conditions": ["aortic_aneurysm"]}, "conditions"),
        ({"sbp_mmhg": 400}, "sbp_mmhg"),
        ({"dbp_mmhg": 5}, "dbp_mmhg"),
        ({"heart_rate_bpm": 400}, "heart_rate_bpm"),
        ({"sbp_mmhg": 80, "dbp_mmhg": 90}, "dbp_mmhg"),
        ({"weight_kg": None}, "weight_kg"),
        ({"weight_kg": 4000}, "weight_kg"),
        ({"bp": 120}, "bp"),
        ({"pregnant": "yes"}, "pregnant"),
        (
            {"previous_sessions": [{"days_ago": -1, "amount_mg": 56}]},
            "previous_sessions[0].days_ago",
        ),
    ],
)
def test_patient_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        parse_patient_record({**CLEAN, **change}, default_rules())
    assert info.value.field == field


def test_bp_threshold_text() -> None:
    assert parse_bp_threshold("150/95") == (150.0, 95.0)
    with pytest.raises(InputError, match="bp_threshold_mmhg"):
        parse_bp_threshold("150")


# --- the rules file ------------------------------------------------------------------------------


def test_rules_file_is_versioned_and_cited() -> None:
    rules = default_rules()
    assert rules.version and rules.date
    assert all(len(r.source) > 5 and r.severity in ("stop", "warn", "info") for r in rules.rules)
    stops = {r.id for r in rules.rules if r.severity == "stop"}
    assert {
        "esketamine.contraindication.aneurysmal-vascular-disease",
        "esketamine.contraindication.arteriovenous-malformation",
        "esketamine.contraindication.intracerebral-haemorrhage",
        "esketamine.contraindication.hypersensitivity",
    } <= stops


def test_malformed_rules_are_errors_naming_the_field(tmp_path: Path) -> None:
    text = (resources.files("ketasim.safety") / "data" / "rules.toml").read_text()
    data = tomllib.loads(text)
    assert data["rules"]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace('conditions = ["arteriovenous-malformation"]', 'conditions = ["avm"]')
    )
    with pytest.raises(ModelError, match="unknown"):
        load_rules(bad)
    dup = tmp_path / "dup.toml"
    dup.write_text(
        text.replace(
            'id = "esketamine.contraindication.arteriovenous-malformation"',
            'id = "esketamine.contraindication.intracerebral-haemorrhage"',
        )
    )
    with pytest.raises(ModelError, match="duplicate"):
        load_rules(dup)
