"""``make_plan``: doses, findings, monitoring and predicted concentrations with the band."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.catalogue.schema import IIV, IIVCorrelation
from ketasim.regimens.protocols import get_protocol
from ketasim.safety import default_rules, make_plan, parse_patient_record, sample_etas

ADULT: dict[str, Any] = {"age_years": 45, "weight_kg": 72, "sbp_mmhg": 124, "dbp_mmhg": 78}


def record(**change: Any):  # type: ignore[no-untyped-def]
    return parse_patient_record({**ADULT, **change}, default_rules())


def test_sample_etas_matches_the_declared_variances() -> None:
    # exponential CV 30%: omega^2 = log(1 + 0.3^2); logit CV 70.8: omega = 0.708
    base = resolve_model("herd")
    model = base.model_copy(
        update={
            "iiv": {
                "V1_70": IIV(cv_percent=30, source="test"),
                "CL_70": IIV(cv_percent=70.8, scale="logit", source="test"),
            },
            "iiv_correlations": [IIVCorrelation(a="V1_70", b="CL_70", r=0.6, source="test")],
        }
    )
    etas = sample_etas(model, 40_000, np.random.default_rng(3))
    a = np.array([[e["V1_70"], e["CL_70"]] for e in etas])
    assert a[:, 0].std() == pytest.approx(np.sqrt(np.log(1 + 0.09)), rel=0.02)
    assert a[:, 1].std() == pytest.approx(0.708, rel=0.02)
    assert np.corrcoef(a.T)[0, 1] == pytest.approx(0.6, abs=0.02)
    assert abs(a.mean(axis=0)).max() < 0.02


def test_esketamine_plan_has_doses_band_and_monitoring() -> None:
    plan = make_plan(get_protocol("esketamine-trd-us"), record(), n_samples=40, rng=7)
    assert len(plan.doses) == 14 and plan.doses[0].amount == 56
    assert plan.discharge_not_before_min == 120
    first = plan.concentrations[0]
    conc = first.typical["esketamine_plasma"]
    lo, hi = first.lower["esketamine_plasma"], first.upper["esketamine_plasma"]
    assert np.all(lo <= hi + 1e-12)
    # the typical patient (eta = 0) lies inside the 5th-95th band after absorption starts
    inside = (conc >= lo - 1e-9) & (conc <= hi + 1e-9)
    assert inside[first.times_min > 10].mean() > 0.95
    # peak within the label's 20-40 min after dosing (SPRAVATO PI: Tmax 20-40 min)
    t_peak = first.times_min[int(np.argmax(conc))]
    assert 20 <= t_peak <= 45
    assert not plan.has_stop


def test_band_is_reproducible_by_seed() -> None:
    p = get_protocol("esketamine-mdsi-us")
    a = make_plan(p, record(), n_samples=15, rng=11, weeks=1)
    b = make_plan(p, record(), n_samples=15, rng=11, weeks=1)
    c = make_plan(p, record(), n_samples=15, rng=12, weeks=1)
    ua = a.concentrations[0].upper["esketamine_plasma"]
    assert np.array_equal(ua, b.concentrations[0].upper["esketamine_plasma"])
    assert not np.array_equal(ua, c.concentrations[0].upper["esketamine_plasma"])
    assert a.seed == 11


def test_model_without_iiv_gives_no_band() -> None:
    plan = make_plan(get_protocol("depression-iv-course"), record(), n_samples=50, rng=1)
    assert plan.n_samples == 0 and not plan.concentrations[0].lower
    assert "no IIV" in plan.concentration_note
    # 0.5 mg/kg over 40 min: the plasma concentration peaks at the end of the infusion
    first = plan.concentrations[0]
    t_peak = first.times_min[int(np.argmax(first.typical["ketamine_plasma"]))]
    assert t_peak == pytest.approx(40.0, abs=1.0)


def test_protocol_without_model_explains_itself() -> None:
    plan = make_plan(get_protocol("anaesthesia-induction-im"), record(), rng=1)
    assert plan.concentrations == () and plan.model_id is None
    assert "No concentrations predicted" in plan.concentration_note


def test_plan_json_contract() -> None:
    plan = make_plan(
        get_protocol("esketamine-trd-us"),
        record(conditions=["aortic-aneurysm"]),
        n_samples=10,
        rng=1,
        weeks=1,
    )
    data = plan.as_dict()
    assert data["stop"] is True
    assert {"rule_id", "severity", "message", "source"} == set(data["findings"][0])
    assert data["findings"][0]["severity"] == "stop"
    assert data["doses"][0]["amount_mg"] == 56.0
    assert data["concentrations"]["n_samples"] == 10
    series = data["concentrations"]["series"][0]
    assert {"time_min", "typical", "p05", "p95"} <= set(series)
    assert {e["endpoint"] for e in data["effects"]} == {"antinociception", "external_perception"}


def test_paediatric_plan_warns_outside_model_range() -> None:
    # Herd 2007 was built on 1-14 y; a 16-year-old extrapolates with a warning
    plan = make_plan(
        get_protocol("paediatric-sedation-iv"),
        record(age_years=16, weight_kg=60),
        n_samples=5,
        rng=1,
    )
    assert "validity.age_years" in {f.rule_id for f in plan.findings}


def test_samples_out_of_range() -> None:
    from ketasim.errors import InputError

    with pytest.raises(InputError, match="n_samples"):
        make_plan(get_protocol("esketamine-trd-us"), record(), n_samples=-1)


def test_effects_of_the_protocols_pd_model() -> None:
    plan = make_plan(get_protocol("esketamine-trd-us"), record(), n_samples=0, weeks=1)
    ext = next(e for e in plan.effects if e.endpoint == "external_perception")
    # Olofsen 2022: C50 0.51 nmol/mL; 0.51 umol/L x 237.73 g/mol = 121.2 ng/mL
    assert ext.c50_ng_per_ml == pytest.approx(0.51 * 237.73, rel=1e-3)
    assert ext.ce_over_c50 is not None and np.all(ext.ce_over_c50 >= 0)
    none = make_plan(get_protocol("analgesia-infusion-iv"), record(), n_samples=0, weeks=1)
    assert none.effects == () and "Concentrations only" in none.effects_note
    course = make_plan(get_protocol("depression-iv-course"), record(), n_samples=0, weeks=1)
    sbp = next(e for e in course.effects if e.endpoint == "sbp_change")
    assert sbp.values is not None and float(np.max(sbp.values)) > 0  # BP rises during dosing
