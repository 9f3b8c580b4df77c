"""PD figures (matplotlib, non-interactive backend): effects over time, antidepressant course."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketasim.pd.antidepressant import AntidepressantCourse
    from ketasim.pd.effects import EffectResult

__all__ = ["plot_antidepressant_course", "plot_effects"]


def plot_effects(result: EffectResult, path: str | Path, *, title: str | None = None) -> Path:
    """Driver concentrations (top) and one panel per endpoint (value, or Ce/C50 with the
    half-maximal line at 1). Time in minutes up to 6 h, hours beyond. Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result.times_min
    in_hours = t.size > 0 and float(t[-1] - t[0]) > 360.0
    x = t / 60.0 if in_hours else t
    panels = list(result.endpoints.values())
    fig, axes = plt.subplots(
        len(panels) + 1,
        1,
        figsize=(8, 2.4 * (len(panels) + 1)),
        dpi=110,
        sharex=True,
        squeeze=False,
    )
    ax0 = axes[0][0]
    for name, values in result.driver_ng_per_ml.items():
        ax0.plot(x, values, label=name.replace("_", " "))
    ax0.set_ylabel("ng/mL")
    ax0.legend(fontsize=8)
    for ax_row, ep in zip(axes[1:], panels, strict=True):
        ax = ax_row[0]
        if ep.values is not None:
            ax.plot(x, ep.values, color="#d62728")
            ax.set_ylabel(textwrap.fill(ep.unit, 18), fontsize=8)
        elif ep.ce_over_c50 is not None:
            ax.plot(x, ep.ce_over_c50, color="#9467bd")
            ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
            ax.set_ylabel("Ce / C50", fontsize=8)
        ax.set_title(textwrap.fill(ep.description, 100), fontsize=8)
    axes[-1][0].set_xlabel("time (h)" if in_hours else "time (min)")
    heading = title or f"{result.pd_model_id} with {result.pk_model_id or 'given concentrations'}"
    fig.suptitle(textwrap.fill(heading, 95), fontsize=9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_antidepressant_course(
    course: AntidepressantCourse, path: str | Path, *, title: str | None = None
) -> Path:
    """Mean MADRS change and response probability over days (EMPIRICAL model, labelled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = course.times_h / 24.0
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 5), dpi=110, sharex=True)
    a1.plot(days, course.madrs_change, label="total")
    a1.plot(
        days,
        course.placebo_change,
        linestyle="--",
        label="same sessions without drug (placebo / session / background)",
    )
    a1.set_ylabel("MADRS change (points)")
    a1.legend(fontsize=8)
    a2.plot(days, 100 * course.response_probability, color="#2ca02c", label="response")
    a2.plot(
        days,
        100 * course.remission_probability,
        color="#1f77b4",
        label=f"remission (MADRS <= {course.remission_cutoff:g})",
    )
    a2.legend(fontsize=8)
    a2.set_ylabel("probability (%)")
    a2.set_xlabel("time (days)")
    fig.suptitle(
        title
        or "Antidepressant response: EMPIRICAL model (ketasim), calibrated to trial summaries",
        fontsize=9,
    )
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
