"""Inter-occasion variability (Simons 2022): piecewise parameters per occasion against an
independent scipy ODE solution of the hand-written equations, and the distribution of the
sampled occasion effects."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketasim.catalogue import resolve_model
from ketasim.errors import InputError
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate
from ketasim.pk.occasions import Occasion, dose_day_starts, occasion_index
from ketasim.pk.variability import sample_occasion_etas

WT = 80.0
FILM_MG = (50.0, 100.0)  # one film on occasion 1, two on occasion 2 (the study's crossover)
OCC2_MIN = 600.0  # occasion 2 starts here (a new visit, shortened to keep the ODE short)
IV_AFTER_MIN = 360.0  # 20 mg IV over 20 min, 6 h after each film
ETAS = {"VK1_70": 0.2, "CLK1_70": -0.15, "MTT_K_NK": 0.1, "CLH1_70": 0.3, "VH1_70": -0.4}
KAPPAS = (
    {
        "F1": 0.3,
        "D1": -0.4,
        "KA1": 0.25,
        "F2": -0.2,
        "D2": 0.6,
        "KA2": -0.5,
        "MTTG": 0.7,
        "MTT_K_NK": -0.6,
        "VH2_70": 0.3,
        "CLH1_70": -0.1,
    },
    {
        "F1": -0.25,
        "D1": 0.5,
        "KA1": -0.3,
        "F2": 0.15,
        "D2": -0.7,
        "KA2": 0.4,
        "MTTG": -0.8,
        "MTT_K_NK": 0.9,
        "VH2_70": -0.35,
        "CLH1_70": 0.12,
    },
)
MW_K, MW_NK, MW_HNK = 237.73, 223.70, 239.70


def _params(occ: int) -> dict[str, float]:
    """Simons 2022 Table 4 values (as in the model file's sources), written out by hand."""
    k, e = KAPPAS[occ], ETAS
    sv, sc = WT / 70.0, (WT / 70.0) ** 0.75
    return {
        "F1": 0.263 * np.exp(k["F1"]),
        "D1": 13.1 * np.exp(k["D1"]),
        "KA1": 0.04 * np.exp(k["KA1"]),
        "F2": 1.16 * np.exp(k["F2"]),
        "D2": 29.9 * np.exp(k["D2"]),
        "KA2": 0.049 * np.exp(k["KA2"]),
        "MTTG": 10.7 * np.exp(k["MTTG"]),
        "VK1": 11.6 * np.exp(e["VK1_70"]) * sv,
        "VK2": 39.0 * sv,
        "VK3": 174.0 * sv,
        "CLK1": 1.48 * np.exp(e["CLK1_70"]) * sc,
        "CLK2": 2.43 * sc,
        "CLK3": 1.21 * sc,
        "MTTK": 20.1 * np.exp(e["MTT_K_NK"] + k["MTT_K_NK"]),
        "VN2": 221.0 * sv,
        "CLN1": 1.00 * sc,
        "CLN2": 2.63 * sc,
        "MTTN": 1.12,
        "VH1": 4.4 * np.exp(e["VH1_70"]) * sv,
        "VH2": 87.5 * np.exp(k["VH2_70"]) * sv,
        "CLH1": 0.933 * np.exp(e["CLH1_70"] + k["CLH1_70"]) * sc,
        "CLH2": 1.70 * sc,
    }


def _rhs(t: float, a: np.ndarray, p: dict[str, float], u: np.ndarray) -> np.ndarray:
    (film, gut, liver, k1, k2, k3, ck1, ck2, n1, n2, cn1, cn2, h1, h2) = a
    ktk, ktn = 2.0 / p["MTTK"], 2.0 / p["MTTN"]
    c_k, c_n, c_h = k1 / p["VK1"], n1 / p["VK1"], h1 / p["VH1"]
    d = np.array(
        [
            -p["KA1"] * film,
            -p["KA2"] * gut,
            p["KA2"] * gut - liver / p["MTTG"],
            p["KA1"] * film
            - (p["CLK1"] + p["CLK2"] + p["CLK3"]) * c_k
            + p["CLK2"] * k2 / p["VK2"]
            + p["CLK3"] * k3 / p["VK3"],
            p["CLK2"] * (c_k - k2 / p["VK2"]),
            p["CLK3"] * (c_k - k3 / p["VK3"]),
            p["CLK1"] * c_k + liver / p["MTTG"] - ktk * ck1,
            ktk * (ck1 - ck2),
            0.8 * ktk * ck2 * MW_NK / MW_K
            - (p["CLN1"] + p["CLN2"]) * c_n
            + p["CLN2"] * n2 / p["VN2"],
            p["CLN2"] * (c_n - n2 / p["VN2"]),
            p["CLN1"] * c_n - ktn * cn1,  # the NK chain holds S-norketamine (no conversion)
            ktn * (cn1 - cn2),
            0.7 * ktn * cn2 * MW_HNK / MW_NK
            - (p["CLH1"] + p["CLH2"]) * c_h
            + p["CLH2"] * h2 / p["VH2"],
            p["CLH2"] * (c_h - h2 / p["VH2"]),
        ]
    )
    return d + u


def _reference(times: np.ndarray) -> np.ndarray:
    """(S-ketamine, S-norketamine, S-HNK) plasma (ng/mL), integrated between every input
    change by Radau at tight tolerances."""
    p = [_params(0), _params(1)]
    starts = (0.0, OCC2_MIN)
    inputs = []  # (start, end, state, rate mg/min, occasion)
    for o, (t0, dose) in enumerate(zip(starts, FILM_MG, strict=True)):
        q = p[o]
        inputs.append((t0, t0 + q["D1"], 0, q["F1"] * dose / q["D1"]))
        inputs.append((t0, t0 + q["D2"], 1, q["F2"] * dose / q["D2"]))
        inputs.append((t0 + IV_AFTER_MIN, t0 + IV_AFTER_MIN + 20.0, 3, 1.0))
    breaks = sorted({0.0, OCC2_MIN, float(times[-1]), *(x for i in inputs for x in i[:2])})
    a = np.zeros(14)
    out = np.zeros((times.size, 3))
    for lo, hi in itertools.pairwise(breaks):
        q = p[1 if lo >= OCC2_MIN else 0]
        u = np.zeros(14)
        for s, e, state, rate in inputs:
            if s <= lo < e:
                u[state] += rate
        sol = solve_ivp(
            _rhs,
            (lo, hi),
            a,
            method="Radau",
            rtol=1e-11,
            atol=1e-13,
            args=(q, u),
            dense_output=True,
        )
        assert sol.success
        sel = (times >= lo) & (times < hi) if hi < breaks[-1] else (times >= lo)
        y = sol.sol(times[sel])
        out[sel] = np.column_stack([y[3] / q["VK1"], y[8] / q["VK1"], y[12] / q["VH1"]]) * 1000
        a = sol.y[:, -1]
    return out


def test_iov_matches_independent_ode() -> None:
    model = resolve_model("simons-2022")
    doses = []
    for t0, dose in zip((0.0, OCC2_MIN), FILM_MG, strict=True):
        doses.append(Dose(dose, "mg", t0, "sublingual"))
        doses.append(Dose(20.0, "mg", t0 + IV_AFTER_MIN, "iv", duration_min=20.0))
    occasions = [Occasion(0.0, KAPPAS[0]), Occasion(OCC2_MIN, KAPPAS[1])]
    times = np.linspace(0.0, 1100.0, 221)
    res = simulate(
        model,
        Patient(WT, 24.0),
        Regimen(tuple(doses)),
        times_min=times,
        etas=ETAS,
        occasions=occasions,
    )
    ref = _reference(times)
    got = np.column_stack(
        [
            res.concentrations_ng_per_ml[n]
            for n in ("ketamine_plasma", "norketamine_plasma", "hydroxynorketamine_plasma")
        ]
    )
    scale = np.max(np.abs(ref), axis=0)
    assert np.max(np.abs(got - ref) / scale) < 1e-6
    # the occasions matter: one occasion for both visits gives a different curve
    single = simulate(
        model,
        Patient(WT, 24.0),
        Regimen(tuple(doses)),
        times_min=times,
        etas=ETAS,
        occasions=[Occasion(0.0, KAPPAS[0])],
    )
    late = times > OCC2_MIN + 30
    assert (
        np.max(
            np.abs(single.concentrations_ng_per_ml["ketamine_plasma"][late] - got[late, 0])
            / scale[0]
        )
        > 0.05
    )


def test_zero_kappas_equal_plain_simulation() -> None:
    model = resolve_model("simons-2022")
    regimen = Regimen((Dose(50.0, "mg", 0.0, "sublingual"), Dose(50.0, "mg", 1500.0, "buccal")))
    times = np.linspace(0.0, 3000.0, 301)
    plain = simulate(model, Patient(70.0, 30.0), regimen, times_min=times)
    occ = simulate(
        model,
        Patient(70.0, 30.0),
        regimen,
        times_min=times,
        occasions=[Occasion(0.0), Occasion(1500.0)],
    )
    for name, values in plain.concentrations_ng_per_ml.items():
        np.testing.assert_allclose(
            occ.concentrations_ng_per_ml[name], values, rtol=1e-9, atol=1e-12
        )


def test_occasion_effects_have_the_stated_variance() -> None:
    model = resolve_model("simons-2022")
    n, m = 40_000, 3
    kappas = sample_occasion_etas(model, n, m, rng=20261204)
    assert set(kappas) == set(model.iov)
    for name, k in kappas.items():
        assert k.shape == (n, m)
        var = model.iov[name].variance()
        se = var * np.sqrt(2.0 / (n - 1))  # SE of a normal sample variance
        for j in range(m):
            assert abs(k[:, j].var(ddof=1) - var) < 5 * se, (name, j)
            assert abs(k[:, j].mean()) < 5 * np.sqrt(var / n)
        r = np.corrcoef(k[:, 0], k[:, 1])[0, 1]  # occasions independent
        assert abs(r) < 5 / np.sqrt(n)
    a, b = kappas["F1"][:, 0], kappas["D2"][:, 0]  # parameters independent
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(n)


def test_dose_days_and_occasion_index() -> None:
    assert dose_day_starts([0.0, 30.0, 1500.0, 1440.0 * 3 + 5]) == [0.0, 1500.0, 4325.0]
    assert dose_day_starts([]) == []
    idx = occasion_index([0.0, 1500.0], np.array([-5.0, 0.0, 1499.0, 1500.0, 9e9]))
    assert idx.tolist() == [0, 0, 0, 1, 1]


def test_bad_occasions_name_the_field() -> None:
    model = resolve_model("simons-2022")
    regimen = Regimen((Dose(50.0, "mg", 0.0, "sublingual"),))
    with pytest.raises(InputError, match="occasions"):
        simulate(
            model,
            Patient(70.0, 30.0),
            regimen,
            times_min=[0.0, 10.0],
            occasions=[Occasion(10.0), Occasion(0.0)],
        )
    with pytest.raises(InputError, match="kappas"):
        simulate(
            model,
            Patient(70.0, 30.0),
            regimen,
            times_min=[0.0, 10.0],
            occasions=[Occasion(0.0, {"VK1_70": 0.1})],
        )  # IIV only, no IOV entry
