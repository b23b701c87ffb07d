"""Scatter plots of 2-D maps coloured by class."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from aelat.artifacts import atomic_path  # noqa: E402


def class_colours(n_classes: int) -> np.ndarray:
    """One colour per class, the same across every figure aelat draws."""
    cmap = plt.get_cmap("tab10" if n_classes <= 10 else "tab20")
    return cmap(np.arange(n_classes) % cmap.N)


def plot_map(
    train: np.ndarray,
    y_train: np.ndarray,
    test: np.ndarray,
    y_test: np.ndarray,
    class_names: Sequence[str],
    title: str,
    path: Path,
) -> None:
    """Two panels, fitted train points and transformed test points, with a class legend; written atomically."""
    colours = class_colours(len(class_names))
    fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharex=True, sharey=True, constrained_layout=True)
    for ax, points, labels, name in ((axes[0], train, y_train, "train (fitted)"), (axes[1], test, y_test, "test (placed)")):
        size = float(np.clip(2e4 / max(len(points), 1), 0.5, 20))  # dense maps need small markers
        ax.scatter(points[:, 0], points[:, 1], c=colours[labels], s=size, linewidths=0, rasterized=True)
        ax.set_title(f"{name}, n={len(points)}")
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colours[i], label=name) for i, name in enumerate(class_names)
    ]
    fig.legend(handles=handles, loc="outside right center", title="class", frameon=False)
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
