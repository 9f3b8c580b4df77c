"""What the computational tool pages accept: catalogue models by id only (never a file path:
user model files only through the CLI or Python) and bounded work per request. Every refusal
names the field and the limit (the pages answer 422)."""

from __future__ import annotations

import re
from typing import Any

from ketasim.catalogue import available_models
from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import KetasimError
from ketasim.tci.schedule import TargetSchedule, parse_targets
from ketasim.units import parse_duration_min

__all__ = [
    "MAX_ARMS",
    "MAX_DOSES",
    "MAX_ENDPOINTS",
    "MAX_MANUAL_SECONDS",
    "MAX_SPEC_CHARS",
    "MAX_TARGETS",
    "MAX_TIME_POINTS",
    "MAX_TRIAL_N",
    "MAX_TRIAL_TIME_POINTS",
    "MAX_TRIAL_WORK",
    "ToolInputError",
    "catalogue_model",
    "check_doses",
    "check_time_points",
    "check_trial_data",
    "tci_inputs",
]

#: output times of one simulation (the simulator samples every minute: 7 days)
MAX_TIME_POINTS = 7 * 1440 + 1
#: doses in one regimen
MAX_DOSES = 100
#: steps of a TCI target schedule
MAX_TARGETS = 20
#: seconds of search for a manual TCI scheme (a typical scheme, 60 min with 7 changes, takes
#: under 1 s; 20 target steps x 30 changes over 6 h took 66 s): past it the page answers 422
MAX_MANUAL_SECONDS = 5.0
#: virtual trial: patients per arm, arms, endpoints, output times, patients x arms x times
MAX_TRIAL_N = 2000
MAX_ARMS = 4
MAX_ENDPOINTS = 10
MAX_TRIAL_TIME_POINTS = 2017
MAX_TRIAL_WORK = 4_000_000
#: characters of a trial spec typed into the page
MAX_SPEC_CHARS = 20_000

_REPEAT = re.compile(r"[x×]\s*(\d+)\s*$", re.I)


class ToolInputError(KetasimError):
    """A tool page's input refused (names the field and the accepted range)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def catalogue_model(name: str, *, field: str = "model") -> ModelSpec:
    """The catalogue model with this id or short name; paths and unknown names are refused."""
    key = name.strip().lower()
    if not key or "/" in key or "\\" in key or key.endswith(".toml") or key.startswith("."):
        raise ToolInputError(
            field,
            f"{name[:80]!r}: catalogue model ids only (model files "
            "only through `ketasim` on the command line or Python)",
        )
    models = available_models()
    for m in models:
        if key == m.id or key in (s.lower() for s in m.short_names):
            return m
    known = ", ".join(m.id for m in models)
    raise ToolInputError(field, f"unknown model {name[:80]!r}; catalogue ids: {known}")


def check_doses(text: str, *, field: str = "dose") -> None:
    """Refuse a regimen text repeating more than :data:`MAX_DOSES` doses (before parsing it)."""
    m = _REPEAT.search(text or "")
    if m and int(m.group(1)) > MAX_DOSES:
        raise ToolInputError(
            field, f"{m.group(1)} doses; accepted at most {MAX_DOSES} per regimen on this page"
        )


def check_time_points(n: int, *, field: str, limit: int = MAX_TIME_POINTS) -> None:
    """Refuse more than ``limit`` output times."""
    if n > limit:
        raise ToolInputError(field, f"{n} output times; accepted at most {limit} on this page")


def check_trial_data(data: dict[str, Any]) -> None:
    """Only self-contained specs of bounded size: catalogue models, no CSV files, no regimen
    search, bounded N, arms, endpoints and output times (before the spec is validated)."""
    pop = data.get("population")
    if isinstance(pop, dict) and pop.get("kind", "preset" if "preset" in pop else None) not in (
        "parametric",
        "preset",
        "fixed",
    ):
        raise ToolInputError(
            "population.kind",
            "the web page accepts parametric, preset or "
            "fixed populations (CSV files only from the command line)",
        )
    n = data.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_TRIAL_N:
        raise ToolInputError(
            "n",
            f"{n!r}; the web page runs 1 to {MAX_TRIAL_N} patients per "
            "arm (use `ketasim trial` for more)",
        )
    if "optimise" in data:
        raise ToolInputError(
            "optimise", "regimen search only from the command line (`ketasim trial`)"
        )
    arms = data.get("arms")
    if isinstance(arms, list):
        if len(arms) > MAX_ARMS:
            raise ToolInputError("arms", f"{len(arms)} arms; accepted at most {MAX_ARMS}")
        for i, arm in enumerate(arms):
            if isinstance(arm, dict) and isinstance(arm.get("model"), str):
                catalogue_model(arm["model"], field=f"arms[{i}].model")
                check_doses(str(arm.get("regimen", "")), field=f"arms[{i}].regimen")
                check_doses(str(arm.get("repeat", "")), field=f"arms[{i}].repeat")
    ends = data.get("endpoints")
    if isinstance(ends, list) and len(ends) > MAX_ENDPOINTS:
        raise ToolInputError(
            "endpoints", f"{len(ends)} endpoints; accepted at most {MAX_ENDPOINTS}"
        )
    if isinstance(data.get("chunk_size"), int):
        data.pop("chunk_size")  # the page chooses the chunking


def check_trial_size(n: int, arms: int, times: int) -> None:
    """Refuse a validated spec whose output grid or total work is over the page's limits."""
    check_time_points(times, field="outputs", limit=MAX_TRIAL_TIME_POINTS)
    work = n * arms * times
    if work > MAX_TRIAL_WORK:
        raise ToolInputError(
            "n",
            f"{n} patients x {arms} arms x {times} output times = {work} "
            f"values; accepted at most {MAX_TRIAL_WORK} on this page (fewer "
            "patients or a coarser outputs.every)",
        )


def tci_inputs(duration: str, target: str) -> tuple[float, TargetSchedule]:
    """A TCI page's duration (min; up to 24 h) and target schedule (up to :data:`MAX_TARGETS`
    steps): the TCI page, the manual-scheme page and the printable report alike."""
    minutes = parse_duration_min(duration, field="duration")
    if not 0 < minutes <= 1440:
        raise KetasimError("duration: accepted up to 24 h")
    targets = parse_targets(target, field="target")
    if len(targets.steps) > MAX_TARGETS:
        raise ToolInputError(
            "target", f"{len(targets.steps)} steps; accepted at most {MAX_TARGETS}"
        )
    return minutes, targets
