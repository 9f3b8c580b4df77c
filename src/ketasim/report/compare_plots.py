"""Overlay of several models' predictions for one patient and regimen (``ketasim compare``)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketasim.validation.compare import Comparison

__all__ = ["plot_comparison"]


def plot_comparison(
    comparison: Comparison, path: str | Path, *, analyte: str = "ketamine", title: str | None = None
) -> Path:
    """Each model's ``analyte`` (or parent drug) plasma curve on one axis; returns the path.

    A secondary model (``evidence = "secondary"``) is dashed; the legend names each model and
    the output plotted.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ketasim.validation.compare import parent_output

    times = comparison.times_min
    in_hours = times.size > 0 and float(times[-1] - times[0]) > 360.0
    x = times / 60.0 if in_hours else times
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    for curve in comparison.curves:
        output = parent_output(curve.model, analyte)
        style = "--" if curve.model.evidence == "secondary" else "-"
        ax.plot(
            x,
            curve.concentrations_ng_per_ml[output],
            linestyle=style,
            label=f"{curve.model.id} ({output.removesuffix('_plasma')})",
        )
    ax.set_xlabel("time (h)" if in_hours else "time (min)")
    ax.set_ylabel("plasma concentration (ng/mL)")
    heading = title or "; ".join(d.describe() for d in comparison.regimen)
    ax.set_title("\n".join(textwrap.fill(line, 95) for line in heading.split("\n")), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
