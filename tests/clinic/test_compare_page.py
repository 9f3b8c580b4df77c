"""The web simulator's model overlay (issue 10): the same numbers as ``ketasim compare``."""

from __future__ import annotations

from typing import Any

import numpy as np

PARAMS = {
    "model": "kamp-2020-meta",
    "dose": "0.5 mg/kg",
    "over": "40min",
    "weight_kg": "70",
    "age_years": "40",
    "until": "2h",
    "compare": "all",
}


def test_simulator_overlays_every_applicable_model(app: Any, as_role: dict[str, Any]) -> None:
    from ketasim.catalogue import resolve_model
    from ketasim.catalogue.select import select_models
    from ketasim.patient import Patient
    from ketasim.regimens import parse_regimen
    from ketasim.validation import compare_models

    r = as_role["prescriber"].get("/tools/simulate", params=PARAMS)
    assert r.status_code == 200 and "Model comparison" in r.text
    models = [resolve_model("kamp-2020-meta")] + [
        m
        for m in select_models(
            drug="racemic", route="iv", weight_kg=70, age_years=40, population="general"
        )
        if m.id != "kamp-2020-meta"
    ]
    lib = compare_models(
        models,
        Patient(weight_kg=70.0, age_years=40.0),
        parse_regimen("0.5 mg/kg", over="40min"),
        times_min=np.arange(0.0, 121.0, 1.0),
    ).summary()
    assert len(lib["models"]) >= 3  # type: ignore[arg-type]
    for row in lib["models"]:  # type: ignore[attr-defined]
        assert f"<td>{row['model']}</td>" in r.text
        assert f"{row['cmax_ng_per_ml']:.4g}" in r.text
    # a model built on ICU patients is not overlaid for a generic adult (its setting differs)
    assert "<td>hijazi-2003</td>" not in r.text


def test_unknown_comparison_model_is_a_clear_error(app: Any, as_role: dict[str, Any]) -> None:
    r = as_role["auditor"].get("/tools/simulate", params={**PARAMS, "compare": "nope"})
    assert r.status_code == 422 and 'class="error"' in r.text and "nope" in r.text
