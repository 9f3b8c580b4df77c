"""The Dask backend (LocalCluster, 2 workers) reproduces the local result bit for bit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ketasim.errors import InputError
from ketasim.population import parse_scheduler, parse_trial_spec, run_trial

from .conftest import base_spec


def test_dask_local_cluster_reproduces_local(onecomp_path: Path) -> None:
    pytest.importorskip("distributed")
    endpoints = [
        {"name": "cmax", "kind": "cmax", "output": "ketamine_plasma"},
        {"name": "auc", "kind": "auc", "output": "ketamine_plasma", "to": "1h"},
        {
            "name": "p_above",
            "kind": "probability_above",
            "output": "ketamine_plasma",
            "threshold_ng_per_ml": 4990.0,
        },
        # PD endpoints (an added effect site, PD variability) and a preset population
        {
            "name": "p_sedation",
            "kind": "pd_event",
            "pd_model": "herd-2008",
            "pd_endpoint": "sedation_score",
            "effect_below": 1.5,
        },
        {
            "name": "sbp",
            "kind": "pd_peak",
            "pd_model": "cardiovascular-iv-empirical",
            "pd_endpoint": "sbp_change",
        },
    ]
    spec = parse_trial_spec(
        base_spec(
            str(onecomp_path),
            n=250,
            chunk_size=60,
            endpoints=endpoints,
            population={"preset": "adult-us-nhanes"},
        )
    )
    local = run_trial(spec, scheduler="local:2", individuals=70)
    dask = run_trial(spec, scheduler="local-cluster:2", individuals=70)
    pd.testing.assert_frame_equal(local.summary, dask.summary, check_exact=True)
    pd.testing.assert_frame_equal(local.endpoints, dask.endpoints, check_exact=True)
    assert local.individuals is not None and dask.individuals is not None
    pd.testing.assert_frame_equal(local.individuals, dask.individuals, check_exact=True)
    # and the run is not trivially constant: patients differ
    assert local.endpoints.loc[1, "sd"] > 0


def test_same_seed_same_result_and_chunks_independent_of_workers(onecomp_path: Path) -> None:
    spec = parse_trial_spec(base_spec(str(onecomp_path), n=300, chunk_size=70))
    one = run_trial(spec, scheduler="local:1")
    two = run_trial(spec, scheduler="local:2")
    pd.testing.assert_frame_equal(one.summary, two.summary, check_exact=True)
    other = run_trial(spec.model_copy(update={"seed": 8}), scheduler="local:1")
    assert not one.summary["p50"].equals(other.summary["p50"])


@pytest.mark.parametrize("text", ["dask", "local:0", "tcp://nohost", "local-cluster:x"])
def test_bad_scheduler(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_scheduler(text)
    assert info.value.field == "scheduler"
