"""A sweep's metric against latent size: one line per representation, a band for the spread across seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from aelat.plots import plt, save

CONSTANT = ("raw",)  # baselines that do not depend on latent_dim: drawn as horizontal lines


def plot_metric_vs_latent(groups: Sequence[dict], metric: str, ylabel: str, title: str, path: Path) -> bool:
    """Mean of ``metric`` per latent size (log2 axis) with a min–max band across seeds.

    ``groups`` are :func:`aelat.summarize.aggregate` rows of one dataset and model. Returns False
    (and writes nothing) when no group has the metric.
    """
    by_rep: dict[str, list[dict]] = {}
    for group in groups:
        if metric in group["stats"]:
            by_rep.setdefault(group["representation"], []).append(group)
    if not by_rep:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    dims = sorted({g["latent_dim"] for rows in by_rep.values() for g in rows})
    for index, (rep, rows) in enumerate(by_rep.items()):
        colour = f"C{index}"
        if rep in CONSTANT:
            values = np.concatenate([g["stats"][metric]["values"] for g in rows])
            ax.axhline(values.mean(), color=colour, ls="--", lw=1.5, label=f"{rep} (no latent)")
            ax.axhspan(values.min(), values.max(), color=colour, alpha=0.12, lw=0)
            continue
        rows = sorted(rows, key=lambda g: g["latent_dim"])
        x = [g["latent_dim"] for g in rows]
        stats = [g["stats"][metric] for g in rows]
        ax.plot(x, [s["mean"] for s in stats], marker="o", ms=4, color=colour, label=rep)
        ax.fill_between(x, [s["min"] for s in stats], [s["max"] for s in stats], color=colour, alpha=0.18, lw=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.set_xlabel("latent_dim")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}\n(mean across seeds; band: min–max)", fontsize=10)
    save(fig, path)
    return True
