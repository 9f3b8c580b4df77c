"""Each PD model reproduces the values its paper reports (source cited in each test).

Values are typed here from the papers' abstracts (as recorded in shared/reference/
ketamine-models.md section E), never from ketasim's output.
"""

from __future__ import annotations

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pd import (
    effects_from_concentrations,
    endpoint_response,
    pd_ke0_per_min,
    resolve_pd_model,
    simulate_effects,
)
from ketasim.pk import simulate
from ketasim.regimens import parse_regimen


@pytest.mark.parametrize(
    ("endpoint", "drug", "ic50_ng_per_ml", "emax_hz"),
    [
        ("eeg_mf_decrease_racemic", "racemic ketamine", 2000.0, 7.6),
        ("eeg_mf_decrease_s", "S-ketamine", 800.0, 8.3),
        ("eeg_mf_decrease_r", "R-ketamine", 1800.0, 4.4),
    ],
)
def test_schuttler_1987_ic50_is_half_maximal(
    endpoint: str, drug: str, ic50_ng_per_ml: float, emax_hz: float
) -> None:
    # Schüttler 1987 abstract (J Pharmacokinet Biopharm 15:241): IC50 2.0 / 0.8 / 1.8 ug/mL and
    # Emax 7.6 / 8.3 / 4.4 Hz for R,S / S / R. At the IC50, Ce/IC50 = 1 (half-maximal whatever
    # the Hill coefficient, which was not found).
    pd_model = resolve_pd_model("schuttler-1987")
    ep = pd_model.endpoint(endpoint)
    assert ep.emax is not None and ep.emax.value == emax_hz
    res = effects_from_concentrations(
        pd_model, [0.0, 1.0], {"ketamine": [ic50_ng_per_ml] * 2}, drug=drug
    )
    ratio = res.endpoints[endpoint].ce_over_c50
    assert ratio is not None
    np.testing.assert_allclose(ratio, 1.0)
    assert set(res.endpoints) == {endpoint}  # only the administered form's estimate is used
    assert pd_ke0_per_min(pd_model) is None  # no ke0 in the source; no assumed t_peak


def test_herd_2008_sedation_at_ec50_and_extremes() -> None:
    # Herd 2008 abstract (Paediatr Anaesth 18:36): E0 5, fractional Emax 0.939, EC50 0.56 mg/L,
    # Hill 3.71. At EC50 the score is 5 (1 - 0.939/2) = 2.6525; at high C it tends to
    # 5 (1 - 0.939) = 0.305.
    pd_model = resolve_pd_model("herd-2008")
    conc = {"ketamine": np.array([0.0, 560.0, 1e7])}
    score = endpoint_response(pd_model.endpoint("sedation_score"), conc).values
    assert score is not None
    np.testing.assert_allclose(score, [5.0, 2.6525, 0.305], atol=1e-4)
    # Herd 2008: t1/2keo 11 s -> ke0 = ln2 / (11/60 min) = 3.78 /min
    assert pd_ke0_per_min(pd_model) == pytest.approx(np.log(2) / (11 / 60))
    # Arousal EC50 0.52 mg/L: Ce/EC50 = 1 at 520 ng/mL
    arousal = endpoint_response(pd_model.endpoint("arousal"), conc).ce_over_c50
    assert arousal is not None and arousal[1] == pytest.approx(560 / 520)


def test_herd_2008_with_herd_2007_pk_dallimore_landmark() -> None:
    # Dallimore, Herd, Short, Anderson 2008 (Pediatr Emerg Care 24:529; espace.library.uq.edu.au
    # UQ:350506), simulating Herd PK/PD: a single 2 mg/kg IV bolus in a 6-year-old keeps the
    # sedation score below 2 for about 15 minutes. 6-year-old weight taken as 20 kg (assumption
    # of this test, not from the paper). ketasim's score crosses 2 between 12 and 18 min.
    pd_model = resolve_pd_model("herd-2008")
    t = np.arange(0.0, 121.0, 0.5)
    _, res = simulate_effects(
        pd_model,
        resolve_model("herd-2007"),
        Patient(weight_kg=20, age_years=6),
        parse_regimen("2 mg/kg"),
        times_min=t,
    )
    score = res.endpoints["sedation_score"].values
    assert score is not None
    after_peak = t > 1.0
    first_above_2 = t[after_peak][np.argmax(score[after_peak] >= 2.0)]
    assert 12.0 <= first_above_2 <= 18.0
    # Note: Dallimore also reports a score of 4 only after ~70 min; ketasim's typical child
    # reaches 4 at ~42 min (disagreement reported, not asserted).


def test_awakening_landmark_after_label_induction_dose() -> None:
    # Landmarks: recovery/awakening at 0.64 ug/mL (2.7 umol/L, Br J Anaesth 1979;51:1167) and
    # 0.74 mg/L (adult value quoted by Herd 2008). KETALAR label: 2 mg/kg IV gives 5-10 min of
    # surgical anaesthesia. With the Domino PK model, plasma falls through 0.74 -> 0.64 mg/L
    # after the anaesthesia window starts to close: between 5 and 15 min after the dose.
    t = np.arange(0.0, 60.0, 0.25)
    r = simulate(
        resolve_model("domino-1982"),
        Patient(weight_kg=70),
        parse_regimen("2 mg/kg", over="1min"),
        times_min=t,
    )
    c = r.concentrations_ng_per_ml["ketamine_plasma"]
    after = t > 1.0
    for landmark in (740.0, 640.0):
        t_cross = t[after][np.argmax(c[after] < landmark)]
        assert 5.0 <= t_cross <= 15.0
    # and the Schüttler/Herd-quoted anaesthetic EC50 (2 mg/L) is exceeded during the first minutes
    assert c[(t > 0) & (t <= 2)].max() > 2000.0


def test_olofsen_2022_c50_and_ke0() -> None:
    # Olofsen 2022 abstract (Anesthesiology 136:792): C50 0.51 nmol/mL (= 0.51 x 237.73 =
    # 121.2 ng/mL S-ketamine) for antinociception and external perception; t1/2ke0 8.3 min.
    pd_model = resolve_pd_model("olofsen-2022")
    assert pd_ke0_per_min(pd_model) == pytest.approx(np.log(2) / 8.3)
    res = effects_from_concentrations(pd_model, [0.0, 1e-9], {"ketamine": [0.0, 0.0]})
    for name in ("antinociception", "external_perception"):
        assert res.endpoints[name].c50_ng_per_ml == pytest.approx(0.51 * 237.73)
    # Constant plasma at C50: after one t1/2ke0 the effect site holds half of it.
    t = np.array([0.0, 8.3])
    c50 = 0.51 * 237.73
    res = effects_from_concentrations(pd_model, t, {"esketamine": [c50, c50]})
    ratio = res.endpoints["antinociception"].ce_over_c50
    assert ratio is not None and ratio[-1] == pytest.approx(0.5)


def test_noppers_2012_net_pain_relief() -> None:
    # Noppers abstract (Anesthesiology 2012;117:353): -3.8 cm at ketamine Ce 100 ng/mL,
    # +1.5 cm at norketamine Ce 50 ng/mL, net -2.3 cm.
    pd_model = resolve_pd_model("noppers-2012")
    res = effects_from_concentrations(
        pd_model, [0.0, 1e6], {"ketamine": [100.0, 100.0], "norketamine": [50.0, 50.0]}
    )
    vas = res.endpoints["pain_vas_change"].values
    assert vas is not None
    assert vas[-1] == pytest.approx(-2.3, abs=1e-3)  # effect site at steady state


def test_dahan_2011_slow_onset() -> None:
    # Dahan 2011 abstract (Eur J Pain 15:258): C50 10.5 ng/mL, onset/offset t1/2 10.9 days.
    pd_model = resolve_pd_model("dahan-2011")
    day = 1440.0
    t = np.array([0.0, 10.9 * day])
    res = effects_from_concentrations(pd_model, t, {"ketamine": [10.5, 10.5]})
    ratio = res.endpoints["chronic_pain_relief"].ce_over_c50
    assert ratio is not None and ratio[-1] == pytest.approx(0.5)


def test_cardiovascular_empirical_reproduces_its_calibration_summary() -> None:
    # 135-patient cohort (physiciansweekly.com summary, antidepressant-response.md 4.2): largest
    # mean increase SBP +7.4, DBP +6.0 mmHg, pulse +1.9 /min at 30-40 min of 0.5 mg/kg/40 min;
    # BP back to baseline within 1.5 h after the infusion (Szarmach 2020, DOI
    # 10.2147/NDT.S273287).
    pd_model = resolve_pd_model("cardiovascular-iv-empirical")
    t = np.arange(0.0, 181.0, 1.0)
    _, res = simulate_effects(
        pd_model,
        resolve_model("domino-1982"),
        Patient(weight_kg=70),
        parse_regimen("0.5 mg/kg", over="40min"),
        times_min=t,
    )
    assert any(f.rule_id.endswith(".empirical") for f in res.findings)
    for name, published in (("sbp_change", 7.4), ("dbp_change", 6.0), ("hr_change", 1.9)):
        v = res.endpoints[name].values
        assert v is not None
        assert v.max() == pytest.approx(published, rel=0.01)
        assert 30.0 <= t[int(np.argmax(v))] <= 40.0
        assert v[t == 130.0][0] < 0.2 * published  # 90 min after the end of the infusion


def test_cardiac_output_s_ketamine_summary() -> None:
    # Sigtermans 2009 abstract (Anesthesiology 111:892): cardiac output +40-50% over S-ketamine
    # stepped to 320 ng/mL.
    pd_model = resolve_pd_model("cardiac-output-s-ketamine-empirical")
    ep = pd_model.endpoint("cardiac_output_change_pct")
    co = endpoint_response(ep, {"ketamine": np.array([0.0, 320.0])}).values
    assert co is not None
    assert co[0] == 0.0 and 40.0 <= co[1] <= 50.0
