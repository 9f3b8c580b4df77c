"""Rating instruments as data: items, answer ranges, totals, and the alerts their answers raise.

- PHQ-9: 9 items scored 0-3 ("not at all" to "nearly every day" over the last 2 weeks), total
  0-27; item 9 asks about thoughts of death or self-harm (Kroenke K, Spitzer RL, Williams JBW.
  J Gen Intern Med 2001;16:606-13). Item wording from the public-domain Pfizer form ("no
  permission required to reproduce, translate, display or distribute").
- GAD-7: 7 items scored 0-3 over the last 2 weeks, total 0-21 (Spitzer RL, Kroenke K, Williams
  JBW, Lowe B. Arch Intern Med 2006;166:1092-7); same public-domain form.
- C-SSRS screener: yes/no questions 1-6 on the past month, with 6 asked as "ever" and then
  "within the past 3 months" (stored as a seventh item); questions 3-5 are asked only after a yes
  to question 2 (Posner K et al. Am J Psychiatry 2011;168:1266-77; Columbia Lighthouse Project
  screener and its triage guideline: a yes to 4 or 5, or behaviour in the past 3 months, is the
  most severe level; a yes to 3 or earlier behaviour is moderate; 1-2 only is low). The screener
  has no validated total: the stored score is the number of yes answers to questions 1-6, and the
  risk level is read from the items.
- MADRS: 10 clinician-rated items scored 0-6, total 0-60 (Montgomery SA, Asberg M. Br J
  Psychiatry 1979;134:382-9); never self-reported here.

Worsening: a rise of at least the minimal clinically important difference since the previous
score: 5 points on the PHQ-9 (Lowe B et al. Med Care 2004;42:1194-201, 2 standard errors of
measurement) and 4 points on the GAD-7 (Toussaint A et al. J Affect Disord 2020;265:395-401).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ketasim.clinic.services.base import Invalid

__all__ = ["INSTRUMENTS", "Instrument", "RiskSignal", "cssrs_risk", "risk_signals", "score"]

_FREQ = ("Not at all", "Several days", "More than half the days", "Nearly every day")
_YES_NO = ("No", "Yes")


@dataclass(frozen=True)
class Instrument:
    """One rating instrument: its scale name in the ratings table, items and answer options."""

    code: str
    scale: str
    title: str
    stem: str
    items: tuple[str, ...]
    options: tuple[str, ...]
    self_report: bool
    source: str
    worsening_points: int | None = None

    @property
    def item_max(self) -> int:
        return len(self.options) - 1


INSTRUMENTS: dict[str, Instrument] = {
    "phq9": Instrument(
        "phq9",
        "PHQ-9",
        "Patient Health Questionnaire (PHQ-9)",
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
        (
            "Little interest or pleasure in doing things",
            "Feeling down, depressed, or hopeless",
            "Trouble falling or staying asleep, or sleeping too much",
            "Feeling tired or having little energy",
            "Poor appetite or overeating",
            "Feeling bad about yourself - or that you are a failure or have let yourself or your "
            "family down",
            "Trouble concentrating on things, such as reading the newspaper or watching television",
            "Moving or speaking so slowly that other people could have noticed? Or the opposite - "
            "being so fidgety or restless that you have been moving around a lot more than usual",
            "Thoughts that you would be better off dead or of hurting yourself in some way",
        ),
        _FREQ,
        True,
        "Kroenke K et al. J Gen Intern Med 2001;16:606-13",
        worsening_points=5,
    ),
    "gad7": Instrument(
        "gad7",
        "GAD-7",
        "Generalized Anxiety Disorder scale (GAD-7)",
        "Over the last 2 weeks, how often have you been bothered by the following problems?",
        (
            "Feeling nervous, anxious or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "Being so restless that it is hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid as if something awful might happen",
        ),
        _FREQ,
        True,
        "Spitzer RL et al. Arch Intern Med 2006;166:1092-7",
        worsening_points=4,
    ),
    "cssrs-screener": Instrument(
        "cssrs-screener",
        "C-SSRS",
        "Columbia Suicide Severity Rating Scale, screener",
        "In the past month:",
        (
            "Have you wished you were dead or wished you could go to sleep and not wake up?",
            "Have you actually had any thoughts of killing yourself?",
            "If yes to 2: have you been thinking about how you might do this?",
            "If yes to 2: have you had these thoughts and had some intention of acting on them?",
            "If yes to 2: have you started to work out or worked out the details of how to kill "
            "yourself? Do you intend to carry out this plan?",
            "Have you ever done anything, started to do anything, or prepared to do anything to "
            "end your life?",
            "If yes to 6: was this within the past 3 months?",
        ),
        _YES_NO,
        True,
        "Posner K et al. Am J Psychiatry 2011;168:1266-77",
    ),
    "madrs": Instrument(
        "madrs",
        "MADRS",
        "Montgomery-Asberg Depression Rating Scale (clinician-rated)",
        "Clinician rating of the past week:",
        (
            "Apparent sadness",
            "Reported sadness",
            "Inner tension",
            "Reduced sleep",
            "Reduced appetite",
            "Concentration difficulties",
            "Lassitude",
            "Inability to feel",
            "Pessimistic thoughts",
            "Suicidal thoughts",
        ),
        tuple(str(i) for i in range(7)),
        False,
        "Montgomery SA, Asberg M. Br J Psychiatry 1979;134:382-9",
    ),
}
BY_SCALE = {i.scale: i for i in INSTRUMENTS.values()}


def score(instrument: Instrument, answers: Sequence[int]) -> int:
    """The total of validated item answers (``Invalid`` naming the item and accepted range)."""
    n = len(instrument.items)
    if len(answers) != n:
        raise Invalid("answers", f"{len(answers)} answers; {instrument.scale} has {n} items")
    top = instrument.item_max
    for i, a in enumerate(answers):
        if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a <= top:
            raise Invalid(
                f"answers[{i}]",
                f"{a!r} is out of range; {instrument.scale} items accept integers 0 to {top}",
            )
    if instrument.code == "cssrs-screener":
        if answers[1] == 0 and any(answers[2:5]):
            raise Invalid("answers[2]", "questions 3-5 are asked only after a yes to question 2")
        if answers[5] == 0 and answers[6]:
            raise Invalid("answers[6]", "the past-3-months question follows a yes to question 6")
        return sum(answers[:6])
    return sum(answers)


def cssrs_risk(answers: Sequence[int]) -> str | None:
    """The screener's risk level (``None``: every answer no)."""
    if answers[3] or answers[4] or answers[6]:
        return "high"
    if answers[2] or answers[5]:
        return "moderate"
    if answers[0] or answers[1]:
        return "low"
    return None


@dataclass(frozen=True)
class RiskSignal:
    """An alert the answers call for."""

    kind: str
    severity: str
    message: str
    source: str


def risk_signals(
    instrument: Instrument, answers: Sequence[int], total: int, previous_total: int | None
) -> list[RiskSignal]:
    """Alerts for one completed instrument: PHQ-9 item 9 above 0, a positive C-SSRS screen,
    a rise of at least the instrument's minimal clinically important difference."""
    out = []
    if instrument.code == "phq9" and answers[8] > 0:
        out.append(
            RiskSignal(
                "suicide-risk",
                "stop",
                f"PHQ-9 item 9 (thoughts of death or self-harm) answered {answers[8]} "
                f"({_FREQ[answers[8]].lower()}): assess suicide risk today",
                "Kroenke 2001 (PHQ-9 item 9); a positive item 9 calls for a suicide risk "
                "assessment (PHQ-9 instructions)",
            )
        )
    if instrument.code == "cssrs-screener":
        level = cssrs_risk(answers)
        if level is not None:
            yes = [str(i + 1) if i < 6 else "6 (past 3 months)" for i, a in enumerate(answers) if a]
            out.append(
                RiskSignal(
                    "suicide-risk",
                    "stop" if level in ("high", "moderate") else "warn",
                    f"positive C-SSRS screen, {level} risk (yes to {', '.join(yes)})",
                    "Posner 2011; Columbia screener triage: 4, 5 or behaviour in the past 3 months "
                    "high, 3 or earlier behaviour moderate, 1-2 low",
                )
            )
    if (
        instrument.worsening_points is not None
        and previous_total is not None
        and total - previous_total >= instrument.worsening_points
    ):
        out.append(
            RiskSignal(
                "pro-worsening",
                "warn",
                f"{instrument.scale} rose from {previous_total} to {total} (>= "
                f"{instrument.worsening_points} points)",
                "minimal clinically important difference: PHQ-9 5 points (Lowe 2004), GAD-7 4 "
                "points (Toussaint 2020)",
            )
        )
    return out
