"""Bad trial specs give one clear error naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ketasim.errors import InputError
from ketasim.population import load_trial_spec, parse_trial_spec, run_trial

from .conftest import base_spec


def _error(spec: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as info:
        run_trial(parse_trial_spec(spec))
    return info.value


def test_unknown_model_names_the_arm_field() -> None:
    spec = base_spec("no-such-model")
    err = _error(spec)
    assert err.field == "arms[0].model"
    assert "no-such-model" in str(err)


@pytest.mark.parametrize("n", [-5, 0])
def test_non_positive_n(onecomp_path: Path, n: int) -> None:
    err = _error(base_spec(str(onecomp_path), n=n))
    assert err.field == "n"
    assert "greater than 0" in str(err)


def test_empty_arms(onecomp_path: Path) -> None:
    err = _error(base_spec(str(onecomp_path), arms=[]))
    assert err.field == "arms"
    assert "at least 1" in str(err)


@pytest.mark.parametrize("times", [[0, 10, 10, 20], [0, 30, 20]])
def test_time_grid_that_does_not_increase(onecomp_path: Path, times: list[float]) -> None:
    err = _error(base_spec(str(onecomp_path), outputs={"times_min": times}))
    assert err.field == "outputs.times_min"
    assert "increase" in str(err)


def test_model_without_variability_needs_assumed_iiv() -> None:
    err = _error(base_spec("domino"))
    assert err.field == "arms[0].assumed_iiv"
    assert "no inter-individual variability" in str(err)


def test_assumed_iiv_cannot_replace_published(onecomp_path: Path) -> None:
    arm = {
        "name": "a",
        "model": str(onecomp_path),
        "regimen": "100 mg",
        "assumed_iiv": {"CL": {"cv_percent": 10, "source": "ASSUMED"}},
    }
    err = _error(base_spec(str(onecomp_path), arms=[arm]))
    assert err.field == "arms[0].assumed_iiv.CL"


def test_unknown_field_and_bad_endpoint(onecomp_path: Path) -> None:
    err = _error(base_spec(str(onecomp_path), patients=3))
    assert err.field == "patients"
    ep = {"name": "x", "kind": "time_above", "output": "ketamine_plasma"}
    err = _error(base_spec(str(onecomp_path), endpoints=[ep]))
    assert err.field == "endpoints[0]"
    assert "threshold_ng_per_ml" in str(err)
    ep = {"name": "x", "kind": "cmax", "output": "ketamine_effect"}
    err = _error(base_spec(str(onecomp_path), endpoints=[ep]))
    assert err.field == "endpoints[0].output"
    ep = {"name": "x", "kind": "auc", "output": "ketamine_plasma", "to": "17min"}
    err = _error(base_spec(str(onecomp_path), endpoints=[ep]))
    assert err.field == "endpoints[0].to"


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_trial_spec(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("n = [")
    with pytest.raises(InputError, match="not valid TOML"):
        load_trial_spec(bad)


def test_example_specs_are_valid() -> None:
    folder = Path(__file__).resolve().parents[2] / "examples" / "trials"
    specs = sorted(folder.glob("*.toml"))
    assert any(p.name == "domino-1e6.toml" for p in specs)
    for path in specs:
        spec = load_trial_spec(path)
        from ketasim.population.trial import resolve_arms

        arms = resolve_arms(spec)
        assert arms


def test_explicit_non_uniform_grid_and_default_window(onecomp_path: Path) -> None:
    times = [5.0, 7.5, 20.0, 60.0]
    ep = {"name": "auc", "kind": "auc", "output": "ketamine_plasma"}
    spec = parse_trial_spec(
        base_spec(
            str(onecomp_path), outputs={"times_min": times}, endpoints=[ep], n=50, chunk_size=50
        )
    )
    result = run_trial(spec, individuals=50, scheduler="local:1")
    assert result.summary["time_min"].tolist() == times
    assert result.individuals is not None
    conc = result.individuals["ketamine_plasma_ng_per_ml"].to_numpy().reshape(50, 4)
    import numpy as np

    auc = np.trapezoid(conc, times, axis=1) / 60.0
    assert abs(result.endpoints.loc[0, "mean"] / auc.mean() - 1) < 1e-12
