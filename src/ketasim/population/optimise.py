"""Regimen search: which regimens maximise an endpoint under constraints on other endpoints.

The spec's ``[optimise]`` table names a template arm, a regimen template with free parameters, the
endpoint to maximise and constraints::

    [optimise]
    arm = "0.5 mg/kg over 40 min"            # the arm whose model and variability are used
    regimen = "{dose} mg/kg over {duration} min"
    maximise = "p_effect_above_150"          # an endpoint of the spec
    statistic = "probability"                # default: probability (probability_above,
                                             # pd_event, response_rate, remission_rate,
                                             # relapse_rate), else mean
    n = 2000                                 # patients per candidate (default: min(spec n, 2000))
    [optimise.parameters]
    dose = [0.25, 0.5, 0.75, 1.0]
    duration = [20, 40, 60]
    [[optimise.constraints]]
    endpoint = "cmax_plasma"
    statistic = "p95"                        # mean, sd, min, max, pXX or probability
    max = 600
    [[optimise.constraints]]                 # a PD constraint: a pd_peak endpoint of the
    endpoint = "sbp_peak"                    # spec, e.g. the peak systolic blood-pressure rise
    statistic = "p95"                        # (cardiovascular-iv-empirical, EMPIRICAL), mmHg
    max = 15

Every combination of the parameter values is a candidate (an exhaustive grid: the search space of
clinical regimens is small and the grid makes the frontier explicit). All candidates are run on
the same virtual patients (same seed: common random numbers), so differences between candidates
are not sampling noise. The result lists every candidate with its objective, its constraint
values and whether it is feasible; the *frontier* is the set of candidates that no other candidate
beats on the objective without being worse on a constrained value (Pareto optimal).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ketasim.errors import InputError
from ketasim.population.spec import TrialSpec
from ketasim.population.trial import run_trial

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Constraint",
    "OptimiseResult",
    "OptimiseSpec",
    "optimise_regimen",
    "parse_optimise_spec",
]

_MAX_CANDIDATES = 500


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Constraint(_Strict):
    """An endpoint statistic that must stay within [min, max]."""

    endpoint: str
    statistic: str = "mean"
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bound(self) -> Constraint:
        if self.min is None and self.max is None:
            raise ValueError("give min or max")
        return self


class OptimiseSpec(_Strict):
    """The ``[optimise]`` table of a trial spec."""

    arm: str
    regimen: str = Field(min_length=3)
    maximise: str
    statistic: str | None = None
    n: int | None = Field(default=None, gt=0)
    parameters: dict[str, list[float | str]] = Field(min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    direction: Literal["maximise"] = "maximise"

    @model_validator(mode="after")
    def _parameters(self) -> OptimiseSpec:
        for name, values in self.parameters.items():
            if not values:
                raise ValueError(f"parameters.{name}: give at least one value")
            if "{" + name + "}" not in self.regimen:
                raise ValueError(f"parameters.{name}: the regimen template has no {{{name}}}")
        return self


def parse_optimise_spec(data: object) -> OptimiseSpec:
    """Validate the ``[optimise]`` table; errors name the field (``optimise.<field>``)."""
    if not isinstance(data, dict):
        raise InputError(
            "optimise",
            "the spec has no [optimise] table; see ketasim.population.optimise for its fields",
        )
    try:
        return OptimiseSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc and msg.startswith("parameters."):
            loc, _, msg = msg.partition(": ")
            loc = loc.split(".")[0]
        raise InputError(f"optimise.{loc}" if loc else "optimise", msg) from None


@dataclass(frozen=True)
class OptimiseResult:
    """All candidates (``table``: parameters, regimen, objective, constraint values,
    ``feasible``, ``frontier``) and the best feasible candidate (``best``: a row, or None)."""

    table: pd.DataFrame
    objective: str
    constraints: tuple[str, ...]
    best: dict[str, object] | None


def _statistic(endpoints: pd.DataFrame, name: str, statistic: str, field: str) -> float:
    rows = endpoints[endpoints["endpoint"] == name]
    if rows.empty:
        raise InputError(field, f"no endpoint {name!r} in the spec's [[endpoints]]")
    if statistic not in rows.columns:
        raise InputError(
            f"{field} statistic",
            f"{statistic!r} is not available; use one of "
            f"{', '.join(c for c in rows.columns if c not in ('arm', 'endpoint'))}",
        )
    return float(rows.iloc[0][statistic])


def optimise_regimen(
    spec: TrialSpec,
    opt: OptimiseSpec,
    *,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> OptimiseResult:
    """Run every candidate regimen of ``opt`` and find the feasible best and the frontier."""
    import pandas as pd

    arms = [a for a in spec.arms if a.name == opt.arm]
    if not arms:
        raise InputError(
            "optimise.arm", f"no arm {opt.arm!r}; arms are {', '.join(a.name for a in spec.arms)}"
        )
    names = [e.name for e in spec.endpoints]
    if opt.maximise not in names:
        raise InputError(
            "optimise.maximise",
            f"no endpoint {opt.maximise!r}; endpoints are {', '.join(names) or 'none'}",
        )
    kind = spec.endpoints[names.index(opt.maximise)].kind
    stat = opt.statistic or (
        "probability"
        if kind
        in ("probability_above", "pd_event", "response_rate", "remission_rate", "relapse_rate")
        else "mean"
    )
    grid = list(itertools.product(*opt.parameters.values()))
    if len(grid) > _MAX_CANDIDATES:
        raise InputError(
            "optimise.parameters", f"{len(grid)} candidates; accepted at most {_MAX_CANDIDATES}"
        )
    n = opt.n or min(spec.n, 2000)
    rows = []
    for k, values in enumerate(grid):
        params = dict(zip(opt.parameters, values, strict=True))
        text = opt.regimen.format(
            **{p: (f"{v:g}" if isinstance(v, float) else str(v)) for p, v in params.items()}
        )
        arm = arms[0].model_copy(update={"name": "candidate", "regimen": text})
        eps = [
            e.model_copy(update={"arms": None})
            for e in spec.endpoints
            if e.arms is None or opt.arm in e.arms
        ]
        cand = spec.model_copy(update={"arms": [arm], "n": n, "endpoints": eps})
        try:
            result = run_trial(cand, scheduler=scheduler)
        except InputError as exc:
            raise InputError("optimise.regimen", f"candidate {text!r}: {exc}") from None
        row: dict[str, object] = {**params, "regimen": text}
        row["objective"] = _statistic(result.endpoints, opt.maximise, stat, "optimise.maximise")
        feasible = True
        for j, c in enumerate(opt.constraints):
            value = _statistic(
                result.endpoints, c.endpoint, c.statistic, f"optimise.constraints[{j}]"
            )
            row[f"{c.endpoint}:{c.statistic}"] = value
            if (c.min is not None and value < c.min) or (c.max is not None and value > c.max):
                feasible = False
        row["feasible"] = feasible
        rows.append(row)
        if progress is not None:
            progress(k + 1, len(grid))
    table = pd.DataFrame(rows)
    cons = tuple(f"{c.endpoint}:{c.statistic}" for c in opt.constraints)
    # Pareto frontier: maximise the objective; for each constraint, smaller is better when it
    # has a max and larger when it has only a min
    signs = [1.0 if c.max is not None else -1.0 for c in opt.constraints]
    obj = table["objective"].to_numpy(dtype=float)
    cv = table[list(cons)].to_numpy(dtype=float) * signs if cons else None
    frontier = []
    for i in range(len(table)):
        dominated = False
        for j in range(len(table)):
            if i == j:
                continue
            better_obj = obj[j] >= obj[i]
            better_con = True if cv is None else bool((cv[j] <= cv[i]).all())
            strictly = obj[j] > obj[i] or (cv is not None and bool((cv[j] < cv[i]).any()))
            if better_obj and better_con and strictly:
                dominated = True
                break
        frontier.append(not dominated)
    table["frontier"] = frontier
    ok = table[table["feasible"]]
    best = None
    if not ok.empty:
        best = {
            str(k): v
            for k, v in ok.sort_values("objective", ascending=False).iloc[0].to_dict().items()
        }
    return OptimiseResult(
        table=table, objective=f"{opt.maximise}:{stat}", constraints=cons, best=best
    )
