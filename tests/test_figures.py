"""Figures a reader looks at: nothing cut off, no two series alike, every colour bar labelled, Q drawn."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import aelat.artifacts
import aelat.plots
from aelat.plots import figures, latent, sweep


@pytest.fixture
def drawn(monkeypatch):
    """Figures the plot functions save, kept open and drawn instead of written."""
    kept = []

    def keep(fig, path, dpi=110):
        fig.canvas.draw()
        kept.append(fig)

    for module in (aelat.plots, figures, latent, sweep):
        monkeypatch.setattr(module, "save", keep, raising=False)
    yield kept
    for fig in kept:
        aelat.plots.plt.close(fig)


def inside(fig, artist) -> bool:
    box, frame = artist.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    return box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1 and box.y0 >= frame.y0 - 1 and box.y1 <= frame.y1 + 1


ALL_SERIES = ["raw", "pca", "untrained", "latent",
              *(f"{m}({s})" for m, s in itertools.product(("tsne", "pca", "umap"), ("raw", "pca", "untrained", "latent"))
                if (m, s) != ("pca", "pca"))]


def sweep_groups(names):
    rng = np.random.default_rng(0)
    groups = []
    for name, d in itertools.product(names, (2, 4, 8, 16)):
        values = rng.random(2)
        stats = {"values": values, "mean": values.mean(), "std": values.std(), "min": values.min(), "max": values.max()}
        groups.append({"family": "f", "dataset": "digits", "model": "mlp", "latent_dim": d, "representation": name,
                       "n": 2, "seeds": [0, 1], "stats": {"structure.knn_accuracy_10": stats,
                                                          "structure.probe_accuracy": stats}})
    return groups


def test_every_series_of_a_full_run_looks_different_and_keeps_its_representations_colour():
    styles = {name: sweep.series_style(name) for name in ALL_SERIES}
    assert len(set(map(repr, styles.values()))) == len(ALL_SERIES)  # no two alike, however many
    for name in ALL_SERIES:
        method, source = sweep.split_name(name)
        assert styles[name][0] == sweep.series_style(source)[0]  # colour: the representation
        assert styles[name][1] == sweep.series_style(f"{method}(latent)" if method else "latent")[1]  # style: method


def test_sweep_overview_legend_is_whole_with_fifteen_series(drawn, tmp_path):
    metrics = [("kNN@10", "structure.knn_accuracy_10"), ("probe", "structure.probe_accuracy")]
    assert sweep.plot_overview(sweep_groups(ALL_SERIES), metrics, "digits", tmp_path / "s.png")
    fig = drawn[-1]
    (legend,) = fig.legends
    assert inside(fig, legend)
    assert [t.get_text() for t in legend.get_texts()] == [f"{n} (no latent)" if n.endswith("raw)") or n == "raw" else n
                                                         for n in ALL_SERIES]
    assert sweep.plot_metric_vs_latent(sweep_groups(ALL_SERIES), "structure.knn_accuracy_10", "kNN@10", "t",
                                       tmp_path / "m.png")
    assert inside(drawn[-1], drawn[-1].legends[0])


@pytest.mark.parametrize("m", [3, 4, 12])
def test_reconstruction_row_labels_are_not_cut_off(drawn, tmp_path, m):
    rows = {name: np.random.default_rng(0).random((m, 1, 8, 8)) for name in ("input", "latent", "pca", "untrained")}
    figures.plot_reconstructions(rows, "reconstructions", tmp_path / "r.png")
    fig = drawn[-1]
    labels = [ax.yaxis.label for ax in fig.axes if ax.get_ylabel()]
    assert [label.get_text() for label in labels] == list(rows)
    assert all(inside(fig, label) for label in labels)


def test_sliced_wasserstein_colour_bar_is_labelled(drawn, tmp_path):
    matrix = np.array([[0, 1.0], [1.0, 0]])
    figures.plot_heatmaps({"raw": matrix, "latent": matrix / 2}, ["a", "b"], "SW", tmp_path / "h.png",
                          colour_label="sliced W₂ (units of the pooled spread)")
    fig = drawn[-1]
    colour_bar = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colour_bar) == 1 and colour_bar[0].get_ylabel() == "sliced W₂ (units of the pooled spread)"


def test_q_marginals_show_the_widest_dimensions_by_class(drawn, tmp_path):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(600, 8)) * np.array([1, 5, 2, 9, 0.5, 3, 1, 1])
    y = np.arange(600) % 3
    assert list(latent.widest_dimensions(Z, 4)) == list(np.argsort(-Z.var(axis=0))[:4]) == [3, 1, 5, 2]
    latent.plot_marginals(Z, y, ["a", "b", "c"], "Q", tmp_path / "m.png", count=4)
    fig = drawn[-1]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split()[1] for ax in panels] == ["3", "1", "5", "2"]
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["all", "a", "b", "c"]
    latent.plot_corner(Z, y, ["a", "b", "c"], "Q", tmp_path / "c.png", count=3)
    fig = drawn[-1]
    assert sum(ax.get_visible() for ax in fig.axes) == 6 and inside(fig, fig.legends[0])  # lower triangle + diagonal


def test_gaussianity_bars_put_each_class_next_to_the_pooled_one(drawn, tmp_path):
    block = {"pooled": {"mmd2": 0.5, "p_value": 0.005},
             "per_class": {"0": {"mmd2": 0.2, "p_value": 0.005}, "1": {"mmd2": 0.001, "p_value": 0.4}}}
    latent.plot_gaussianity({"pca": block, "latent": block}, ["zero", "one"], "MMD²", tmp_path / "g.png")
    fig = drawn[-1]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pooled", "zero", "one"]
    heights = [bar.get_height() for bar in ax.patches[:6]]
    assert heights == [0.5, 0.2, 0.001] * 2
    hatched = [bool(bar.get_hatch()) for bar in ax.patches[:6]]
    assert hatched == [False, False, True] * 2  # p >= 0.05: no detectable departure
    assert inside(fig, fig.legends[0])


def test_map_animation_is_a_gif_of_every_frame_written_only_where_asked(tmp_path, monkeypatch):
    """The GIF goes to its (extensionless, temporary-like) path in one write: each snapshot held, the
    in-between frames moving the points where the maps put them; nothing is left in the temp folder."""
    from PIL import Image

    from aelat.plots.analysis import animate_maps
    from aelat.plots.scatter import class_colours

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    written = aelat.artifacts.write_bytes
    in_temp = []  # what the temp folder held while the GIF was written (a kill there would leave it)

    def write(path, data):
        in_temp.append(list(scratch.iterdir()))
        written(path, data)

    monkeypatch.setattr(aelat.artifacts, "write_bytes", write)
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 40, 2))
    maps[1, :20, 0] += 30.0  # class 0 moves far right at the second snapshot, back at the third
    out = tmp_path / "maps-temporary"
    animate_maps([1, 2, 4], maps, np.repeat([0, 1], 20), ["a", "b"], "latent", out, steps=2)

    colour = np.asarray(class_colours(2)[0][:3]) * 255
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.size == (440, 416) and gif.info["loop"] == 0
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append((np.asarray(gif.convert("RGB"), dtype=float), gif.info["duration"]))
    # 6 frames a second (166 ms); Pillow merges the three identical frames that hold a snapshot into one
    # of 498 ms, and GIF keeps whole centiseconds
    assert [duration for _, duration in frames] == [490, 160, 160, 490, 160, 160, 490]
    column = [np.argwhere(np.abs(frame - colour).sum(axis=2) < 60)[:, 1].mean() for frame, _ in frames]
    assert column[0] < column[1] < column[2] < column[3]  # class 0 travels right to the second snapshot
    assert column[3] > column[4] > column[5] > column[6]  # and back
    assert abs(column[6] - column[0]) < 0.1 * abs(column[3] - column[0])
    assert in_temp == [[]] and list(scratch.iterdir()) == []


@pytest.mark.parametrize("scale", [{"value": "log"}, {"value": "symlog", "linthresh": 1e-2}, {"value": "log", "base": 2}])
def test_log_axes_are_labelled_in_plain_numbers(tmp_path, scale, monkeypatch):
    """Mathtext is off (names with $ stay text), so log axes' ticks must not be mathtext strings: each
    labelled tick reads as the number it stands at."""
    shown = []
    monkeypatch.setattr(aelat.plots.plt, "close", lambda fig: shown.append(fig))
    fig, ax = aelat.plots.plt.subplots()
    ax.plot([1, 2, 4, 8, 16, 32], [0, 1e-3, 0.1, 1, 10, 100])
    ax.set_yscale(**scale)
    ax.set_xscale(**scale)
    aelat.plots.save(fig, tmp_path / "log.png")
    labels = [(tick.get_text(), value) for axis in (ax.xaxis, ax.yaxis)
              for tick, value in zip(axis.get_ticklabels(), axis.get_ticklocs()) if tick.get_text()]
    assert shown == [fig] and len(labels) >= 4
    for text, value in labels:
        assert float(text) == pytest.approx(value, rel=1e-5), text  # six significant digits
    aelat.plots.plt.close("all")


@pytest.mark.parametrize("n_classes", [2, 10, 20, 40])
def test_the_class_legend_of_a_map_strip_fits_the_figure(drawn, tmp_path, n_classes, monkeypatch):
    """However many classes, every entry of the legend is inside the figure (more columns, not cut off)."""
    from aelat.plots import analysis

    monkeypatch.setattr(analysis, "save", lambda fig, path: drawn.append(fig) or fig.canvas.draw())
    rng = np.random.default_rng(0)
    labels = np.arange(200) % n_classes
    analysis.plot_map_strip([0, 1, 2], rng.normal(size=(3, 200, 2)), labels, [f"class {i}" for i in range(n_classes)],
                            "maps", tmp_path / "strip.png")
    fig = drawn[-1]
    legend = fig.legends[0]
    assert len(legend.get_texts()) == n_classes
    for text in legend.get_texts():
        assert inside(fig, text), text.get_text()


@pytest.mark.parametrize("n_classes", [2, 3, 12])
def test_q_marginals_titles_neither_overlap_nor_leave_the_figure(drawn, tmp_path, n_classes):
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(400, 6)) * np.array([123.4, 56.7, 8.9, 0.12, 3.4, 5.6])
    latent.plot_marginals(Z, np.arange(400) % n_classes, [f"c{i}" for i in range(n_classes)], "Q", tmp_path / "m.png")
    fig = drawn[-1]
    renderer = fig.canvas.get_renderer()
    titles = [ax.title for ax in fig.axes if ax.get_visible()]
    boxes = [title.get_window_extent(renderer) for title in titles]
    assert all(inside(fig, title) for title in titles)
    for first, second in itertools.combinations(boxes, 2):
        assert not first.overlaps(second), (first, second)
