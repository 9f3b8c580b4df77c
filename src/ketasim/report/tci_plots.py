"""Figures of a TCI plan (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ketasim.tci.manual import ManualScheme
    from ketasim.tci.performance import TciPerformance
    from ketasim.tci.plan import TciPlan

__all__ = ["manual_figure", "plot_manual", "plot_tci", "plot_tci_performance"]


def plot_tci(plan: TciPlan, path: str | Path, *, title: str | None = None) -> Path:
    """Two panels: concentrations (ng/mL) with the target, and pump rate (mL/h) with the
    cumulative dose (mg). Returns the written path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    t = plan.times_min
    fig, (ax, ax_rate) = plt.subplots(
        2, 1, figsize=(8, 6.5), dpi=120, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    conc = plan.concentrations_ng_per_ml
    plasma = conc[f"{plan.analyte}_plasma"]
    ax.plot(t, plasma, color="#1f77b4", label=f"{plan.analyte} plasma")
    if f"{plan.analyte}_effect" in conc:
        ax.plot(
            t,
            conc[f"{plan.analyte}_effect"],
            color="#d62728",
            linestyle="--",
            label=f"{plan.analyte} effect site",
        )
    ax.step(
        t,
        plan.target_at(t),
        where="post",
        color="black",
        linewidth=0.8,
        label=f"target ({plan.site})",
    )
    top = float(np.percentile(plasma, 99)) * 1.15 if plasma.size else 1.0
    ax.set_ylim(0, max(top, float(np.max(plan.target_at(t))) * 1.3))
    ax.set_ylabel("concentration (ng/mL)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or f"{plan.model_id}: {plan.site}-site TCI")
    rate = np.append(plan.rate_ml_per_h, 0.0)[: t.size]
    ax_rate.step(t, rate, where="post", color="#2ca02c")
    ax_rate.set_ylabel("pump rate (mL/h)", color="#2ca02c")
    ax_rate.set_xlabel("time (min)")
    ax_rate.grid(alpha=0.3)
    ax_cum = ax_rate.twinx()
    ax_cum.plot(t, plan.cumulative_mg, color="#9467bd")
    ax_cum.set_ylabel("cumulative dose (mg)", color="#9467bd")
    ax_cum.set_ylim(bottom=0)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_tci_performance(
    perf: TciPerformance, path: str | Path, *, title: str | None = None
) -> Path:
    """Performance error (%) over time across the true patients: median and 10th-90th
    percentile band, with Varvel's population summary in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = perf.sample_times_min
    q = perf.pe_quantiles_percent
    s = perf.summary()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    ax.fill_between(t, q[0], q[2], color="#1f77b4", alpha=0.25, label="PE 10th-90th percentile")
    ax.plot(t, q[1], color="#1f77b4", label="median PE")
    ax.axhline(0.0, color="black", linewidth=0.8)
    text = (
        f"MDPE {s['mdpe_percent']['median']:.1f}%, MDAPE {s['mdape_percent']['median']:.1f}%"
        f", divergence {s['divergence_percent_per_h']['median']:.1f}%/h, wobble "
        f"{s['wobble_percent']['median']:.1f}% (medians over {len(perf.per_patient)})"
    )
    ax.set_title(
        title
        or f"TCI from {perf.plan_model_id} in patients from "
        f"{perf.true_model_id} ({perf.site})\n{text}",
        fontsize=9,
    )
    ax.set_xlabel("time (min)")
    ax.set_ylabel("performance error (%)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def manual_figure(scheme: ManualScheme, *, title: str | None = None) -> Figure:
    """Two panels for a manual scheme: predicted concentrations (ng/mL, 10-s grid) with the
    target and the +-10% band, and the pump rate (mL/h) with the boluses marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    t = np.arange(0.0, scheme.duration_min + 1e-9, 1.0 / 6.0)
    conc = scheme.concentrations_at(t)
    target = np.array([scheme.targets.at(float(x)) for x in t])
    fig, (ax, ax_rate) = plt.subplots(
        2, 1, figsize=(8, 6.0), dpi=120, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    ax.fill_between(
        t,
        0.9 * target,
        1.1 * target,
        step="post",
        color="#9e9e9e",
        alpha=0.25,
        lw=0,
        label="target +-10%",
    )
    ax.step(t, target, where="post", color="black", linewidth=0.8, label=f"target ({scheme.site})")
    ax.plot(t, conc[f"{scheme.analyte}_plasma"], color="#1f77b4", label=f"{scheme.analyte} plasma")
    if f"{scheme.analyte}_effect" in conc:
        ax.plot(
            t,
            conc[f"{scheme.analyte}_effect"],
            color="#d62728",
            linestyle="--",
            label=f"{scheme.analyte} effect site",
        )
    top = float(np.max(conc[f"{scheme.analyte}_{scheme.site}"])) * 1.3
    ax.set_ylim(0, max(top, float(np.max(target)) * 1.3))
    ax.set_ylabel("concentration (ng/mL)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or f"{scheme.model_id}: manual {scheme.settings.mode} scheme", fontsize=10)
    times = [s.time_min for s in scheme.steps] + [scheme.duration_min]
    rates = [s.rate_ml_per_h for s in scheme.steps]
    if rates:
        ax_rate.step(times, [*rates, rates[-1]], where="post", color="#2ca02c")
    for s in scheme.steps:
        if s.bolus_mg > 0:
            ax_rate.annotate(
                f"bolus {s.bolus_mg:g} mg",
                (s.time_min, 0.0),
                xytext=(2, 12),
                textcoords="offset points",
                fontsize=7,
                color="#6a1b9a",
                rotation=90,
            )
            ax_rate.axvline(s.time_min, color="#6a1b9a", lw=0.8, ls=":")
    ax_rate.set_ylim(bottom=0)
    ax_rate.set_ylabel("pump rate (mL/h)", color="#2ca02c")
    ax_rate.set_xlabel("time (min)")
    ax_rate.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_manual(scheme: ManualScheme, path: str | Path, *, title: str | None = None) -> Path:
    """Write :func:`manual_figure` as a PNG; returns the path."""
    import matplotlib.pyplot as plt

    fig = manual_figure(scheme, title=title)
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
