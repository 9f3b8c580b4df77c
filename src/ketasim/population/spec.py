"""The trial spec: a TOML file describing a virtual trial.

::

    title = "Domino + effect site, 0.5 mg/kg over 40 min"
    n = 1000000                 # virtual patients per arm
    seed = 20261124
    chunk_size = 20000          # patients per chunk (the unit of work and of randomness)

    [population]                # kind = "parametric" | "csv" | "fixed" | "preset"
    preset = "adult-us-nhanes"  # built-in cited survey distributions (see presets.py); or
    ...                         # the fields of a parametric, csv or fixed population

    [outputs]
    until = "24h"               # or times_min = [0, 5, 10, ...] (strictly increasing)
    every = "1min"
    names = ["ketamine_plasma", "ketamine_effect"]   # default: every output of each model;
                                # each arm summarises the names its model produces
    percentiles = [5, 25, 50, 75, 95]
    precision = "float32"       # optional, default "float64": the kernel in float32, faster,
                                # concentrations within a stated bound (population.precision)

    replicates = 20             # optional: K replicate trials with parameter uncertainty
                                # (estimates drawn from their published RSEs) -> between-trial
                                # percentile bands of every endpoint (replicate_bands.csv)

    [[arms]]
    name = "0.5 mg/kg over 40 min"
    model = "domino"
    regimen = "0.5 mg/kg over 40 min"    # ketasim.regimens grammar; route/over/repeat optional
    steady_state = true                  # optional (NONMEM SS = 1): the doses of the regimen's
    interval_h = 24                      # first interval_h hours have been given every
                                         # interval_h since ever; the regimen then goes on
    [arms.assumed_iiv.k10]               # required when the model publishes no variability
    cv_percent = 30
    source = "ASSUMED: ..."
    [[arms.covariate_changes]]           # optional, time-varying covariates (NONMEM convention:
    at = "7d"                            # from this time on); model-file names WT kg, AGE y,
    scale = { WT = 0.9 }                 # HT cm, FEMALE 0/1, flags; set = { FEMALE = 1 } sets

    [[endpoints]]
    name = "cmax_plasma"
    kind = "cmax"               # cmax | auc | time_above | probability_above |
                                # pd_peak | pd_event | response_rate (PD: see below)
    output = "ketamine_plasma"
    from = "0min"               # window on the output grid (default: the whole grid)
    to = "24h"
    threshold_ng_per_ml = 100   # time_above and probability_above
    arms = ["0.5 mg/kg over 40 min"]    # optional: only these arms (default: every arm)

    [[endpoints]]               # PD endpoints (ketasim.population.pd_endpoints): no `output`
    name = "p_deep_sedation"
    kind = "pd_event"           # pd_peak: the effect at the peak driver (distribution only)
    pd_model = "herd-2008"      # a PD model file of ketasim.pd and one of its endpoints
    pd_endpoint = "sedation_score"
    effect_below = 2            # or effect_above = X, or ce_over_c50_above = 1
    pd_iiv = true               # published PD variability (log-normal), default true

    [[endpoints]]
    name = "response_day28"
    kind = "response_rate"      # EMPIRICAL antidepressant model (ketasim.pd.antidepressant)
    at = "28d"                  # assessment time after the first dose
    background = "continuing"   # or "new_oral_ad"; baseline_madrs optional
                                # also remission_rate (remission_cutoff = 10, or 12 as in the
                                # esketamine trials) and relapse_rate (responders at the end of
                                # the course, last session + 24 h, who no longer respond at `at`);
                                # an arm with placebo = true has the same sessions without drug

An optional ``[optimise]`` table describes a regimen search (``ketasim trial --optimise``); it is
validated by :mod:`ketasim.population.optimise`.

Every error names the field (``arms[0].model``, ``n``, ``outputs.times_min``) and what is
accepted.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ketasim.catalogue.schema import IIV
from ketasim.errors import InputError
from ketasim.population.covariates import (
    CsvPopulation,
    FixedPopulation,
    ParametricPopulation,
    PresetPopulation,
)
from ketasim.units import parse_duration_min

__all__ = [
    "Arm",
    "CovariateChange",
    "Endpoint",
    "Outputs",
    "TrialSpec",
    "load_trial_spec",
    "parse_trial_spec",
]

_MAX_TIMES = 200_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CovariateChange(_Strict):
    """From ``at`` (after time 0) on, covariates change (NONMEM's convention: the new value
    holds from that time on). ``set``: covariate -> new value; ``scale``: covariate -> factor on
    the value in force before. Names as in model files: ``WT`` (kg), ``AGE`` (years), ``HT``
    (cm), ``FEMALE`` (0/1) and a model's own flags."""

    at: str = Field(min_length=1)
    set: dict[str, float] = Field(default_factory=dict)
    scale: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _some(self) -> CovariateChange:
        if not self.set and not self.scale:
            raise ValueError("give set (covariate -> value) or scale (covariate -> factor)")
        both = sorted(set(self.set) & set(self.scale))
        if both:
            raise ValueError(f"{both[0]} is both set and scaled; give one")
        for name, factor in self.scale.items():
            if not (np.isfinite(factor) and factor > 0):
                raise ValueError(f"scale of {name} is {factor!r}; must be a number > 0")
        for name, value in self.set.items():
            if not np.isfinite(value):
                raise ValueError(f"set {name} = {value!r} is not a finite number")
        return self


class Arm(_Strict):
    """One arm: a model and a regimen."""

    name: str = Field(min_length=1)
    model: str = Field(min_length=1)
    regimen: str = Field(min_length=1)
    route: str = "iv"
    over: str | None = None
    repeat: str | None = None
    assumed_iiv: dict[str, IIV] = Field(default_factory=dict)
    placebo: bool = False  # the same sessions without drug (no exposure; antidepressant arms)
    steady_state: bool = False  # NONMEM SS = 1 on the regimen's first dosing interval
    interval_h: float | None = Field(default=None, gt=0, le=24 * 365)  # II of the steady state
    covariate_changes: list[CovariateChange] = Field(default_factory=list)

    @model_validator(mode="after")
    def _steady(self) -> Arm:
        if self.steady_state and self.interval_h is None:
            raise ValueError("steady_state = true needs interval_h (the dosing interval, h)")
        if self.interval_h is not None and not self.steady_state:
            raise ValueError("interval_h is the steady state's interval; set steady_state = true")
        return self


class Outputs(_Strict):
    """The output time grid and what to summarise on it."""

    until: str | None = None
    every: str | None = None
    times_min: list[float] | None = None
    names: list[str] | None = None
    percentiles: list[float] = Field(
        default_factory=lambda: [5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0]
    )
    floor_ng_per_ml: float = Field(default=1e-3, gt=0)
    precision: Literal["float64", "float32"] = "float64"
    """The compiled kernel's arithmetic: float32 is faster, within a stated relative error
    bound (:mod:`ketasim.population.precision`); the numpy fallback always runs float64."""

    @model_validator(mode="after")
    def _grid(self) -> Outputs:
        if self.times_min is not None and (self.until is not None or self.every is not None):
            raise ValueError("give either times_min or until and every, not both")
        if self.times_min is None and (self.until is None or self.every is None):
            raise ValueError(
                "give until and every (e.g. until = '24h', every = '1min') or times_min"
            )
        for p in self.percentiles:
            if not 0 <= p <= 100:
                raise ValueError(f"percentile {p} is outside 0 to 100")
        return self

    def grid(self) -> NDArray[np.float64]:
        """Output times (min), strictly increasing."""
        if self.times_min is not None:
            times = np.asarray(self.times_min, dtype=np.float64)
            if times.size == 0:
                raise InputError("outputs.times_min", "empty; give at least one time (min)")
            if not np.all(np.isfinite(times)):
                raise InputError("outputs.times_min", "times must be finite numbers (min)")
            bad = np.flatnonzero(np.diff(times) <= 0)
            if bad.size:
                i = int(bad[0])
                raise InputError(
                    "outputs.times_min",
                    f"times must increase strictly; "
                    f"{times[i]:g} is followed by {times[i + 1]:g} "
                    f"(positions {i} and {i + 1})",
                )
        else:
            until = parse_duration_min(self.until or "", field="outputs.until")
            every = parse_duration_min(self.every or "", field="outputs.every")
            if every <= 0:
                raise InputError("outputs.every", f"{self.every!r} must be > 0")
            if until <= 0:
                raise InputError("outputs.until", f"{self.until!r} must be > 0")
            count = int(np.floor(until / every + 1e-9)) + 1
            if count > _MAX_TIMES:
                raise InputError(
                    "outputs.every", f"{count} output times; accepted at most {_MAX_TIMES}"
                )
            times = np.arange(count, dtype=np.float64) * every
        if times.size > _MAX_TIMES:
            raise InputError(
                "outputs.times_min", f"{times.size} times; accepted at most {_MAX_TIMES}"
            )
        if times[0] < 0:
            raise InputError("outputs.times_min", "times must be >= 0 min")
        return times


class Endpoint(_Strict):
    """A per-patient endpoint over a window of the output grid.

    PK kinds (``cmax``, ``auc``, ``time_above``, ``probability_above``) read ``output``. PD kinds
    (see :mod:`ketasim.population.pd_endpoints`): ``pd_peak`` and ``pd_event`` name a PD model
    file and one of its endpoints (``pd_model``, ``pd_endpoint``); ``pd_event`` adds one event
    condition (``effect_above``, ``effect_below`` or ``ce_over_c50_above``); ``response_rate``
    evaluates the EMPIRICAL antidepressant model ``at`` a time after the first dose.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal[
        "cmax",
        "auc",
        "time_above",
        "probability_above",
        "pd_peak",
        "pd_event",
        "response_rate",
        "remission_rate",
        "relapse_rate",
    ]
    output: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    threshold_ng_per_ml: float | None = Field(default=None, gt=0)
    arms: list[str] | None = None
    pd_model: str | None = None
    pd_endpoint: str | None = None
    effect_above: float | None = None
    effect_below: float | None = None
    ce_over_c50_above: float | None = Field(default=None, gt=0)
    pd_iiv: bool = True
    at: str | None = None
    background: Literal["continuing", "new_oral_ad"] = "continuing"
    baseline_madrs: float | None = None
    remission_cutoff: float = Field(default=10.0, ge=0, le=60)

    @model_validator(mode="after")
    def _threshold(self) -> Endpoint:
        needs = self.kind in ("time_above", "probability_above")
        if needs and self.threshold_ng_per_ml is None:
            raise ValueError(f"kind {self.kind!r} needs threshold_ng_per_ml")
        if not needs and self.threshold_ng_per_ml is not None:
            raise ValueError(f"kind {self.kind!r} takes no threshold_ng_per_ml")
        pd = self.kind in ("pd_peak", "pd_event")
        if self.kind in ("cmax", "auc", "time_above", "probability_above") and not self.output:
            raise ValueError(f"kind {self.kind!r} needs output (e.g. 'ketamine_plasma')")
        if self.kind not in ("cmax", "auc", "time_above", "probability_above") and self.output:
            raise ValueError(f"kind {self.kind!r} takes no output (it follows from the models)")
        if pd and (not self.pd_model or not self.pd_endpoint):
            raise ValueError(
                f"kind {self.kind!r} needs pd_model and pd_endpoint (e.g. "
                "'herd-2008' and 'sedation_score')"
            )
        if not pd and (self.pd_model or self.pd_endpoint):
            raise ValueError(f"kind {self.kind!r} takes no pd_model or pd_endpoint")
        conditions = [
            c
            for c in ("effect_above", "effect_below", "ce_over_c50_above")
            if getattr(self, c) is not None
        ]
        if self.kind == "pd_event" and len(conditions) != 1:
            raise ValueError(
                "kind 'pd_event' needs exactly one of effect_above, effect_below "
                "and ce_over_c50_above"
            )
        if self.kind != "pd_event" and conditions:
            raise ValueError(f"kind {self.kind!r} takes no {conditions[0]} (use pd_event)")
        antidep = self.kind in ("response_rate", "remission_rate", "relapse_rate")
        if antidep != (self.at is not None):
            raise ValueError(
                f"kind {self.kind!r} needs at (assessment time after the first dose, e.g. '24h')"
                if antidep
                else f"kind {self.kind!r} takes no at"
            )
        return self

    @property
    def condition(self) -> str | None:
        """The event condition of a ``pd_event`` (its field name), else None."""
        for c in ("effect_above", "effect_below", "ce_over_c50_above"):
            if getattr(self, c) is not None:
                return c
        return None

    @property
    def unit(self) -> str:
        """Unit of the endpoint's per-patient value (PD kinds: see the endpoint table)."""
        return {
            "cmax": "ng/mL",
            "auc": "ng*h/mL",
            "time_above": "min",
            "probability_above": "ng/mL",
            "pd_peak": "",
            "pd_event": "",
            "response_rate": "probability",
            "remission_rate": "probability",
            "relapse_rate": "probability",
        }[self.kind]


Population = Annotated[
    ParametricPopulation | CsvPopulation | FixedPopulation | PresetPopulation,
    Field(discriminator="kind"),
]


class TrialSpec(_Strict):
    """A whole trial spec, validated (see the module docstring)."""

    title: str = "virtual trial"
    n: int = Field(gt=0, le=10**9)
    seed: int = Field(ge=0)
    chunk_size: int = Field(default=20_000, gt=0, le=1_000_000)
    population: Population
    outputs: Outputs
    arms: list[Arm] = Field(min_length=1)
    endpoints: list[Endpoint] = Field(default_factory=list)
    optimise: dict[str, Any] | None = Field(
        default=None, description="regimen search (validated by ketasim.population.optimise)"
    )
    replicates: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="K > 1: also run K replicate trials, each with the models' estimates drawn "
        "from their published uncertainty (rse_percent) and its own patients, and report "
        "between-trial percentile bands of every endpoint",
    )
    replicate: int | None = Field(
        default=None,
        ge=0,
        description="which replicate this run is (set by run_trial; leave unset)",
    )

    @model_validator(mode="after")
    def _unique(self) -> TrialSpec:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError("arms: names must be unique")
        ends = [e.name for e in self.endpoints]
        if len(set(ends)) != len(ends):
            raise ValueError("endpoints: names must be unique")
        for e in self.endpoints:
            unknown = [a for a in e.arms or [] if a not in names]
            if unknown:
                raise ValueError(f"endpoint {e.name!r}: unknown arm(s) {unknown}; arms are {names}")
        return self

    def endpoint_applies(self, index: int, arm_name: str) -> bool:
        """Whether endpoint ``index`` is computed for the arm called ``arm_name``."""
        arms = self.endpoints[index].arms
        return arms is None or arm_name in arms

    def with_n(self, n: int) -> TrialSpec:
        """A copy with ``n`` patients per arm."""
        return self.model_copy(update={"n": n})

    def with_precision(self, precision: Literal["float64", "float32"]) -> TrialSpec:
        """A copy whose kernel runs in ``precision`` (``outputs.precision``)."""
        outputs = self.outputs.model_copy(update={"precision": precision})
        return self.model_copy(update={"outputs": outputs})


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("parametric", "csv", "fixed", "preset"):
            continue
        else:
            out += ("." if out else "") + ("from" if part == "from_" else str(part))
    return out or "spec"


def parse_trial_spec(data: dict[str, Any], *, base_dir: str | Path | None = None) -> TrialSpec:
    """Validate a spec given as a dict (e.g. parsed TOML); CSV paths are taken relative to
    ``base_dir``. Raises :class:`~ketasim.errors.InputError` naming the first bad field."""
    data = dict(data)
    pop = data.get("population")
    if isinstance(pop, dict) and "preset" in pop and "kind" not in pop:
        pop = data["population"] = {"kind": "preset", **pop}
    if base_dir is not None and isinstance(pop, dict) and isinstance(pop.get("path"), str):
        path = Path(pop["path"])
        if not path.is_absolute():
            data["population"] = {**pop, "path": str(Path(base_dir) / path)}
    try:
        spec = TrialSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _loc(tuple(err["loc"]))
        msg = str(err["msg"]).removeprefix("Value error, ")
        given = err.get("input")
        shown = f" (given {given!r})" if isinstance(given, int | float | str) else ""
        more = f"; and {len(exc.errors()) - 1} more problem(s)" if len(exc.errors()) > 1 else ""
        raise InputError(field, f"{msg}{shown}{more}") from None
    spec.outputs.grid()
    if isinstance(spec.population, PresetPopulation):
        from ketasim.population.presets import preset_bounds

        preset_bounds(spec.population, [])  # unknown preset or ages outside it: error now
    return spec


def load_trial_spec(path: str | Path) -> TrialSpec:
    """Read and validate a trial spec TOML file."""
    p = Path(path)
    if not p.is_file():
        raise InputError("spec", f"no such file: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError("spec", f"{p}: not valid TOML ({exc})") from None
    return parse_trial_spec(data, base_dir=p.parent)
