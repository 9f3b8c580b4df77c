"""Figures of individual fits: observations over the predicted 90% band (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketasim.estimation.result import IndividualFit

__all__ = ["plot_fits"]


def plot_fits(
    fits: Sequence[IndividualFit],
    path: str | Path,
    *,
    time_unit: str = "h",
    minutes_per_unit: float = 60.0,
    title: str | None = None,
) -> Path:
    """One row per individual, one column per analyte: measured levels (dots), the MAP
    individual prediction (line) with its 90% band (shaded) and the typical patient (dashed).
    Time on the x axis is in ``time_unit`` (``minutes_per_unit`` minutes each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    analytes: list[str] = []
    for fit in fits:
        for r in fit.rows:
            if r.analyte not in analytes:
                analytes.append(r.analyte)
    n_rows, n_cols = len(fits), max(1, len(analytes))
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(4.2 * n_cols, 3.2 * n_rows), dpi=120, squeeze=False
    )
    for i, fit in enumerate(fits):
        assert fit.problem is not None
        t_end = max(r.time_min for r in fit.rows) * 1.1 + 1.0
        grid = np.linspace(0.0, t_end, 400)
        for j, analyte in enumerate(analytes):
            ax = axes[i][j]
            band = fit.predict(grid, analyte)
            typical = fit.problem.conc(np.zeros(fit.u_map.size), grid, [analyte] * grid.size)
            x = grid / minutes_per_unit
            ax.fill_between(
                x, band.p05, band.p95, color="#1f77b4", alpha=0.25, label="90% band (individual)"
            )
            ax.plot(x, band.ipred, color="#1f77b4", label="individual (MAP)")
            ax.plot(x, typical, color="grey", linestyle="--", label="typical patient")
            obs = [
                r
                for r in fit.rows
                if r.analyte == analyte and r.mdv == 0 and r.dv_ng_per_ml is not None
            ]
            ax.plot(
                [r.time_min / minutes_per_unit for r in obs],
                [r.dv_ng_per_ml for r in obs],
                "o",
                color="#d62728",
                label="measured",
            )
            ax.set_yscale("log")
            floor = [
                v
                for v in [*(r.dv_ng_per_ml for r in obs), float(band.p05[-1])]
                if v is not None and v > 0
            ]
            if floor:
                ax.set_ylim(bottom=0.3 * min(floor))
            ax.set_title(f"ID {fit.id}: {analyte}", fontsize=9)
            ax.set_xlabel(f"time ({time_unit})")
            ax.set_ylabel("concentration (ng/mL)")
            ax.grid(alpha=0.3, which="both")
            if i == 0 and j == 0:
                ax.legend(frameon=False, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
