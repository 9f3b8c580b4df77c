"""PD endpoints of virtual trials against an independent, patient-by-patient computation.

The reference for each virtual patient (covariates, PK etas and PD parameters read back from
``--individuals``) is the PD layer's own front door: :func:`ketasim.pd.simulate_effects` (exact
effect site with the PD paper's ke0, solved by the PK engine) and
:func:`ketasim.pd.endpoint_response`, or :func:`ketasim.pd.antidepressant_course` after
:func:`ketasim.pk.simulate`, never the batched kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pd import (
    endpoint_response,
    resolve_pd_model,
    simulate_antidepressant_course,
    simulate_effects,
)
from ketasim.population import parse_trial_spec, run_trial
from ketasim.regimens import parse_regimen

N = 24


def _herd_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "n": N,
        "seed": 11,
        "chunk_size": 10,  # three chunks: merged counts
        "population": {"kind": "fixed", "weight_kg": 20.0, "age_years": 6.0},
        "outputs": {"until": "60min", "every": "1min"},
        "arms": [{"name": "herd", "model": "herd-2007", "regimen": "1 mg/kg"}],
        "endpoints": [
            {
                "name": "sed",
                "kind": "pd_event",
                "pd_model": "herd-2008",
                "pd_endpoint": "sedation_score",
                "effect_below": 2,
                "from": "5min",
            },
            {
                "name": "arousal",
                "kind": "pd_event",
                "pd_model": "herd-2008",
                "pd_endpoint": "arousal",
                "ce_over_c50_above": 1,
            },
            {
                "name": "sed_typical",
                "kind": "pd_peak",
                "pd_model": "herd-2008",
                "pd_endpoint": "sedation_score",
                "pd_iiv": False,
            },
        ],
    }
    spec.update(changes)
    return spec


def test_pd_events_match_patient_by_patient_simulation() -> None:
    spec = parse_trial_spec(_herd_spec())
    result = run_trial(spec, scheduler="local:1", individuals=N)
    params = result.individual_parameters
    assert params is not None and len(params) == N
    model = resolve_model("herd-2007")
    pd_model = resolve_pd_model("herd-2008")
    sed = pd_model.endpoint("sedation_score")
    grid = spec.outputs.grid()
    regimen = parse_regimen("1 mg/kg")
    ref: dict[str, list[float]] = {
        "sed": [],
        "sed_event": [],
        "arousal": [],
        "arousal_event": [],
        "sed_typical": [],
    }
    for _, row in params.iterrows():
        etas = {
            k.removeprefix("eta_"): float(v) for k, v in row.items() if str(k).startswith("eta_")
        }
        _, eff = simulate_effects(
            pd_model, model, Patient(20.0, age_years=6.0), regimen, times_min=grid, etas=etas
        )
        drivers = {"ketamine": eff.driver_ng_per_ml["ketamine_effect_site"]}
        c50 = row["pd_sed_c50_ng_per_ml"]
        assert sed.c50 is not None and sed.imax is not None
        ep = sed.model_copy(
            update={
                "c50": sed.c50.model_copy(update={"value": c50, "unit": "ng/mL"}),
                "imax": sed.imax.model_copy(update={"value": row["pd_sed_imax"]}),
            }
        )
        score = endpoint_response(ep, drivers).values
        assert score is not None
        window = score[5:]  # from 5 min
        ref["sed"].append(float(window.min()))
        ref["sed_event"].append(float(np.any(window < 2)))
        typical = endpoint_response(sed, drivers).values
        assert typical is not None
        ref["sed_typical"].append(float(typical.min()))
        ratio = drivers["ketamine"] / row["pd_arousal_c50_ng_per_ml"]
        ref["arousal"].append(float(ratio.max()))
        ref["arousal_event"].append(float(np.any(ratio > 1)))
    # the arousal C50 publishes no CV: every patient has the published 0.52 mg/L
    assert np.allclose(params["pd_arousal_c50_ng_per_ml"], 520.0)
    # and the sedation EC50 is log-normal around the published 0.56 mg/L (CV 136%)
    assert params["pd_sed_c50_ng_per_ml"].std() > 100
    rows = result.endpoints.set_index("endpoint")
    for name, event in (("sed", "sed_event"), ("arousal", "arousal_event")):
        assert rows.loc[name, "count"] == sum(ref[event])  # exact counts
        assert rows.loc[name, "probability"] == pytest.approx(np.mean(ref[event]), abs=1e-12)
        assert rows.loc[name, "mean"] == pytest.approx(np.mean(ref[name]), rel=1e-6)
        assert rows.loc[name, "min"] == pytest.approx(min(ref[name]), rel=1e-6)
        assert rows.loc[name, "max"] == pytest.approx(max(ref[name]), rel=1e-6)
    assert 0 < rows.loc["sed", "count"] < N  # the check can fail either way
    assert rows.loc["sed_typical", "mean"] == pytest.approx(np.mean(ref["sed_typical"]), rel=1e-6)
    assert rows.loc["sed", "unit"] == "score 0-5"
    assert rows.loc["arousal", "unit"] == "Ce/C50"
    assert rows.loc["sed", "output"] == "ketamine_pd_herd-2008"


def test_response_rate_counts_individuals_like_the_pd_layer_expectation() -> None:
    # Typical PK (variability ~0): the share of drawn patients who respond at 24 h must agree
    # with the pd layer's expectation over the same between-patient distribution (quadrature),
    # within sampling error; the baseline varies in the trial, which barely moves response.
    n = 4000
    spec = parse_trial_spec(
        {
            "n": n,
            "seed": 3,
            "chunk_size": 2000,
            "population": {"kind": "fixed", "weight_kg": 70.0},
            "outputs": {"until": "1h", "every": "10min"},
            "arms": [
                {
                    "name": "iv",
                    "model": "domino",
                    "regimen": "0.5 mg/kg over 40 min",
                    "assumed_iiv": {"k10": {"cv_percent": 1e-9, "source": "ASSUMED ~0"}},
                }
            ],
            "endpoints": [{"name": "resp", "kind": "response_rate", "at": "24h"}],
        }
    )
    result = run_trial(spec, scheduler="local:1")
    ref = simulate_antidepressant_course(
        resolve_model("domino"), Patient(70.0), parse_regimen("0.5 mg/kg over 40 min"), [24.0]
    )
    row = result.endpoints.iloc[0]
    p = float(ref.response_probability[0])
    assert row["probability"] == pytest.approx(p, abs=3.5 * np.sqrt(p * (1 - p) / n))
    assert row["count"] == round(row["probability"] * n) and row["denominator"] == n
    assert "EMPIRICAL" in row["note"]


def test_placebo_arm_remission_and_relapse_endpoints() -> None:
    regimen = "0.5 mg/kg over 40 min every 48h x 6"
    arms = [
        {
            "name": name,
            "model": "domino",
            "regimen": regimen,
            "placebo": name == "pbo",
            "assumed_iiv": {"k10": {"cv_percent": 30, "source": "ASSUMED for a test"}},
        }
        for name in ("ket", "pbo")
    ]
    spec = parse_trial_spec(
        {
            "n": 600,
            "seed": 11,
            "chunk_size": 300,
            "population": {"kind": "fixed", "weight_kg": 70.0},
            "outputs": {"until": "2h", "every": "10min"},
            "arms": arms,
            "endpoints": [
                {"name": "cmax", "kind": "cmax", "output": "ketamine_plasma"},
                {"name": "resp", "kind": "response_rate", "at": "11d"},
                {"name": "remit", "kind": "remission_rate", "at": "11d", "remission_cutoff": 12},
                {"name": "remit10", "kind": "remission_rate", "at": "11d"},
                {"name": "relapse", "kind": "relapse_rate", "at": "30d"},
            ],
        }
    )
    result = run_trial(spec, scheduler="local:1", individuals=5)
    rows = result.endpoints.set_index(["arm", "endpoint"])
    assert rows.loc[("pbo", "cmax"), "max"] == 0.0  # no drug in the placebo arm
    assert rows.loc[("ket", "cmax"), "mean"] > 100
    assert rows.loc[("ket", "resp"), "probability"] > rows.loc[("pbo", "resp"), "probability"]
    assert rows.loc[("ket", "remit"), "probability"] >= rows.loc[("ket", "remit10"), "probability"]
    # relapse: among responders at the end of the course (last session + 24 h = day 11)
    rel = rows.loc[("ket", "relapse")]
    assert rel["denominator"] == rows.loc[("ket", "resp"), "count"]
    assert 0 < rel["probability"] < 1 and rel["count"] <= rel["denominator"]
    params = result.individual_parameters
    assert params is not None and "antidepressant_eta_drug" in params.columns
    with pytest.raises(InputError, match="relapse_rate"):
        run_trial(
            parse_trial_spec(
                {
                    **spec.model_dump(by_alias=True),
                    "endpoints": [{"name": "r", "kind": "relapse_rate", "at": "5d"}],
                }
            ),
            scheduler="local:1",
        )


def test_peak_blood_pressure_rise_is_slope_times_cmax() -> None:
    # cardiovascular-iv-empirical: SBP change = 0.03079 mmHg per ng/mL x plasma ketamine
    spec = parse_trial_spec(
        {
            "n": 50,
            "seed": 9,
            "population": {"kind": "fixed", "weight_kg": 70.0},
            "outputs": {"until": "2h", "every": "1min"},
            "arms": [
                {
                    "name": "iv",
                    "model": "domino",
                    "regimen": "0.5 mg/kg over 40 min",
                    "assumed_iiv": {"k10": {"cv_percent": 30, "source": "ASSUMED for a test"}},
                }
            ],
            "endpoints": [
                {"name": "cmax", "kind": "cmax", "output": "ketamine_plasma"},
                {
                    "name": "sbp",
                    "kind": "pd_peak",
                    "pd_model": "cardiovascular-iv-empirical",
                    "pd_endpoint": "sbp_change",
                },
            ],
        }
    )
    rows = run_trial(spec, scheduler="local:1").endpoints.set_index("endpoint")
    assert rows.loc["sbp", "mean"] == pytest.approx(0.03079 * rows.loc["cmax", "mean"], rel=1e-9)
    assert rows.loc["sbp", "unit"] == "mmHg"
    assert rows.loc["sbp", "output"] == "ketamine_plasma"  # no ke0: plasma driven


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [
        (
            {"kind": "pd_event", "pd_model": "herd-2008", "pd_endpoint": "sedation_score"},
            "endpoints[0]",
        ),
        (
            {
                "kind": "pd_event",
                "pd_model": "herd-2008",
                "pd_endpoint": "sedation_score",
                "effect_above": 3,
            },
            "endpoints[0].effect_above",
        ),
        (
            {"kind": "pd_peak", "pd_model": "herd-2008", "pd_endpoint": "sleep"},
            "endpoints[0].pd_endpoint",
        ),
        (
            {"kind": "pd_peak", "pd_model": "nobody-2030", "pd_endpoint": "x"},
            "endpoints[0].pd_model",
        ),
        (
            {
                "kind": "pd_event",
                "pd_model": "herd-2008",
                "pd_endpoint": "arousal",
                "effect_above": 0.5,
            },
            "endpoints[0].effect_above",
        ),
        (
            {"kind": "pd_peak", "pd_model": "noppers-2012", "pd_endpoint": "pain_vas_change"},
            "endpoints[0].pd_endpoint",
        ),
        ({"kind": "response_rate"}, "endpoints[0]"),
        (
            {
                "kind": "pd_peak",
                "output": "ketamine_plasma",
                "pd_model": "herd-2008",
                "pd_endpoint": "sedation_score",
            },
            "endpoints[0]",
        ),
    ],
)
def test_bad_pd_endpoints_name_the_field(endpoint: dict[str, Any], field: str) -> None:
    spec = _herd_spec(endpoints=[{"name": "e", **endpoint}])
    with pytest.raises(InputError) as err:
        run_trial(parse_trial_spec(spec), scheduler="local:1")
    assert str(err.value).startswith(field + ":") or str(err.value).startswith(field + " ")
