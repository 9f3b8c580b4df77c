"""Published quantities recomputed from the catalogue's model files.

Every expected number below is printed in a paper, its abstract, or the secondary source the model
file names (opentiva, nlmixr2lib citing a table); the comment or test id says which. Nothing here
is a number copied from ketasim's own output.

Tolerances:

- ``EXACT`` (1e-9 relative): a parameter read back from the file after unit conversion.
- ``IDENTITY`` (1%): arithmetic identities between printed values (e.g. CL = V1 * k10), where the
  only error is the rounding of the printed inputs to 3-4 significant figures.
- ``ROUNDED`` (5%): a quantity the abstract prints to 2 significant figures, or that a paper
  reports from a fit of a slightly different structure (e.g. the hepatic CL of Perez-Ruixo).

Rate matrices come from :func:`ketasim.pk.system.build_system` (internal units: mg, L, min). Areas
under curves use the exact identity AUC = -K^-1 (amount-minutes per mg of input), so
bioavailabilities and mass balances are checked without any ODE solver. Concentration-time checks
use the simulation front door :func:`ketasim.pk.simulate.simulate`, and the Simons peak is also
recomputed independently with a matrix exponential.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from ketasim.catalogue import load_model
from ketasim.patient import Patient
from ketasim.pk.system import LinearSystem, build_system

EXACT = 1e-9
IDENTITY = 0.01
ROUNDED = 0.05

L_PER_H = 1.0 / 60.0  # one L/h in internal L/min


def _system(
    model_id: str, weight_kg: float = 70.0, age_years: float = 40.0, **extra: float
) -> LinearSystem:
    return build_system(
        load_model(model_id), Patient(weight_kg=weight_kg, age_years=age_years, extra=extra)
    )


def _half_lives_min(K: np.ndarray) -> np.ndarray:
    """Disposition half-lives (min) from the eigenvalues of a rate matrix, ascending."""
    rates = -np.linalg.eigvals(K).real
    return np.sort(math.log(2) / rates)


def _amount_auc(system: LinearSystem, state: str, input_state: str) -> float:
    """AUC (mg.min) of the amount in ``state`` after 1 mg placed in ``input_state``."""
    inv = np.linalg.inv(system.K)
    return float(-inv[system.state_index(state), system.state_index(input_state)])


def _route_availability(
    system: LinearSystem, route: str, dose_mg: float, observed: str = "central"
) -> float:
    """Absolute bioavailability of ``route`` (AUC ratio to an IV dose), from K alone."""
    values = {**system.parameters, "DOSE_MG": dose_mg}
    auc = sum(
        float(inp.fraction.evaluate(values)) * _amount_auc(system, observed, inp.compartment)
        for inp in system.routes[route]
    )
    return auc / _amount_auc(system, observed, observed)


# --- racemic ketamine, IV ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("V1", 1.7522 * 70, id="V1=1.7522 L/kg"),
        pytest.param("k10", 0.0109, id="k10"),
        pytest.param("k12", 0.0186, id="k12"),
        pytest.param("k21", 0.0137, id="k21"),
    ],
)
def test_clements_1981_matches_opentiva(name: str, expected: float) -> None:
    # opentiva ketamine.py Clements250 (citing PMID 7459184); 70 kg
    assert _system("clements-1981").parameters[name] == pytest.approx(expected, rel=EXACT)


def test_hijazi_2003_clearance_matches_abstract() -> None:
    # Hijazi 2003 abstract: total CL 36.0 (SD 13.3) mL/min/kg; CL = V1 * k10 from opentiva constants
    p = _system("hijazi-2003").parameters
    cl_ml_min_kg = p["V1"] * p["k10"] * 1000 / 70
    assert cl_ml_min_kg == pytest.approx(36.0, rel=IDENTITY)


def test_hijazi_2003_terminal_half_life_matches_abstract() -> None:
    # Hijazi 2003 abstract: elimination half-life 4.9 (SD 1.6) h, printed to 2 significant
    # figures; the fastest eigenvalue is the effect site (opentiva ke0 4.773 /min)
    halves = _half_lives_min(_system("hijazi-2003").K)
    assert halves[-1] / 60 == pytest.approx(4.9, rel=ROUNDED)
    assert halves[0] == pytest.approx(math.log(2) / 4.773, rel=EXACT)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("V1", 38.7, id="V1 38.7 L/70kg"),
        pytest.param("V2", 102.0, id="V2 102 L/70kg"),
        pytest.param("CL", 90 * L_PER_H, id="CL 90 L/h/70kg"),
        pytest.param("Q", 215 * L_PER_H, id="Q 215 L/h/70kg"),
    ],
)
def test_herd_2007_typical_values_at_70_kg(name: str, expected: float) -> None:
    # Herd & Anderson 2007 abstract (PMID 17564643)
    assert _system("herd-2007").parameters[name] == pytest.approx(expected, rel=EXACT)


def test_herd_2007_allometry_matches_opentiva() -> None:
    # opentiva ketamine.py Herd: v1 = 38.7 * (w/70); cl1 = 90/60 * (w/70)**0.75, at 35 kg
    p = _system("herd-2007", weight_kg=35, age_years=8).parameters
    assert p["V1"] == pytest.approx(38.7 * 0.5, rel=EXACT)
    assert p["CL"] == pytest.approx(90 / 60 * 0.5**0.75, rel=EXACT)


def test_herd_2007_rate_matrix_is_the_two_compartment_model() -> None:
    # k10 = CL/V1, k12 = Q/V1, k21 = Q/V2 with the abstract's values (70 kg)
    s = _system("herd-2007")
    c, p = s.state_index("central"), s.state_index("peripheral")
    v1, v2, cl, q = 38.7, 102.0, 90 / 60, 215 / 60
    assert s.K[c, c] == pytest.approx(-(cl + q) / v1, rel=EXACT)
    assert s.K[p, c] == pytest.approx(q / v1, rel=EXACT)
    assert s.K[c, p] == pytest.approx(q / v2, rel=EXACT)


def test_herd_2007_effect_site_from_herd_2008() -> None:
    # Herd 2008 (Paediatr Anaesth 18:36) t1/2keo 11 s -> ke0 = ln2 / (11/60) /min = 3.78 /min
    s = _system("herd-2007")
    e = s.state_index("effect_ketamine")
    assert -s.K[e, e] == pytest.approx(math.log(2) / (11 / 60), rel=EXACT)
    assert -s.K[e, e] == pytest.approx(3.78, rel=IDENTITY)


@pytest.mark.parametrize(
    ("model_id", "v1", "v2", "cl_l_h", "q_l_h"),
    [
        # Hornik 2018 via opentiva ketamine.py Hornik (exponents 1 and 0.75 per the abstract)
        pytest.param("hornik-2018", 32.8, 152.0, 38.9, 54.9, id="hornik-2018"),
        # Elkomy 2015 abstract
        pytest.param("elkomy-2015", 57.3, 152.0, 60.6, 73.2, id="elkomy-2015"),
        # Sherwin 2015 abstract (per 70 kg)
        pytest.param("sherwin-2015", 20.5, 220.0, 87.9, 87.3, id="sherwin-2015"),
    ],
)
def test_paediatric_typical_values_at_70_kg(
    model_id: str, v1: float, v2: float, cl_l_h: float, q_l_h: float
) -> None:
    p = _system(model_id).parameters
    assert p["V1"] == pytest.approx(v1, rel=EXACT)
    assert p["V2"] == pytest.approx(v2, rel=EXACT)
    assert p["CL"] == pytest.approx(cl_l_h * L_PER_H, rel=EXACT)
    assert p["Q"] == pytest.approx(q_l_h * L_PER_H, rel=EXACT)


@pytest.mark.parametrize("model_id", ["hornik-2018", "elkomy-2015"])
def test_paediatric_allometry_stated_in_abstract(model_id: str) -> None:
    # Hornik 2018 and Elkomy 2015 abstracts: exponent 1 on volumes and 0.75 on clearances
    at70 = _system(model_id).parameters
    at14 = _system(model_id, weight_kg=14, age_years=3).parameters
    assert at14["V1"] / at70["V1"] == pytest.approx(0.2, rel=EXACT)
    assert at14["CL"] / at70["CL"] == pytest.approx(0.2**0.75, rel=EXACT)
    assert at14["Q"] / at70["Q"] == pytest.approx(0.2**0.75, rel=EXACT)


def test_brunette_composite_oral_bioavailability() -> None:
    # Brunette 2011 abstract: oral F 0.45; AUC(oral)/AUC(IV) computed from K must equal it
    s = _system("brunette-2011-herd-2007-composite", weight_kg=15, age_years=4)
    assert _route_availability(s, "oral", 100.0) == pytest.approx(0.45, rel=IDENTITY)


def test_brunette_composite_absorption_half_time() -> None:
    # Brunette 2011 abstract: absorption half-time 59 min -> ka = ln2/59 = 0.0117 /min
    s = _system("brunette-2011-herd-2007-composite", weight_kg=15, age_years=4)
    gut = s.state_index("gut")
    assert math.log(2) / -s.K[gut, gut] == pytest.approx(59.0, rel=EXACT)


def test_brunette_composite_uses_herd_disposition() -> None:
    # composite: disposition must be exactly Herd 2007 at any weight
    a = _system("brunette-2011-herd-2007-composite", weight_kg=20, age_years=5).parameters
    b = _system("herd-2007", weight_kg=20, age_years=5).parameters
    for name in ("V1", "V2", "CL", "Q"):
        assert a[name] == pytest.approx(b[name], rel=EXACT)


# --- S-ketamine with metabolites -----------------------------------------------------------------


def test_otto_2021_s_ketamine_clearance() -> None:
    # Otto 2021 Table 3 (Fanta 2015, fixed) CL 95.2 L/h at 70 kg; Fanta abstract "95 L/h/70 kg"
    p = _system("otto-2021").parameters
    assert p["CL"] == pytest.approx(95.2 * L_PER_H, rel=EXACT)
    assert p["CL"] / L_PER_H == pytest.approx(95.0, rel=IDENTITY)


def test_otto_2021_terminal_half_life() -> None:
    # S-ketamine terminal half-life from Fanta's disposition: about 7.4 h (nlmixr2lib PKNCA
    # 7.33 h, ketasim reference M2.4 7.37 h); S-NK's own phases (0.60, 5.10 h) are faster
    t_half_h = _half_lives_min(_system("otto-2021").K)[-1] / 60
    assert t_half_h == pytest.approx(7.4, rel=IDENTITY)


def test_otto_2021_fm_one_mass_balance() -> None:
    # Otto 2021 Methods: all S-ketamine clearance forms S-norketamine (fm = 1, no MW conversion):
    # CL_nk x AUC_nk(conc) = IV dose
    s = _system("otto-2021")
    p = s.parameters
    auc_conc = _amount_auc(s, "norketamine_central", "central") / p["V_nk"]
    assert p["CL_nk"] * auc_conc == pytest.approx(1.0, rel=1e-9)


def test_otto_2021_s_ketamine_vss() -> None:
    # Otto 2021 Table 3: V1 133 + Vp1 187 + Vp2 98.8 = 418.8 L (reference M1.5 "Fanta 419 L")
    p = _system("otto-2021").parameters
    assert p["V1"] + p["Vp1"] + p["Vp2"] == pytest.approx(418.8, rel=EXACT)


def test_simons_2022_fraction_to_hydroxynorketamine() -> None:
    # Simons 2022 abstract: 56% of S-ketamine ends as S-HNK (fm1 x fm2 = 0.8 x 0.7).
    # Recomputed from K: moles of S-HNK eliminated per mole of IV S-ketamine.
    s = _system("simons-2022", age_years=25)
    p = s.parameters
    hnk_mg = p["CLH1"] * _amount_auc(s, "hnk_central", "central") / p["VH1"]
    moles_ratio = hnk_mg / 239.70 * 237.73
    assert moles_ratio == pytest.approx(0.56, rel=IDENTITY)
    assert p["fm1"] * p["fm2"] == pytest.approx(0.56, rel=EXACT)


def test_simons_2022_film_mucosal_bioavailability() -> None:
    # Simons 2022 abstract: film bioavailability 26 +/- 1% (Table 4 F1 26.3%); the swallowed
    # pathway feeds metabolism only, so systemic S-ketamine AUC(film)/AUC(IV) = F1
    s = _system("simons-2022", age_years=25)
    assert _route_availability(s, "sublingual", 50.0) == pytest.approx(0.263, rel=1e-6)
    assert _route_availability(s, "sublingual", 50.0) == pytest.approx(0.26, rel=ROUNDED)


def _simons_iv_peak_by_expm(s: LinearSystem, dose_mg: float, duration_min: float) -> float:
    """Peak S-ketamine (ng/mL) of a zero-order IV infusion, by matrix exponential (no solver)."""
    n = s.n_states
    rate = dose_mg / duration_min
    aug = np.zeros((n + 1, n + 1))
    aug[:n, :n] = s.K
    aug[s.state_index("central"), n] = rate
    row = next(o.row for o in s.outputs if o.name == "ketamine_plasma")
    times = np.linspace(0.0, duration_min + 20.0, 401)
    conc = []
    at_end = scipy.linalg.expm(aug * duration_min)[:n, n]
    for t in times:
        if t <= duration_min:
            x = scipy.linalg.expm(aug * t)[:n, n]
        else:
            x = scipy.linalg.expm(s.K * (t - duration_min)) @ at_end
        conc.append(float(row @ x) * 1000.0)
    return max(conc)


def test_simons_2022_iv_peak_against_observed() -> None:
    # Simons thesis p. 21: observed mean IV peaks 273 (95% CI 259-287) and 260 (251-269) ng/mL
    # after 20 mg over 20 min; the model peak (268 ng/mL, ketasim reference M1.5) must lie in
    # the span of both confidence intervals, 251-287 ng/mL.
    s = _system("simons-2022", age_years=25)
    peak = _simons_iv_peak_by_expm(s, 20.0, 20.0)
    assert 251.0 <= peak <= 287.0
    assert peak == pytest.approx(268.0, rel=IDENTITY)


def test_simons_2022_iv_peak_via_simulate() -> None:
    # same published anchor through the simulation front door
    from ketasim.pk.simulate import simulate
    from ketasim.regimens import Dose, Regimen

    model = load_model("simons-2022")
    res = simulate(
        model,
        Patient(weight_kg=70, age_years=25),
        Regimen.of(Dose(20, "mg", 0.0, "iv", 20.0)),
        times_min=np.linspace(0.0, 120.0, 601),
    )
    peak = float(np.max(res.concentrations_ng_per_ml["ketamine_plasma"]))
    assert 251.0 <= peak <= 287.0
    assert peak == pytest.approx(268.0, rel=IDENTITY)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("CL", 112 * L_PER_H, id="CL 112 L/h/70kg"),
        pytest.param("V1", 7.73, id="V1 7.73 L/70kg"),
        pytest.param("Q", 196 * L_PER_H, id="Q 196 L/h/70kg"),
        pytest.param("V2", 545.0, id="V2 545 L/70kg"),
        pytest.param("CL_nk", 53.2 * L_PER_H, id="CLsnk/fm 53.2 L/h/70kg"),
        pytest.param("V_nk", 1.0, id="Vsnk/fm 1 L fixed"),
    ],
)
def test_flint_2017_typical_values(name: str, expected: float) -> None:
    # Flint 2017 Table 3 via nlmixr2lib Flint_2017_s_ketamine.R
    assert _system("flint-2017", age_years=1).parameters[name] == pytest.approx(expected, rel=EXACT)


def test_flint_2017_allometry_at_median_weight() -> None:
    # Flint 2017 Methods 2.4: (WT/70)^0.75 on clearances, ^1 on volumes; median weight 7.0 kg
    p = _system("flint-2017", weight_kg=7.0, age_years=0.42).parameters
    assert p["CL"] == pytest.approx(112 * L_PER_H * 0.1**0.75, rel=EXACT)
    assert p["V2"] == pytest.approx(545 * 0.1, rel=EXACT)


# --- esketamine nasal spray ----------------------------------------------------------------------


def test_perez_ruixo_2021_esketamine_vss() -> None:
    # Perez-Ruixo 2021 abstract: esketamine Vss 752 L = Vc 192 + Vp1 143 + Vp2 417 (Table 3)
    p = _system("perez-ruixo-2021").parameters
    assert p["Vc"] + p["Vp1"] + p["Vp2"] == pytest.approx(752.0, rel=EXACT)


def test_perez_ruixo_2021_hepatic_clearance() -> None:
    # Perez-Ruixo 2021 abstract: CL 114 L/h. Well-stirred: CL = Qh * E, E = CLint/(Qh + CLint),
    # CLint = Vh (kel + kmet) -> 109 L/h from Table 3 (4% below the abstract: ROUNDED).
    s = _system("perez-ruixo-2021")
    p = s.parameters
    cl_int = p["Vh"] * (p["kel_i"] + p["kmet"])
    cl = p["Qh"] * cl_int / (p["Qh"] + cl_int)
    assert cl / L_PER_H == pytest.approx(109.3, rel=IDENTITY)
    assert cl / L_PER_H == pytest.approx(114.0, rel=ROUNDED)
    # the same clearance must come out of the rate matrix: CL = Vc / AUC_amount(central)
    assert p["Vc"] / _amount_auc(s, "central", "central") == pytest.approx(cl, rel=1e-9)


def test_perez_ruixo_2021_swallowed_availability() -> None:
    # Perez-Ruixo 2021 abstract: 18.6% of the swallowed part reaches the systemic circulation;
    # Table 3 gives Fgut (1 - E) = 0.178 (oral route AUC ratio from K)
    s = _system("perez-ruixo-2021")
    assert _route_availability(s, "oral", 84.0) == pytest.approx(0.186, rel=ROUNDED)


@pytest.mark.parametrize(
    ("dose_mg", "expected"),
    [
        pytest.param(56.0, 0.54, id="56 mg: F 54% (abstract)"),
        pytest.param(84.0, 0.51, id="84 mg: F 51% (abstract)"),
    ],
)
def test_perez_ruixo_2021_nasal_bioavailability(dose_mg: float, expected: float) -> None:
    # Perez-Ruixo 2021 abstract: absolute F of intranasal 56 and 84 mg; printed to 2 digits
    s = _system("perez-ruixo-2021")
    assert _route_availability(s, "intranasal", dose_mg) == pytest.approx(expected, rel=IDENTITY)


def test_perez_ruixo_2021_noresketamine_vss() -> None:
    # Perez-Ruixo 2021 abstract: noresketamine Vss 185 L = Vcn/F 70 + Vpn/F 115 (Table 3)
    p = _system("perez-ruixo-2021").parameters
    assert p["Vcn"] + p["Vpn"] == pytest.approx(185.0, rel=EXACT)
    assert p["CLn_i"] / L_PER_H == pytest.approx(38.0, rel=EXACT)  # abstract CL/F 38 L/h


def test_perez_ruixo_2021_age_effect_on_hepatic_flow() -> None:
    # Table 3: Qh 151 L/h, minus 2.19 L/h per year above 60 y
    assert _system("perez-ruixo-2021", age_years=45).parameters["Qh"] == pytest.approx(
        151 * L_PER_H, rel=EXACT
    )
    assert _system("perez-ruixo-2021", age_years=70).parameters["Qh"] == pytest.approx(
        (151 - 2.19 * 10) * L_PER_H, rel=EXACT
    )


def test_perez_ruixo_2021_asian_covariates() -> None:
    # Table 3: Asian on kel x0.36, on CLn/F x0.81; Japanese on FRn x1.34
    p = _system("perez-ruixo-2021", ASIAN=1, JAPANESE=1).parameters
    assert p["kel_i"] == pytest.approx(1.11 / 60 * 0.36, rel=EXACT)
    assert p["CLn_i"] == pytest.approx(38.0 / 60 * 0.81, rel=EXACT)
    assert p["FRn_i"] == pytest.approx(0.54 * 1.34, rel=EXACT)


# Perez-Ruixo 2021 Table 4 (typical Caucasian < 60 y, intranasal), as transcribed verbatim in the
# nlmixr2lib vignette PerezRuixo_2020_esketamine.Rmd: Cmax ng/mL, AUC0-24 ng.h/mL.
_TABLE4 = [
    # dose, esketamine Cmax, esketamine AUC0-24, noresketamine Cmax, noresketamine AUC0-24
    (28.0, 43.8, 147.3, 59.1, 274.4),
    (56.0, 72.5, 254.7, 119.7, 516.3),
    (84.0, 101.0, 362.2, 180.0, 758.0),
]


def _perez_ruixo_intranasal(dose_mg: float) -> dict[str, np.ndarray]:
    from ketasim.pk.simulate import simulate
    from ketasim.regimens import Dose, Regimen

    res = simulate(
        load_model("perez-ruixo-2021"),
        Patient(weight_kg=70, age_years=45),
        Regimen.of(Dose(dose_mg, "mg", 0.0, "intranasal")),
        times_min=np.linspace(0.0, 24 * 60.0, 24 * 60 * 2 + 1),
    )
    return {"t": res.times_min, **res.concentrations_ng_per_ml}


@pytest.mark.parametrize(
    ("dose", "e_cmax", "e_auc", "n_cmax", "n_auc"), _TABLE4, ids=[f"{d:g} mg" for d, *_ in _TABLE4]
)
def test_perez_ruixo_2021_table4_exposure(
    dose: float, e_cmax: float, e_auc: float, n_cmax: float, n_auc: float
) -> None:
    # esketamine Cmax and AUC0-24 and noresketamine Cmax reproduce Table 4 (5%: the paper's
    # values are medians of model simulations; nlmixr2lib reports agreement within 4% and 2%)
    r = _perez_ruixo_intranasal(dose)
    t_h = r["t"] / 60.0
    assert float(np.max(r["esketamine_plasma"])) == pytest.approx(e_cmax, rel=ROUNDED)
    assert float(np.trapezoid(r["esketamine_plasma"], t_h)) == pytest.approx(e_auc, rel=ROUNDED)
    assert float(np.max(r["noresketamine_plasma"])) == pytest.approx(n_cmax, rel=ROUNDED)
    # KNOWN ISSUE (model notes; nlmixr2lib errata): the literal Table 3 over-predicts the
    # noresketamine AUC0-24 by about 1.38-1.56x. Guard that the over-prediction stays in that band.
    ratio = float(np.trapezoid(r["noresketamine_plasma"], t_h)) / n_auc
    assert 1.38 <= ratio <= 1.56
