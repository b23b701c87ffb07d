"""Scatter plots of 2-D maps coloured by class."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.font_manager import FontProperties

from aelat.plots import plt, save


def class_colours(n_classes: int) -> np.ndarray:
    """One colour per class, the same across every figure aelat draws."""
    cmap = plt.get_cmap("tab10" if n_classes <= 10 else "tab20")
    return cmap(np.arange(n_classes) % cmap.N)


def scatter_panel(ax, points: np.ndarray, labels: np.ndarray, colours: np.ndarray, title: str) -> None:
    size = float(np.clip(2e4 / max(len(points), 1), 0.5, 20))  # dense maps need small markers
    ax.scatter(points[:, 0], points[:, 1], c=colours[labels], s=size, linewidths=0, rasterized=True)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def class_legend(fig, colours: np.ndarray, class_names: Sequence[str]) -> None:
    """The classes' colours right of the panels, in as many columns as the figure's height needs (a legend
    taller than the figure is cut off)."""
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colours[i], label=name) for i, name in enumerate(class_names)
    ]
    size = FontProperties(size=plt.rcParams["legend.fontsize"]).get_size_in_points() / 72  # inches
    entry = size * (1 + plt.rcParams["legend.labelspacing"])
    rows = max(1, int((fig.get_figheight() - 3 * size) / entry))  # less the title and the borders
    fig.legend(handles=handles, loc="outside right center", title="class", frameon=False,
               ncols=math.ceil(len(handles) / rows))


def plot_map(
    train: np.ndarray,
    y_train: np.ndarray,
    test: np.ndarray,
    y_test: np.ndarray,
    class_names: Sequence[str],
    title: str,
    path: Path,
) -> None:
    """Two panels, fitted train points and transformed test points, with a class legend."""
    colours = class_colours(len(class_names))
    fig, axes = plt.subplots(1, 2, figsize=(12, 6), sharex=True, sharey=True, layout="constrained")
    scatter_panel(axes[0], train, y_train, colours, f"train (fitted), n={len(train)}")
    scatter_panel(axes[1], test, y_test, colours, f"test (placed), n={len(test)}")
    class_legend(fig, colours, class_names)
    fig.suptitle(title)
    save(fig, path)


def plot_map_grid(maps: Mapping[str, tuple[np.ndarray, np.ndarray]], class_names: Sequence[str], title: str, path: Path) -> None:
    """Several maps side by side (same colours, one legend); ``maps`` is panel title -> (points, labels)."""
    colours = class_colours(len(class_names))
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps) + 1, 4.6), layout="constrained", squeeze=False)
    for ax, (panel, (points, labels)) in zip(axes[0], maps.items()):
        scatter_panel(ax, points, labels, colours, panel)
    class_legend(fig, colours, class_names)
    fig.suptitle(title)
    save(fig, path)
