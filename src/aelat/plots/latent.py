"""Figures of Q = g#P itself: marginals of its widest dimensions by class, a corner plot of the
widest pairs, and per-class Gaussianity next to the pooled one.

The corner plot is drawn with matplotlib by hand: the packages that draw one (corner, seaborn's
pairplot) would be a dependency for a dozen lines, and neither colours many classes on a sample
the way the other figures do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.patches import Patch

from aelat.plots import plt, save
from aelat.plots.scatter import class_colours
from aelat.plots.sweep import series_style
from aelat.sampling import seeded_subset

GAP = 0.6  # extra space between the pooled bars and the classes'


def widest_dimensions(Z: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` dimensions of largest variance, widest first."""
    return np.argsort(-Z.var(axis=0), kind="stable")[:count]


def plot_marginals(Z: np.ndarray, y: np.ndarray, class_names: Sequence[str], title: str, path: Path,
                   count: int = 6) -> None:
    """One panel per dimension (the ``count`` of largest variance): the marginal of all points, then
    of each class, as violins."""
    dims = widest_dimensions(Z, count)
    colours = class_colours(len(class_names))
    classes = np.unique(y)
    columns = min(3, len(dims))
    rows = -(-len(dims) // columns)
    panel = max(0.45 * (len(classes) + 1), 2.3)  # a violin per class, but room for the panel's title
    fig, axes = plt.subplots(rows, columns, figsize=(panel * columns + 1.5, 2.6 * rows + 0.6),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[len(dims):]:
        ax.set_visible(False)
    for ax, dim in zip(axes.flat, dims):
        groups = [Z[:, dim]] + [Z[y == c, dim] for c in classes]
        parts = ax.violinplot(groups, showextrema=False, widths=0.85)
        for body, colour in zip(parts["bodies"], ["#777777", *(colours[c] for c in classes)]):
            body.set_facecolor(colour)
            body.set_edgecolor(colour)
            body.set_alpha(0.75)
        ax.set_xticks(range(1, len(groups) + 1), ["all", *(class_names[c] for c in classes)], fontsize=7)
        ax.set_title(f"dimension {dim} (variance {Z[:, dim].var():.3g})", fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    save(fig, path)


def plot_corner(Z: np.ndarray, y: np.ndarray, class_names: Sequence[str], title: str, path: Path,
                count: int = 4, max_points: int = 3000, seed: int = 0) -> None:
    """Pairwise scatter of the ``count`` widest dimensions below the diagonal (a seeded sample of
    ``max_points``), each dimension's per-class histogram on it."""
    dims = widest_dimensions(Z, count)
    colours = class_colours(len(class_names))
    rows = seeded_subset(len(Z), max_points, seed, "max_points")
    sample, labels = Z[rows], y[rows]
    n = len(dims)
    fig, axes = plt.subplots(n, n, figsize=(2.1 * n + 1.4, 2.1 * n + 0.4), layout="constrained", squeeze=False)
    size = float(np.clip(3e3 / len(sample), 0.5, 6))
    for i, di in enumerate(dims):
        for j, dj in enumerate(dims):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                bins = np.histogram_bin_edges(Z[:, di], bins=30)
                for c in np.unique(y):
                    ax.hist(Z[y == c, di], bins=bins, histtype="step", color=colours[c], density=True, lw=1)
                ax.set_yticks([])
            else:
                ax.scatter(sample[:, dj], sample[:, di], c=colours[labels], s=size, linewidths=0, rasterized=True)
            ax.tick_params(labelsize=6)
            if i == n - 1:
                ax.set_xlabel(f"dim {dj}", fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(f"dim {di}", fontsize=8)
    handles = [Patch(color=colours[c], label=class_names[c]) for c in range(len(class_names))]
    fig.legend(handles=handles, loc="outside right center", title="class", frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    save(fig, path)


def plot_gaussianity(gaussianity: Mapping[str, dict], class_names: Sequence[str], title: str, path: Path,
                     alpha: float = 0.05) -> None:
    """MMD² of each class-conditional distribution to its moment-matched Gaussian, next to the pooled
    one, one bar per representation; hatched bars have a permutation p-value >= ``alpha`` (no
    detectable departure from that Gaussian).

    ``gaussianity`` maps a representation's name to metrics.json's ``distribution.gaussianity``
    block (``pooled`` and ``per_class``, each with ``mmd2`` and ``p_value``).
    """
    names = list(gaussianity)
    classes = sorted(next(iter(gaussianity.values()))["per_class"], key=int)
    groups = ["pooled", *classes]
    ticks = np.arange(len(groups)) + GAP * (np.arange(len(groups)) > 0)  # pooled apart from the classes
    width = 0.8 / len(names)
    width_inches = min(12.0, max(6.5, 2.0 + 0.22 * len(groups) * len(names)))
    fig, ax = plt.subplots(figsize=(width_inches, 4.0), layout="constrained")
    for r, name in enumerate(names):
        colour = series_style(name)[0]
        block = gaussianity[name]
        values = [block["pooled"] if g == "pooled" else block["per_class"][g] for g in groups]
        bars = ax.bar(ticks + (r - (len(names) - 1) / 2) * width, [v["mmd2"] for v in values], width,
                      color=colour, edgecolor=colour, label=name)
        for bar, v in zip(bars, values):
            if v["p_value"] >= alpha:
                bar.set_hatch("////")
                bar.set_facecolor("white")
    ax.set_xticks(ticks, ["pooled", *(class_names[int(c)] for c in classes)], fontsize=8)
    if len(ticks) > 1:
        ax.axvline((ticks[0] + ticks[1]) / 2, color="#999999", lw=0.8, ls=":")
    ax.axhline(0, color="#333333", lw=0.6)
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_ylim(top=2 * max(max(b["pooled"]["mmd2"], *(c["mmd2"] for c in b["per_class"].values()))
                            for b in gaussianity.values()))
    ax.set_ylabel("MMD² to its Gaussian\n(≈ 0: Gaussian)")
    ax.set_xlabel("all classes pooled | each class")
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="////"))
    labels.append(f"p ≥ {alpha}: no detectable departure from the Gaussian")
    fig.legend(handles, labels, fontsize=8, ncols=len(labels) if width_inches >= 10 else 3, loc="outside lower center")
    ax.set_title(title, fontsize=10)
    save(fig, path)
