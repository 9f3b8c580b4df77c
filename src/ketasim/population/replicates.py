"""Replicate trials with parameter uncertainty: between-trial bands of every endpoint.

A trial spec with ``replicates = K`` runs K further trials. Replicate ``r`` has its own patients
(seed derived from the spec's seed and ``r``) and its own model: each estimate with a published
relative standard error is drawn from its sampling distribution
(:func:`ketasim.pk.variability.sample_thetas`). For every arm and endpoint, the replicate-level
statistics (the mean, the median and, for event endpoints, the probability) are summarised
across replicates by their 5th, 50th and 95th percentiles: the spread a new trial of this size
could show given what the papers left uncertain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ketasim.population.backends import Scheduler
from ketasim.population.spec import TrialSpec

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BAND_PERCENTILES", "replicate_bands", "replicate_seed"]

BAND_PERCENTILES = (5.0, 50.0, 95.0)
_STATISTICS = ("mean", "p50", "probability")


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate`` (independent streams from one seed)."""
    state = np.random.SeedSequence(seed, spawn_key=(7, replicate)).generate_state(1)
    return int(state[0])


def replicate_bands(spec: TrialSpec, *, scheduler: str | Scheduler | None = None) -> pd.DataFrame:
    """Run ``spec.replicates`` replicate trials and return the between-trial bands."""
    import pandas as pd

    from ketasim.population.trial import run_trial

    rows = []
    for r in range(spec.replicates):
        rspec = spec.model_copy(update={"replicate": r, "seed": replicate_seed(spec.seed, r)})
        frame = run_trial(rspec, scheduler=scheduler).endpoints
        if frame.empty:
            continue
        rows.append(frame.assign(replicate=r))
    if not rows:
        return pd.DataFrame(columns=["arm", "endpoint", "statistic", "replicates"])
    table = pd.concat(rows, ignore_index=True)
    out = []
    for (arm, endpoint), group in table.groupby(["arm", "endpoint"], sort=False):
        for stat in _STATISTICS:
            if stat not in group or group[stat].isna().all():
                continue
            values = group[stat].to_numpy(dtype=float)
            row = {
                "arm": arm,
                "endpoint": endpoint,
                "statistic": stat,
                "unit": group["unit"].iloc[0],
                "replicates": int(values.size),
            }
            for p, q in zip(BAND_PERCENTILES, np.percentile(values, BAND_PERCENTILES), strict=True):
                row[f"p{p:g}"] = float(q)
            out.append(row)
    return pd.DataFrame(out)
