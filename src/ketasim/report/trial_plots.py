"""Figures of virtual trials: percentile bands of concentration over time, per arm and output."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plot_bands", "plot_frontier"]

_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _pair(columns: list[str]) -> list[tuple[str, str]]:
    """Symmetric percentile pairs (outermost first), e.g. [('p5', 'p95'), ('p25', 'p75')]."""
    values = sorted(float(c[1:]) for c in columns)
    pairs = []
    for low in values:
        high = 100.0 - low
        if low < high and high in values:
            pairs.append((f"p{low:g}", f"p{high:g}"))
    return pairs


def plot_bands(
    summary: pd.DataFrame,
    path: str | Path,
    *,
    title: str | None = None,
    variability: Mapping[str, str] | None = None,
    log_y: bool = False,
) -> Path:
    """One panel per output (``ketamine_plasma``, ...): median line and shaded percentile bands
    (ng/mL) over time for each arm. Arms whose variability is assumed say so in the legend.

    ``summary`` is :attr:`ketasim.population.TrialResult.summary`. Returns the written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outputs = list(dict.fromkeys(summary["output"]))
    arms = list(dict.fromkeys(summary["arm"]))
    pcols = [c for c in summary.columns if c.startswith("p") and c[1:].replace(".", "").isdigit()]
    pairs = _pair(pcols)
    median = "p50" if "p50" in pcols else None
    fig, axes = plt.subplots(
        len(outputs), 1, figsize=(9, 3.6 * len(outputs)), dpi=110, squeeze=False, sharex=True
    )
    t_max = float(summary["time_min"].max())
    in_hours = t_max > 360.0
    for ax, output in zip(axes[:, 0], outputs, strict=True):
        for k, arm in enumerate(arms):
            rows = summary[(summary["output"] == output) & (summary["arm"] == arm)]
            if rows.empty:
                continue
            colour = _PALETTE[k % len(_PALETTE)]
            x = rows["time_min"].to_numpy() / (60.0 if in_hours else 1.0)
            for j, (lo, hi) in enumerate(pairs):
                ax.fill_between(
                    x,
                    rows[lo].to_numpy(),
                    rows[hi].to_numpy(),
                    color=colour,
                    alpha=0.15 + 0.12 * j,
                    linewidth=0,
                    label=f"{lo[1:]}-{hi[1:]}th pct" if k == 0 else None,
                )
            label = arm
            if variability and variability.get(arm, "").startswith("ASSUMED"):
                label += " (ASSUMED variability)"
            if median is not None:
                ax.plot(
                    x,
                    rows[median].to_numpy(),
                    color=colour,
                    linewidth=1.5,
                    label=f"{label}: median",
                )
        analyte, _, site = output.rpartition("_")
        ax.set_ylabel(f"{analyte} {site}\n(ng/mL)")
        if log_y:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    axes[-1, 0].set_xlabel("time (h)" if in_hours else "time (min)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_frontier(
    table: pd.DataFrame,
    path: str | Path,
    *,
    objective: str,
    constraint: str | None,
    limit: float | None = None,
    title: str | None = None,
) -> Path:
    """Regimen search: objective (y) against the first constrained value (x) for every
    candidate; feasible candidates filled, the Pareto frontier joined by a line, each labelled
    with its regimen. Returns the written path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    x = table[constraint] if constraint else table.index.to_series()
    y = table["objective"]
    feasible = table["feasible"].to_numpy(dtype=bool)
    ax.scatter(x[feasible], y[feasible], color="#1f77b4", label="feasible", zorder=3)
    ax.scatter(
        x[~feasible],
        y[~feasible],
        facecolors="none",
        edgecolors="#d62728",
        label="violates a constraint",
        zorder=3,
    )
    front = table[table["frontier"]].sort_values(constraint if constraint else "objective")
    fx = front[constraint] if constraint else front.index.to_series()
    ax.plot(fx, front["objective"], color="#2ca02c", linewidth=1.2, label="frontier", zorder=2)
    for xi, yi, text in zip(x, y, table["regimen"], strict=True):
        ax.annotate(str(text), (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if limit is not None:
        ax.axvline(limit, color="#d62728", linestyle="--", linewidth=1, label="constraint limit")
    ax.set_xlabel(constraint or "candidate")
    ax.set_ylabel(objective)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
