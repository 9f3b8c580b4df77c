"""The protocol library: every file valid and cited; the dose numbers are the labels' and
guidelines' (values copied from the sources named in each test, not from the files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError, ModelError
from ketasim.regimens.protocols import (
    Protocol,
    available_protocols,
    get_protocol,
    load_protocol_file,
    schedule_doses,
)

PROTOCOLS = available_protocols()


def test_library_covers_the_issue() -> None:
    ids = {p.id for p in PROTOCOLS}
    assert {
        "anaesthesia-induction-iv",
        "anaesthesia-induction-im",
        "paediatric-sedation-iv",
        "analgesia-bolus-iv",
        "analgesia-infusion-iv",
        "depression-iv-course",
        "esketamine-trd-us",
        "esketamine-trd-eu",
        "esketamine-mdsi-us",
    } <= ids


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.id)
def test_every_protocol_is_cited_and_consistent(protocol: Protocol) -> None:
    assert protocol.sources and all(len(s.text) > 10 and s.verified for s in protocol.sources)
    d = protocol.dose
    assert len(d.source) > 10
    if d.min is not None:
        assert d.default >= d.min or d.first_dose is not None
    if d.max is not None:
        assert d.default <= d.max
    for phase in protocol.phases:
        assert len(phase.source) > 10
    if protocol.model is not None:
        model = resolve_model(protocol.model)
        assert protocol.route in model.route_names
    else:
        assert protocol.model_note


def test_ketalar_label_ranges() -> None:
    # KETALAR label: IV induction 1-4.5 mg/kg over 60 s; IM 6.5-13 mg/kg
    iv = get_protocol("anaesthesia-induction-iv").dose
    assert (iv.unit, iv.min, iv.max, iv.duration_min) == ("mg/kg", 1.0, 4.5, 1.0)
    im = get_protocol("anaesthesia-induction-im").dose
    assert (im.unit, im.min, im.max) == ("mg/kg", 6.5, 13.0)


def test_asra_2018_ranges() -> None:
    # Cohen et al. 2018: bolus <= 0.35 mg/kg; infusion 0.5-2 mg/kg/h (up to 7 in ICU)
    bolus = get_protocol("analgesia-bolus-iv").dose
    assert bolus.unit == "mg/kg" and bolus.max == 0.35
    inf = get_protocol("analgesia-infusion-iv").dose
    assert (inf.unit, inf.min, inf.max, inf.hard_max) == ("mg/kg/h", 0.5, 2.0, 7.0)


def test_esketamine_label_doses() -> None:
    # SPRAVATO PI: 28-mg devices; day 1 56 mg; then 56 or 84 mg
    d = get_protocol("esketamine-trd-us").dose
    assert (d.unit, d.increment, d.first_dose, sorted(d.allowed or [])) == (
        "mg",
        28.0,
        56.0,
        [56.0, 84.0],
    )


def test_esketamine_us_schedule_by_week() -> None:
    # PI: weeks 1-4 twice weekly; 5-8 weekly; from 9 every 2 weeks (or weekly)
    doses = schedule_doses(get_protocol("esketamine-trd-us"), weight_kg=70, age_years=40, weeks=12)
    days = [d.day for d in doses]
    assert days[:8] == [0, 3, 7, 10, 14, 17, 21, 24]
    assert days[8:12] == [28, 35, 42, 49]
    assert days[12:] == [56, 70]
    assert [d.amount for d in doses][:2] == [56.0, 56.0]
    assert all(d.amount_mg == d.amount for d in doses)  # mg doses do not scale with weight
    # the open-ended maintenance phase runs to the requested week
    longer = schedule_doses(get_protocol("esketamine-trd-us"), weight_kg=70, age_years=40, weeks=16)
    assert [d.day for d in longer][12:] == [56, 70, 84, 98]


def test_esketamine_eu_age_rule() -> None:
    # EU SmPC 4.2: day-1 dose 28 mg at >= 65 y, 56 mg below
    eu = get_protocol("esketamine-trd-eu")
    assert schedule_doses(eu, weight_kg=70, age_years=70)[0].amount == 28.0
    assert schedule_doses(eu, weight_kg=70, age_years=64.9)[0].amount == 56.0
    assert 28.0 in (eu.dose_rule_for_age(70).allowed or [])
    assert 28.0 not in (eu.dose_rule_for_age(40).allowed or [])


def test_depression_course() -> None:
    # Shiroma 2014: six 0.5 mg/kg infusions over 40 min, Mon-Wed-Fri during 12 days
    doses = schedule_doses(get_protocol("depression-iv-course"), weight_kg=80, age_years=40)
    assert [d.day for d in doses] == [0, 2, 4, 7, 9, 11]
    assert all(d.duration_min == 40 and d.amount_mg == pytest.approx(40.0) for d in doses)


def test_infusion_amount_is_rate_times_weight_times_time() -> None:
    doses = schedule_doses(
        get_protocol("analgesia-infusion-iv"),
        weight_kg=70,
        age_years=50,
        dose=1.0,
        duration_min=180,
    )
    assert len(doses) == 1
    assert doses[0].amount_mg == pytest.approx(1.0 * 70 * 3)


def test_unknown_protocol_names_the_option() -> None:
    with pytest.raises(InputError, match="protocol"):
        get_protocol("nope")


def test_bad_protocol_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    text = (
        Path(__file__).parents[2] / "src/ketasim/regimens/data/protocols/analgesia-bolus-iv.toml"
    ).read_text()
    path.write_text(text.replace('unit = "mg/kg"', 'unit = "mg/lb"'))
    with pytest.raises(ModelError, match=r"bad.toml: field dose.unit"):
        load_protocol_file(path)


def test_schedule_rejects_bad_overrides() -> None:
    p = get_protocol("depression-iv-course")
    with pytest.raises(InputError, match="dose"):
        schedule_doses(p, weight_kg=70, dose=-1)
    with pytest.raises(InputError, match="weeks"):
        schedule_doses(p, weight_kg=70, weeks=0)


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if p.pd_models], ids=lambda p: p.id)
def test_pd_models_exist(protocol: Protocol) -> None:
    from ketasim.pd import resolve_pd_model

    for pd_id in protocol.pd_models:
        assert resolve_pd_model(pd_id).id == pd_id
