"""``ketasim validate``: every applicable model against every published observation.

A comparison is *independent* unless the observation comes from a paper the model was built on
(``not_independent_for`` in the data). Agreement is the ratio predicted/observed; the report
gives the fractions within 0.8-1.25x and 0.67-1.5x, per model and overall, separately for
independent and non-independent comparisons, and lists every comparison outside 0.8-1.25x with
its likely cause. No model parameter is ever adjusted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ketasim.catalogue import available_models
from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import InputError
from ketasim.validation.observations import CANONICAL, Case, load_cases, model_caveats
from ketasim.validation.predict import SITE_DEPENDENT, predict, runnable, unlike

__all__ = [
    "Comparison",
    "Exclusion",
    "Fractions",
    "ValidationReport",
    "likely_cause",
    "model_group",
    "run_validation",
]

NARROW = (0.8, 1.25)
WIDE = (0.67, 1.5)


@dataclass(frozen=True)
class Comparison:
    """One model's prediction of one published observation."""

    case: Case
    model: ModelSpec
    predicted: float
    observed: float
    independent: bool

    @property
    def ratio(self) -> float:
        """predicted / observed."""
        return self.predicted / self.observed

    @property
    def unit(self) -> str:
        """Canonical unit of the quantity."""
        return CANONICAL[self.case.quantity]

    def within(self, band: tuple[float, float]) -> bool:
        """Whether the ratio lies in ``band`` (inclusive)."""
        return band[0] <= self.ratio <= band[1]


@dataclass(frozen=True)
class Fractions:
    """Counts of comparisons within the two bands."""

    n: int
    narrow: int
    wide: int

    @property
    def narrow_fraction(self) -> float | None:
        """Fraction within 0.8-1.25x (None if no comparison)."""
        return self.narrow / self.n if self.n else None

    @property
    def wide_fraction(self) -> float | None:
        """Fraction within 0.67-1.5x (None if no comparison)."""
        return self.wide / self.n if self.n else None

    @classmethod
    def of(cls, rows: Sequence[Comparison]) -> Fractions:
        """Counts over ``rows``."""
        return cls(
            len(rows), sum(r.within(NARROW) for r in rows), sum(r.within(WIDE) for r in rows)
        )


def likely_cause(row: Comparison) -> str:
    """The likely cause of a disagreement, from what is known about the case and the model."""
    case, model = row.case, row.model
    causes: list[str] = []
    if case.quantity in SITE_DEPENDENT and "not stated" in (case.sampling, model.sampling):
        who = (
            "study and model"
            if case.sampling == model.sampling
            else ("study" if case.sampling == "not stated" else "model")
        )
        causes.append(
            f"sampling site not stated for the {who}: early (peak) concentrations are higher in "
            "arterial than in venous plasma during and soon after an input (Henthorn 2018)"
        )
    if case.population_differs:
        causes.append(f"population differs: {case.population_differs}")
    if case.formulation_differs:
        causes.append(f"formulation differs: {case.formulation_differs}")
    if case.quantity == "half_life":
        window = (
            f"the study sampled to {case.sampling_until_min / 60:g} h"
            if case.sampling_until_min
            else "the study's sampling period was not read"
        )
        causes.append(
            f"an apparent half-life depends on how long and how sensitively the study "
            f"sampled ({window}); multi-compartment models have several phases"
        )
    if case.note:
        causes.append(f"case note: {case.note}")
    caveat = model_caveats().get(model.id)
    if caveat:
        causes.append(f"model: {caveat}")
    if model.evidence == "secondary" and not caveat:
        causes.append("model: secondary-sourced, primary paper not read")
    if not causes:
        causes.append(
            "no specific cause identified: the model and this study disagree "
            "(between-study variability; see the published spread)"
        )
    return "; ".join(causes)


GROUPS = ("adult racemic ketamine", "S-ketamine and esketamine", "paediatric racemic ketamine")


def model_group(model: ModelSpec) -> str:
    """The part of the catalogue a model belongs to (for the report's summary by group)."""
    if model.drug != "racemic ketamine":
        return GROUPS[1]
    age = model.validity.get("age_years")
    return GROUPS[2] if age is not None and age.max is not None and age.max <= 18 else GROUPS[0]


@dataclass(frozen=True)
class Exclusion:
    """A model that could run for a case but whose output is not what the study measured."""

    case: Case
    model: ModelSpec
    reason: str


@dataclass(frozen=True)
class ValidationReport:
    """All comparisons of a validation run, and the pairs left out as unlike."""

    comparisons: tuple[Comparison, ...]
    cases: tuple[Case, ...]
    exclusions: tuple[Exclusion, ...] = ()
    #: observations no catalogue model could be run for, with the reasons (e.g. no racemic
    #: norketamine output): data waiting for a model, neither agreement nor miss
    unmatched: tuple[tuple[Case, str], ...] = ()

    def rows(
        self, *, independent: bool | None = None, model_id: str | None = None
    ) -> list[Comparison]:
        """Comparisons filtered by independence and model."""
        return [
            r
            for r in self.comparisons
            if (independent is None or r.independent == independent)
            and (model_id is None or r.model.id == model_id)
        ]

    def fractions(
        self, *, independent: bool | None = None, model_id: str | None = None
    ) -> Fractions:
        """Counts within the bands for the filtered comparisons."""
        return Fractions.of(self.rows(independent=independent, model_id=model_id))

    def group_fractions(self, group: str, *, independent: bool | None = None) -> Fractions:
        """Counts within the bands for the models of one :func:`model_group`."""
        return Fractions.of(
            [r for r in self.rows(independent=independent) if model_group(r.model) == group]
        )

    @property
    def model_ids(self) -> list[str]:
        """Models with at least one comparison, in catalogue order."""
        seen: list[str] = []
        for r in self.comparisons:
            if r.model.id not in seen:
                seen.append(r.model.id)
        return seen

    def independent_cases_of(self, group: str) -> list[Case]:
        """Observations compared independently with at least one model of ``group``."""
        ids = {
            r.case.id for r in self.comparisons if r.independent and model_group(r.model) == group
        }
        return [c for c in self.cases if c.id in ids]

    def independent_cases(self) -> list[Case]:
        """Observations compared with at least one model independently."""
        ids = {r.case.id for r in self.comparisons if r.independent}
        return [c for c in self.cases if c.id in ids]

    def misses(self) -> list[Comparison]:
        """Every comparison outside 0.8-1.25x, worst first."""
        import math

        out = [r for r in self.comparisons if not r.within(NARROW)]
        return sorted(out, key=lambda r: -abs(math.log(r.ratio)))


def run_validation(
    model_id: str | None = None, models: Sequence[ModelSpec] | None = None
) -> ValidationReport:
    """Run every applicable catalogue model (or only ``model_id``) against every case."""
    catalogue = list(models) if models is not None else list(available_models())
    if model_id is not None:
        from ketasim.catalogue import resolve_model

        wanted = resolve_model(model_id).id
        catalogue = [m for m in catalogue if m.id == wanted]
        if not catalogue:
            raise InputError("model", f"{model_id!r} is not a catalogue model")
    cases = load_cases()
    out = []
    left_out = []
    unmatched = []
    for case in cases:
        reasons: list[str] = []  # why no model of the case's drug could be run
        ran = False
        for model in catalogue:
            why = runnable(case, model)
            if why is not None:
                if why != "another drug" and why not in reasons:
                    reasons.append(why)
                continue
            ran = True
            reason = unlike(case, model)
            if reason is not None:
                left_out.append(Exclusion(case, model, reason))
                continue
            out.append(
                Comparison(
                    case,
                    model,
                    predict(case, model),
                    case.observed_canonical(),
                    model.id not in case.not_independent_for,
                )
            )
        if not ran and model_id is None:
            unmatched.append((case, "; ".join(reasons) or f"no catalogue model of {case.drug}"))
    return ValidationReport(tuple(out), cases, tuple(left_out), tuple(unmatched))
