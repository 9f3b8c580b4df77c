"""``ketasim validate``: published observations vs models, with independence marked (issue 10)."""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketasim.catalogue import resolve_model
from ketasim.cli import app
from ketasim.validation.observations import load_cases
from ketasim.validation.predict import applicability, predict
from ketasim.validation.runner import likely_cause, run_validation

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
CASES = {c.id: c for c in load_cases()}


def test_validation_page_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "validation_page", ROOT / "scripts/validation_page.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs/validation.md").read_text(encoding="utf-8")
    assert page == module.render(), "run: .venv/bin/python scripts/validation_page.py"


def test_cli_writes_the_csv_contract_and_an_html_page(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with (tmp_path / "validation.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "case",
        "model",
        "quantity",
        "predicted",
        "observed",
        "ratio",
        "independent",
    ]
    for r in rows:
        assert float(r["ratio"]) == pytest.approx(
            float(r["predicted"]) / float(r["observed"]), rel=2e-3
        )
    page = (tmp_path / "validation.html").read_text(encoding="utf-8")
    assert "within 0.67-1.5x" in page and "likely cause" in page
    assert "Not compared" in page and "sampling site differs" in page
    assert "pairs not compared" in result.output


def test_one_model_only() -> None:
    result = runner.invoke(app, ["validate", "--model", "kamp"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and {r["model"] for r in rows} == {"kamp-2020-meta"}
    assert runner.invoke(app, ["validate", "--model", "nope"]).exit_code == 2


def test_predictions_against_hand_arithmetic() -> None:
    kamp = resolve_model("kamp-2020-meta")
    # steady state of a one-compartment model = rate / CL: 41 ug/kg/min x 70 kg / (79 L/h)
    css = predict(CASES["idvall-1979-infusion-css"], kamp)
    assert css == pytest.approx(41e-3 * 70 / (79 / 60) * 1000, rel=1e-9)
    assert predict(CASES["kamp-2020-meta-volume"], kamp) == pytest.approx(252, rel=1e-9)
    # AUC of 10 mg = dose / CL = 10 / 79 mg*h/L
    assert predict(CASES["phar2022-iv-10mg-auc"], kamp) == pytest.approx(10 / 79 * 1000, rel=1e-9)
    composite = resolve_model("racemic-enantiomers")
    s_cl = predict(CASES["hasan-2021-racemic-s-clearance"], composite)
    r_cl = predict(CASES["hasan-2021-racemic-r-clearance"], composite)
    assert s_cl == pytest.approx(95.2, rel=1e-9)  # Fanta S-ketamine CL at 70 kg
    assert r_cl / s_cl == pytest.approx(1530 / 1620, rel=1e-3)
    # the Simons model's arterial Vss is VK1 + VK2 + VK3 at 70 kg
    simons = resolve_model("simons")
    case = CASES["persson-2002-s-clearance"]
    assert applicability(case, simons) is None
    assert predict(CASES["fanta-2015-s-clearance"], simons) == pytest.approx(1.48 * 60, rel=1e-6)


def test_observations_from_a_models_own_paper_are_not_independent() -> None:
    report = run_validation()
    for r in report.comparisons:
        assert r.independent == (r.model.id not in r.case.not_independent_for)
    own = [r for r in report.comparisons if r.case.id == "kamp-2020-meta-clearance"]
    assert {r.model.id: r.independent for r in own}["kamp-2020-meta"] is False
    assert {r.model.id: r.independent for r in own}["domino-1982"] is True


def test_models_run_only_inside_their_evidence() -> None:
    child_case = CASES["herd-2007-children-clearance"]
    assert applicability(child_case, resolve_model("kamp-2020-meta")) is not None
    assert (
        applicability(CASES["chong-2006-oral-25mg-cmax"], resolve_model("domino"))
        == "route not in the model"
    )
    assert applicability(CASES["fanta-2015-s-clearance"], resolve_model("kamp")) == "another drug"


def test_every_miss_has_a_likely_cause() -> None:
    report = run_validation()
    misses = report.misses()
    assert misses, "an honest validation has misses"
    for r in misses:
        assert not r.within((0.8, 1.25))
        assert len(likely_cause(r)) > 20
    # a peak with no stated sampling site on one side says so in its cause
    nasal = [r for r in misses if r.case.id == "phar2022-nasal-30mg-cmax"]
    assert nasal and "sampling site not stated" in likely_cause(nasal[0])


def test_every_case_is_sourced() -> None:
    import re

    for c in load_cases():
        assert c.citation and c.read and c.spread
        # a DOI or PMID, else a journal citation with its year (Pain Med 2006) or full title
        assert (
            c.doi or c.pmid or re.search(r"\b(19|20)\d\d\b", c.citation) or len(c.citation) > 100
        ), c.id


# ------------------------------------------------------------------ like with like (issue 10)
def test_an_arterial_peak_is_not_compared_with_a_venous_model() -> None:
    report = run_validation()
    left_out = {(x.case.id, x.model.id): x.reason for x in report.exclusions}
    # Simons 2022 measured arterial S-ketamine; Otto 2021 (Fanta disposition) is venous
    reason = left_out[("simons-2022-s-iv-20mg-peak-a", "otto-2021")]
    assert "study arterial, model venous" in reason
    assert ("simons-2022-s-iv-20mg-peak-a", "otto-2021") not in {
        (r.case.id, r.model.id) for r in report.comparisons
    }
    # the same site is compared (the model's own arterial peak), and exposure is site-free
    assert applicability(CASES["simons-2022-s-iv-20mg-peak-a"], resolve_model("simons")) is None
    assert applicability(CASES["fanta-2015-s-clearance"], resolve_model("simons")) is None
    # a central volume from venous data is not compared with an arterial model's
    assert "site" in left_out[("fanta-2015-s-central-volume", "simons-2022")]


def test_icu_observations_and_icu_models_meet_only_each_other() -> None:
    hijazi, kamp = resolve_model("hijazi-2003"), resolve_model("kamp-2020-meta")
    icu_css = CASES["icu-2000s-infusion-day3-css"]
    assert applicability(icu_css, hijazi) is None
    assert "ICU" in (applicability(icu_css, kamp) or "")
    assert "ICU" in (applicability(CASES["zarate-2006-iv-0.5mgkg-40min-cmax"], hijazi) or "")
    assert applicability(CASES["zarate-2006-iv-0.5mgkg-40min-cmax"], kamp) is None


def test_disposition_compartments_count_only_two_way_exchange() -> None:
    from ketasim.validation.predict import disposition_compartments

    expected = {
        ("kamp-2020-meta", "ketamine_plasma"): 1,
        ("herd-2007", "ketamine_plasma"): 2,
        ("domino-1982", "ketamine_plasma"): 3,
        # transit chains to the metabolite flow one way: not disposition compartments
        ("simons-2022", "ketamine_plasma"): 3,
        # the hepato-portal compartment exchanges with the central one at hepatic blood flow
        ("perez-ruixo-2021", "esketamine_plasma"): 4,
        # the racemic composite has no single total-ketamine compartment
        ("otto-2021-hasan-2021-racemic-composite", "ketamine_plasma"): None,
    }
    for (model_id, output), n in expected.items():
        assert disposition_compartments(resolve_model(model_id), output) == n, model_id


def test_a_half_life_over_an_assumed_window_is_not_compared() -> None:
    case = CASES["idvall-1979-half-life"]
    assert case.sampling_until_assumed
    assert "sampling window" in (applicability(case, resolve_model("kamp")) or "")
    # a window read in the source is compared
    assert applicability(CASES["yanagihara-2003-iv-half-life"], resolve_model("kamp")) is None


def test_the_report_lists_every_pair_left_out_with_its_reason() -> None:
    from ketasim.report.validation_report import render_markdown

    report = run_validation()
    assert report.exclusions
    page = render_markdown(report)
    section = page.split("## Not compared", 1)[1].split("\n## ", 1)[0]
    for x in report.exclusions:
        assert f"| {x.case.id} | {x.model.id} |" in section
    # nothing is both compared and left out
    compared = {(r.case.id, r.model.id) for r in report.comparisons}
    assert not compared & {(x.case.id, x.model.id) for x in report.exclusions}


def test_summary_by_part_of_the_catalogue_adds_up() -> None:
    from ketasim.validation.runner import GROUPS, model_group

    assert model_group(resolve_model("kamp-2020-meta")) == "adult racemic ketamine"
    assert model_group(resolve_model("herd-2007")) == "paediatric racemic ketamine"
    assert model_group(resolve_model("perez-ruixo-2021")) == "S-ketamine and esketamine"
    report = run_validation()
    for independent in (True, False):
        parts = [report.group_fractions(g, independent=independent) for g in GROUPS]
        whole = report.fractions(independent=independent)
        assert sum(p.n for p in parts) == whole.n
        assert sum(p.narrow for p in parts) == whole.narrow
        assert sum(p.wide for p in parts) == whole.wide


# ------------------------------------------------------------------ metabolite observations
def test_norketamine_observations_read_the_models_metabolite_output() -> None:
    from ketasim.patient import Patient
    from ketasim.pk import simulate
    from ketasim.regimens import parse_regimen

    perez = resolve_model("perez-ruixo-2021")
    case = CASES["huge-2010-s-in-0.4mgkg-norketamine-cmax"]
    assert applicability(case, perez) is None
    # independent reference: the peak of the model's own noresketamine curve on a fine grid
    import numpy as np

    times = np.arange(0.0, 6 * 60 + 0.05, 0.25)
    res = simulate(
        perez,
        Patient(weight_kg=70.0, age_years=50.0),
        parse_regimen("0.4 mg/kg intranasal"),
        times_min=times,
    )
    assert predict(case, perez) == pytest.approx(
        float(res.concentrations_ng_per_ml["noresketamine_plasma"].max()), rel=1e-9
    )
    # the parent peak of the same study reads the parent output, not the metabolite
    parent = predict(CASES["huge-2010-s-in-0.4mgkg-cmax"], perez)
    assert parent == pytest.approx(
        float(res.concentrations_ng_per_ml["esketamine_plasma"].max()), rel=1e-9
    )
    # an S-norketamine output is not a racemic total; IV-only models cannot run a nasal dose
    assert applicability(case, resolve_model("racemic-enantiomers")) is not None
    assert applicability(case, resolve_model("otto-2021")) == "route not in the model"


def test_norketamine_only_for_concentration_quantities_in_mass_units() -> None:
    from ketasim.errors import ModelError

    base = CASES["huge-2010-s-in-0.2mgkg-norketamine-cmax"]
    with pytest.raises(ModelError, match="mass units"):
        base.model_copy(update={"unit": "umol/L"}).observed_canonical()
    with pytest.raises(ModelError, match="only cmax, tmax and auc"):
        base.model_copy(update={"quantity": "clearance", "unit": "L/h"}).observed_canonical()


def test_paediatric_s_ketamine_is_listed_but_has_no_non_icu_model() -> None:
    report = run_validation()
    compared = {r.case.id for r in report.comparisons}
    assert "weber-2004-s-iv-2mgkg-cmax-children" not in compared
    # the only paediatric S-ketamine model was built in intensive care (flint-2017)
    reason = applicability(CASES["weber-2004-s-iv-2mgkg-cmax-children"], resolve_model("flint"))
    assert reason is not None and "ICU" in reason


def test_racemic_norketamine_is_listed_as_data_no_model_predicts() -> None:
    """Total (R + S) norketamine after racemic ketamine is read from its source but no racemic
    model outputs it: the report lists it with the reason instead of counting it either way."""
    report = run_validation()
    compared = {r.case.id for r in report.comparisons} | {x.case.id for x in report.exclusions}
    unmatched = {c.id: why for c, why in report.unmatched}
    case = CASES["phar2022-iv-10mg-norketamine-cmax"]
    assert case.id not in compared
    assert unmatched[case.id] == "no total (R + S) norketamine output"
    # the enantiomer composite has S-norketamine only: not the racemic total
    assert applicability(case, resolve_model("racemic-enantiomers")) == unmatched[case.id]
    # every observation is accounted for exactly once: compared, left out as unlike, or unmatched
    assert compared.isdisjoint(unmatched) and compared | set(unmatched) == set(CASES)
    # a one-model run does not claim that no catalogue model predicts the rest
    assert run_validation("kamp").unmatched == ()
