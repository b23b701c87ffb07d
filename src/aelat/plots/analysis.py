"""Figures of `aelat analyse`: metrics over epochs and layers, aligned maps over epochs, Jacobian geometry."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from aelat.plots import plt, save
from aelat.plots.scatter import class_legend, scatter_panel, class_colours

BASELINE_STYLE = {"raw": dict(color="0.35", ls="--"), "pca": dict(color="tab:blue", ls=":"),
                  "untrained": dict(color="tab:red", ls="-.", alpha=0.6)}
ENCODER_STYLE = {"trained": dict(color="black", marker="o"), "untrained": dict(color="tab:red", marker="s", alpha=0.7),
                 "pca": dict(color="tab:blue", marker="^", alpha=0.8)}


def _grid(n_panels: int, width: float = 4.0, height: float = 3.1, columns: int = 4):
    columns = min(columns, n_panels)
    rows = math.ceil(n_panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows + 0.6), layout="constrained",
                             squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def _finish(fig, axes: list, title: str, path: Path) -> None:
    """Grid lines, one legend below the panels (the first panel's entries), the title; save."""
    for ax in axes:
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=9)
    fig.suptitle(title, fontsize=11)
    save(fig, path)


def plot_dynamics(epochs: np.ndarray, curves: Mapping[str, np.ndarray], baselines: Mapping[str, Mapping[str, float]],
                  title: str, path: Path) -> None:
    """One panel per metric: the latent at each snapshot epoch, baselines as horizontal lines.

    ``curves``: panel label -> values per epoch; ``baselines``: panel label -> {baseline name: value}.
    """
    fig, axes = _grid(len(curves))
    for ax, (label, values) in zip(axes, curves.items()):
        ax.plot(epochs, values, marker="o", ms=4, color="black", label="latent (trained)")
        for name, value in baselines.get(label, {}).items():
            ax.axhline(value, lw=1.2, label=name, **BASELINE_STYLE.get(name, {}))
        ax.set_xscale("symlog", linthresh=1)  # snapshots double in spacing: 0, 1, 2, 4, 8, ...
        ax.set_xticks(epochs, [str(int(e)) for e in epochs], fontsize=8)
        ax.minorticks_off()
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=10)
    _finish(fig, axes, title, path)


def plot_map_strip(epochs: Sequence[int], maps: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   title: str, path: Path) -> None:
    """The aligned maps (s, n, 2) side by side on shared axes, one panel per epoch."""
    colours = class_colours(len(class_names))
    columns = min(len(epochs), 6)
    rows = math.ceil(len(epochs) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.9 * columns + 1.2, 2.9 * rows + 0.5), sharex=True, sharey=True,
                             layout="constrained", squeeze=False)
    for ax in axes.flat[len(epochs):]:
        ax.set_visible(False)
    for ax, epoch, points in zip(axes.flat, epochs, maps):
        scatter_panel(ax, points, labels, colours, f"epoch {epoch}" + (" (untrained)" if epoch == 0 else ""))
    class_legend(fig, colours, class_names)
    fig.suptitle(title, fontsize=11)
    save(fig, path)


def plot_layers(names: Sequence[str], panels: Mapping[str, Mapping[str, Sequence[float]]], title: str,
                path: Path) -> None:
    """One panel per metric against the layer (input ... latent), one line per encoder; a metric with one value
    fewer than the layers is one per pair of consecutive layers, drawn between them."""
    fig, axes = _grid(len(panels), width=3.6, columns=5)
    positions = np.arange(len(names))
    for ax, (label, lines) in zip(axes, panels.items()):
        for encoder, values in lines.items():
            values = np.asarray(values, dtype=float)
            at = positions if len(values) == len(names) else positions[:-1] + 0.5
            ax.plot(at, values, label=encoder, ms=4, **ENCODER_STYLE.get(encoder, {}))
        ax.set_xticks(positions, names, rotation=30, ha="right", fontsize=8)
        ax.set_title(label, fontsize=10)
    _finish(fig, axes, title, path)


def plot_geometry(spectra: Mapping[str, np.ndarray], ratios: Mapping[str, Mapping[str, tuple[float, float, float]]],
                  title: str, path: Path) -> None:
    """Left: mean log10 singular value by index per encoder. Right: between/within stretch ratio per class with
    its interval (``ratios``: encoder -> class -> (ratio, low, high)), 1 marked."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained", width_ratios=(1, 1.6))
    for encoder, singular in spectra.items():
        with np.errstate(divide="ignore"):
            mean_log = np.log10(singular).mean(axis=0)
        left.plot(np.arange(1, len(mean_log) + 1), mean_log, label=encoder, ms=4, **ENCODER_STYLE.get(encoder, {}))
    left.set_xlabel("singular value index i")
    left.set_ylabel("mean log10 σᵢ of J = ∂g/∂x")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    classes = list(next(iter(ratios.values())))
    width = 0.8 / len(ratios)
    for offset, (encoder, per_class) in enumerate(ratios.items()):
        values = np.array([per_class[c] for c in classes], dtype=float)
        x = np.arange(len(classes)) + (offset - (len(ratios) - 1) / 2) * width
        error = np.abs(values[:, 1:].T - values[:, 0])
        style = {k: v for k, v in ENCODER_STYLE.get(encoder, {}).items()}
        right.errorbar(x, values[:, 0], yerr=error, ls="none", ms=5, capsize=2, label=encoder, **style)
    right.axhline(1.0, color="0.5", lw=1)
    right.set_xticks(np.arange(len(classes)), classes)
    right.set_xlabel("class")
    right.set_ylabel("stretch towards other class / same class")
    right.grid(alpha=0.3, axis="y")
    right.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    save(fig, path)


def animate_maps(epochs: Sequence[int], maps: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                 title: str, path: Path, steps: int = 4) -> None:
    """An animated GIF of the aligned maps (s, n, 2): each snapshot held, ``steps`` linear in-between frames
    to the next, so the eye follows each point.

    Each frame is rendered and the GIF assembled in memory, as matplotlib's PillowWriter does, then written
    to ``path`` in one step. PillowWriter itself writes only to a file whose extension names the format,
    which ``path`` (a temporary) lacks: a folder of its own in /tmp would outlive a killed command.
    """
    from io import BytesIO

    from PIL import Image

    from aelat.artifacts import write_bytes

    colours = class_colours(len(class_names))
    frames: list[tuple[np.ndarray, str]] = []  # (points, caption)
    for t, epoch in enumerate(epochs):
        frames += [(maps[t], f"epoch {epoch}")] * 3  # hold each snapshot
        if t + 1 < len(epochs):
            frames += [((1 - f) * maps[t] + f * maps[t + 1], f"epoch {epoch} → {epochs[t + 1]}")
                       for f in np.linspace(0, 1, steps + 2)[1:-1]]
    fig, ax = plt.subplots(figsize=(5.5, 5.2), layout="constrained")
    low, high = maps.reshape(-1, 2).min(axis=0), maps.reshape(-1, 2).max(axis=0)
    pad = 0.05 * (high - low + 1e-12)
    ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
    ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
    ax.set_xticks([])
    ax.set_yticks([])
    size = float(np.clip(2e4 / max(len(labels), 1), 0.5, 20))
    points = ax.scatter(*frames[0][0].T, c=colours[labels], s=size, linewidths=0)
    caption = ax.set_title("", fontsize=10)

    dpi, fps = 80, 6
    width, height = (int(inches * dpi) for inches in fig.get_size_inches())
    images = []
    try:
        for points_now, step in frames:
            points.set_offsets(points_now)
            caption.set_text(f"{title}: {step}")
            rgba = BytesIO()
            fig.savefig(rgba, format="rgba", dpi=dpi)
            images.append(Image.frombuffer("RGBA", (width, height), rgba.getbuffer(), "raw", "RGBA", 0, 1))
        gif = BytesIO()
        images[0].save(gif, format="GIF", save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
        write_bytes(path, gif.getvalue())
    finally:
        plt.close(fig)
