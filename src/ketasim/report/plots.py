"""Figures (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketasim.pk.simulate import SimulationResult

__all__ = ["plot_concentrations"]


def plot_concentrations(
    result: SimulationResult, path: str | Path, *, title: str | None = None
) -> Path:
    """Concentration (ng/mL) vs time: plasma solid, effect site dashed, one colour per analyte.

    Time is shown in minutes up to 6 h and in hours beyond. Returns the written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = result.times_min
    in_hours = times.size > 0 and float(times[-1] - times[0]) > 360.0
    x = times / 60.0 if in_hours else times
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    colours: dict[str, str] = {}
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    for name, values in result.concentrations_ng_per_ml.items():
        analyte, _, site = name.rpartition("_")
        colour = colours.setdefault(analyte, palette[len(colours) % len(palette)])
        ax.plot(
            x,
            values,
            color=colour,
            linestyle="--" if site == "effect" else "-",
            label=f"{analyte} ({site})",
        )
    ax.set_xlabel("time (h)" if in_hours else "time (min)")
    ax.set_ylabel("concentration (ng/mL)")
    import textwrap

    heading = "\n".join(textwrap.fill(line, 95) for line in (title or result.model_id).split("\n"))
    ax.set_title(heading, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
