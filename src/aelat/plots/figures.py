"""The report's other figures: training curve, reconstructions, sliced-Wasserstein heatmap."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from aelat.plots import plt, save
from aelat.plots.images import as_image


def plot_training_curve(log: np.ndarray, title: str, path: Path) -> None:
    """Train and test loss per epoch from train_log.csv (a structured array with named columns)."""
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.plot(log["epoch"], log["train_loss"], marker="o", ms=3, label="train")
    ax.plot(log["epoch"], log["test_loss"], marker="o", ms=3, label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training objective")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=10)
    save(fig, path)


def plot_reconstructions(rows: Mapping[str, np.ndarray], title: str, path: Path) -> None:
    """A grid of images: one row per entry of ``rows`` (e.g. input, latent, pca), shape (m, C, H, W) or (m, D)."""
    names = list(rows)
    m = len(rows[names[0]])
    # constrained layout makes room for the row labels, however few the columns
    fig, axes = plt.subplots(len(names), m, figsize=(0.9 * m + 1.2, 1.0 * len(names) + 0.5), squeeze=False,
                             layout="constrained")
    for r, name in enumerate(names):
        for c in range(m):
            ax = axes[r, c]
            ax.imshow(as_image(rows[name][c]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title, fontsize=10)
    save(fig, path)


def plot_heatmaps(matrices: Mapping[str, np.ndarray], labels: Sequence[str], title: str, path: Path,
                  colour_label: str = "") -> None:
    """Class-by-class distance matrices side by side on one colour scale, values in the cells."""
    matrices = {name: np.asarray(m, dtype=float) for name, m in matrices.items()}
    top = max(float(m.max()) for m in matrices.values()) or 1.0
    side = 0.5 * len(labels) + 1.0
    ncols = min(len(matrices), 2)
    nrows = -(-len(matrices) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(side * ncols + 1.5, side * nrows + 0.8),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[len(matrices):]:
        ax.set_axis_off()
    for ax, (name, matrix) in zip(axes.flat, matrices.items()):
        image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=top)
        ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        if len(labels) <= 12:
            for (i, j), value in np.ndenumerate(matrix):
                colour = "white" if value < top / 2 else "black"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color=colour)
        ax.set_title(name, fontsize=10)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label=colour_label)
    fig.suptitle(title)
    save(fig, path)
