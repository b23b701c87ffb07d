"""A sweep's metrics against latent size: one line per representation, a band for the spread across seeds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from aelat.plots import plt, save

# Colour by the representation drawn or mapped, line style and marker by the map method, so a
# series reads as "<method> of <representation>" at a glance and no two look alike.
COLOURS = {"raw": "#555555", "pca": "C1", "untrained": "C2", "latent": "C0"}
EXTRA_COLOURS = ("C4", "C5", "C6", "C8", "C9", "C3")
STYLES = {None: ("-", "o"), "pca": ("--", "s"), "tsne": (":", "^"), "umap": ("-.", "D")}
EXTRA_STYLES = ((0, (5, 1, 1, 1)), "v"), ((0, (1, 2)), "P")
CONSTANT = ("raw",)  # a representation (and its maps) that does not depend on latent_dim: horizontal lines
LEGEND_COLUMNS = 4
# Metrics whose values span orders of magnitude across representations (raw pixels' MMD² is ~50x
# a 16-d latent's): a symmetric log axis, linear near 0 where unbiased estimates can be negative.
SYMLOG = {"distribution.gaussianity.pooled.mmd2": 1e-2}


def plot_metric_vs_latent(groups: Sequence[dict], metric: str, ylabel: str, title: str, path: Path) -> bool:
    """Mean of ``metric`` per latent size (log2 axis) with a min–max band across seeds.

    ``groups`` are :func:`aelat.summarize.aggregate` rows of one dataset and model. Returns False
    (and writes nothing) when no group has the metric.
    """
    if not any(metric in g["stats"] for g in groups):
        return False
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    draw_metric(ax, groups, metric, ylabel)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right center", fontsize=8)
    ax.set_title(f"{title}\n(mean across seeds; band: min–max)", fontsize=10)
    save(fig, path)
    return True


def plot_overview(groups: Sequence[dict], metrics: Sequence[tuple[str, str]], title: str, path: Path) -> bool:
    """Every (ylabel, metric) the groups have, one panel each, in one figure; False when none."""
    present = [(label, metric) for label, metric in metrics if any(metric in g["stats"] for g in groups)]
    if not present:
        return False
    columns = min(3, len(present))
    rows = math.ceil(len(present) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), layout="constrained", squeeze=False)
    for ax, (label, metric) in zip(axes.flat, present):
        draw_metric(ax, groups, metric, label)
        ax.set_title(label, fontsize=10)
    for ax in axes.flat[len(present):]:
        ax.set_visible(False)
    legend = {}
    for ax in axes.flat[: len(present)]:  # every series, also those only some panels have
        legend |= dict(zip(*reversed(ax.get_legend_handles_labels())))
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=min(len(legend), LEGEND_COLUMNS),
               fontsize=9)
    fig.suptitle(f"{title} (mean across seeds; band: min–max)", fontsize=11)
    save(fig, path)
    return True


def draw_metric(ax, groups: Sequence[dict], metric: str, ylabel: str) -> None:
    """One line per representation against latent size on ``ax``; latent-free baselines as horizontal lines."""
    by_rep: dict[str, list[dict]] = {}
    for group in groups:
        if metric in group["stats"]:
            by_rep.setdefault(group["representation"], []).append(group)
    dims = sorted({g["latent_dim"] for rows in by_rep.values() for g in rows})
    for rep, rows in by_rep.items():
        method, source = split_name(rep)
        colour, (line, marker) = series_style(rep)
        if source in CONSTANT:
            values = np.concatenate([g["stats"][metric]["values"] for g in rows])
            ax.axhline(values.mean(), color=colour, ls=line, lw=1.5, label=f"{rep} (no latent)")
            ax.axhspan(values.min(), values.max(), color=colour, alpha=0.10, lw=0)
            continue
        rows = sorted(rows, key=lambda g: g["latent_dim"])
        x = [g["latent_dim"] for g in rows]
        stats = [g["stats"][metric] for g in rows]
        ax.plot(x, [s["mean"] for s in stats], ls=line, marker=marker, ms=4, color=colour, label=rep)
        ax.fill_between(x, [s["min"] for s in stats], [s["max"] for s in stats], color=colour, alpha=0.15, lw=0)
    ax.set_xscale("log", base=2)
    if metric in SYMLOG:
        ax.set_yscale("symlog", linthresh=SYMLOG[metric])
        ax.set_ylim(bottom=max(ax.get_ylim()[0], -SYMLOG[metric]))  # room for small negative estimates only
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.set_xlabel("latent_dim")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def split_name(rep: str) -> tuple[str | None, str]:
    """``"tsne(latent)"`` -> ("tsne", "latent"); a representation itself -> (None, its name)."""
    if rep.endswith(")") and "(" in rep:
        method, source = rep[:-1].split("(", 1)
        return method, source
    return None, rep


def series_style(rep: str) -> tuple[str, tuple]:
    """(colour, (line style, marker)) of a series: colour from the representation, style from the map method."""
    method, source = split_name(rep)
    colour = COLOURS.get(source) or EXTRA_COLOURS[sum(map(ord, source)) % len(EXTRA_COLOURS)]
    style = STYLES.get(method) or EXTRA_STYLES[sum(map(ord, method)) % len(EXTRA_STYLES)]
    return colour, style
