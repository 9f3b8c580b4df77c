"""Occupancy against the hand arithmetic of shared/reference/receptors.md section 4."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ketasim.cli import app
from ketasim.errors import InputError
from ketasim.pd.occupancy import (
    affinity_table,
    fraction_occupied,
    fraction_unbound,
    occupancy_level,
    occupancy_panel,
)

runner = CliRunner()


def test_closed_form_and_levels() -> None:
    # receptors.md section 4: Ki 0.5 uM at Cu 0.25 uM -> 0.25/0.75 = 33%
    assert float(fraction_occupied(0.25, 0.5)) == pytest.approx(1 / 3)
    assert float(fraction_occupied(0.5, 0.5)) == 0.5
    assert [occupancy_level(x) for x in (0.6, 0.3, 0.1, 0.01)] == [
        "high",
        "moderate",
        "low",
        "negligible",
    ]
    with pytest.raises(InputError):
        fraction_occupied(0.1, 0.0)


def test_racemic_nmda_matches_reference_table() -> None:
    # racemic ketamine 1 uM total = 237.73 ng/mL; fu 0.53 (Dayton 1983) -> Cu 0.53 uM;
    # NMDA Ki 0.5 uM (Kapur & Seeman 2002) -> 0.53/1.03 = 51.5%
    rows = occupancy_panel(237.73, drug="racemic")
    nmda = next(r for r in rows if r.target == "NMDA (PCP site)")
    assert nmda.unbound_um == pytest.approx(0.53)
    assert nmda.occupancy == pytest.approx(0.53 / 1.03)
    mu = next(r for r in rows if r.target == "mu opioid (MOP)")
    assert mu.occupancy == pytest.approx(0.53 / (0.53 + 41.7))  # Ki 41.7 uM (PMID 9915326)
    assert mu.level == "negligible"


def test_esketamine_uses_s_ki_and_label_fu() -> None:
    # receptors.md section 4: esketamine Ki 0.3 uM, fu ~0.55; 0.5 uM total -> about 48%
    rows = occupancy_panel(0.5 * 237.73, drug="esketamine")
    nmda = next(r for r in rows if r.target == "NMDA (PCP site)")
    assert nmda.ki_um == 0.3
    assert nmda.occupancy == pytest.approx(0.48, abs=0.01)
    # a target with only a racemic value falls back to it, and says so
    m1 = next(r for r in rows if r.target == "muscarinic M1")
    assert "racemic Ki used" in m1.note


def test_metabolite_competes_at_nmda() -> None:
    rows = occupancy_panel(185.0, drug="racemic", metabolites_ng_per_ml={"norketamine": 100.0})
    nmda = [r for r in rows if r.target == "NMDA (PCP site)"]
    assert [r.compound for r in nmda] == [
        "racemic ketamine",
        "norketamine",
        "combined (competitive)",
    ]
    x = sum(r.unbound_um / r.ki_um for r in nmda[:2])
    assert nmda[2].occupancy == pytest.approx(x / (1 + x))
    assert nmda[2].occupancy > max(r.occupancy for r in nmda[:2])


def test_disputed_targets_are_off_by_default() -> None:
    assert not any("D2High" in a.target for a in affinity_table())
    assert any("D2High" in a.target for a in affinity_table(include_disputed=True))
    assert all(a.source and a.value_um > 0 for a in affinity_table(include_disputed=True))
    assert fraction_unbound("racemic ketamine")[0] == 0.53


def test_cli_anaesthetic_vs_antidepressant() -> None:
    result = runner.invoke(
        app, ["occupancy", "-c", "185 ng/mL", "-c", "2 ug/mL", "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    low, high = payload["scenarios"]
    assert high["total_ng_per_ml"] == pytest.approx(2000.0)
    nmda = [next(r for r in s["rows"] if r["target"] == "NMDA (PCP site)") for s in (low, high)]
    assert nmda[0]["level"] == "moderate" and nmda[1]["level"] == "high"
    assert all(r["source"] for r in high["rows"])
    engaged_low = {r["target"] for r in low["rows"] if r["occupancy"] >= 0.2}
    engaged_high = {r["target"] for r in high["rows"] if r["occupancy"] >= 0.2}
    assert engaged_low < engaged_high  # more systems engaged at anaesthetic levels


def test_cli_regimen_and_errors() -> None:
    result = runner.invoke(
        app,
        [
            "occupancy",
            "--model",
            "domino",
            "--dose",
            "0.5 mg/kg",
            "--over",
            "40min",
            "--weight",
            "70",
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    scen = json.loads(result.stdout)["scenarios"][0]
    assert "at peak" in scen["label"] and scen["total_ng_per_ml"] > 100
    bad = runner.invoke(app, ["occupancy", "-c", "185 mg/kg"])
    assert bad.exit_code == 2 and "--concentration" in bad.stderr
    none = runner.invoke(app, ["occupancy"])
    assert none.exit_code == 2


def test_published_ki_range_gives_the_reference_spread() -> None:
    # receptors.md section 4: at Cu 0.25 uM, NMDA occupancy is 68% with Salat's 0.119 uM and
    # 7% with Seeman 2005's 3.1 uM.
    total = 0.25 / 0.53 * 237.73
    nmda = next(r for r in occupancy_panel(total) if r.target == "NMDA (PCP site)")
    assert nmda.occupancy_range is not None
    lo, hi = nmda.occupancy_range
    assert round(100 * lo) == 7 and round(100 * hi) == 68


def test_target_occupancy_time_course_matches_panel() -> None:
    from ketasim.pd.occupancy import target_occupancy

    conc = [0.0, 185.0, 2000.0]
    nk = [0.0, 50.0, 80.0]
    series = target_occupancy(conc, drug="racemic", metabolites_ng_per_ml={"norketamine": nk})
    assert series[0] == 0.0
    for i in (1, 2):
        rows = occupancy_panel(
            conc[i], drug="racemic", metabolites_ng_per_ml={"norketamine": nk[i]}
        )
        combined = next(
            r for r in rows if r.target == "NMDA (PCP site)" and r.compound.startswith("combined")
        )
        assert series[i] == pytest.approx(combined.occupancy)
    with pytest.raises(InputError, match="target"):
        target_occupancy([1.0], target="sigma")
