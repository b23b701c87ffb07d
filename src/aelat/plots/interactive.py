"""report.html: every 2-D map of a run in one self-contained page (Bokeh, inline resources).

The maps share one ColumnDataSource (a row per test point, columns per map), so a box or lasso
selection in one map selects the same points in all of them; hovering shows the point's image,
class, index, kNN vote and mixture cluster; a menu recolours every map by class, cluster or kNN
vote. Bokeh does the drawing and the linking; the only JavaScript here is the two short callbacks
that swap colour columns and count the selection (Bokeh's documented CustomJS mechanism).
"""

from __future__ import annotations

import base64
import contextlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from bokeh.embed import file_html
from bokeh.layouts import column, gridplot, row
from bokeh.models import ColumnDataSource, CustomJS, Div, HoverTool, Select
from bokeh.plotting import figure
from bokeh.resources import INLINE
from bokeh.settings import settings
from matplotlib.colors import to_hex

from aelat.artifacts import write_text
from aelat.plots.scatter import class_colours

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CORRECT, WRONG = "#b8b8b8", "#d62728"  # kNN vote colours: errors stand out
PANEL = 330  # pixels per map


@dataclass(frozen=True)
class Map:
    """One 2-D map of the sampled test points."""

    name: str  # e.g. "tsne(latent)"
    method: str  # tsne, pca, umap
    source: str  # the representation it was made from
    title: str  # panel title
    xy: np.ndarray  # (n, 2)


@dataclass(frozen=True)
class Votes:
    """What one representation says about each sampled test point."""

    label: str  # e.g. "latent (16-d)"
    knn: np.ndarray  # (n,) the kNN vote
    cluster: np.ndarray  # (n,) its mixture component
    cluster_class: dict[int, int]  # component -> the class it is matched to (one-to-one)


def write_page(
    path: Path,
    *,
    title: str,
    intro: Sequence[str],
    class_names: Sequence[str],
    labels: np.ndarray,
    index: np.ndarray,
    thumbnails: Sequence[str] | None,
    maps: Sequence[Map],
    votes: dict[str, Votes],
    k: int,
    figures: Sequence[tuple[str, Path]] = (),
) -> None:
    """Write the page to ``path`` (atomically).

    Parameters
    ----------
    title : str
        Page heading.
    intro : sequence of str
        Paragraphs under the heading (HTML-escaped), e.g. which points are shown.
    class_names : sequence of str
        Name of each class.
    labels, index : ndarray of shape (n,)
        Class and test-set row of each point shown.
    thumbnails : sequence of str or None
        A ``data:`` URI per point (shown on hover), or None for data that are not images.
    maps : sequence of Map
        The maps, each of the same n points.
    votes : dict of str to Votes
        Per representation name (every map's and every map's source), its kNN votes and clusters.
    k : int
        The k of the kNN votes, for the labels.
    figures : sequence of (caption, PNG path)
        Figures shown below the maps, embedded in the page.
    """
    with _uuid_model_ids():  # the same inputs give the same page, whatever the process made before
        palette = [to_hex(c) for c in class_colours(len(class_names))]
        # tags: the representation behind each vote<j>/cluster<j> column, for readers of the page's data
        source = ColumnDataSource(_columns(class_names, palette, labels, index, thumbnails, maps, votes), name="points",
                                  tags=[list(votes)])
        modes = _colour_modes(maps, votes, k)
        key = Div(text=_key(modes[0][0], class_names, palette, k), styles={"font-size": "12px"})
        selected = Div(text="drag a box or lasso in any map: the same points light up in every map",
                       styles={"font-size": "12px", "color": "#555"})

        panels = {m.name: _panel(m, i, source, votes, k, thumbnails is not None) for i, m in enumerate(maps)}
        methods = list(dict.fromkeys(m.method for m in maps))
        sources = list(dict.fromkeys(m.source for m in maps))
        grid = [[panels.get(f"{method}({src})") for src in sources] for method in methods]

        menu = Select(title="colour by", value=modes[0][0], options=[name for name, _ in modes], width=330, name="colour-by")
        keys = {name: _key(name, class_names, palette, k) for name, _ in modes}
        menu.js_on_change("value", CustomJS(args={"source": source, "key": key, "fields": dict(modes), "keys": keys}, code="""
            const data = Object.assign({}, source.data);
            fields[cb_obj.value].forEach((field, i) => { data["colour" + i] = source.data[field]; });
            source.data = data;
            key.text = keys[cb_obj.value];
        """))
        source.selected.js_on_change("indices", CustomJS(args={"source": source, "div": selected}, code="""
            const n = source.selected.indices.length;
            div.text = n ? `${n} of ${source.get_length()} points selected (in every map); click an empty spot to clear`
                         : "drag a box or lasso in any map: the same points light up in every map";
        """))

        header = Div(text=f"<h1 style='margin:4px 0'>{html.escape(title)}</h1>"
                     + "".join(f"<p style='margin:4px 0'>{html.escape(line)}</p>" for line in intro),
                     styles={"font-family": "sans-serif"}, width=PANEL * len(sources))
        parts = [header, row(menu, key), selected, gridplot(grid, toolbar_location="right", merge_tools=True)]
        if figures:
            parts.append(Div(text=_figures_html(figures), width=PANEL * max(len(sources), 3)))
        write_text(path, stable_ids(file_html(column(*parts), resources=INLINE, title=title)))


@contextlib.contextmanager
def _uuid_model_ids() -> Iterator[None]:
    """Bokeh models made in the block get uuid4 ids, which `stable_ids` then numbers by their place in
    the page. Bokeh's default ids count the models made in the process ("p1001", ...), so a page made
    after others (a sweep, a notebook) would differ from the same page made alone."""
    settings.simple_ids.set_value(False)
    try:
        yield
    finally:
        settings.simple_ids.unset_value()


def stable_ids(page: str) -> str:
    """The page with Bokeh's random ids (uuid4: of its elements, its document and, made under
    `_uuid_model_ids`, its models) renamed by order of first appearance, so that the same inputs give
    the same bytes."""
    ids = dict.fromkeys(UUID.findall(page))
    return UUID.sub(lambda found: f"aelat-{list(ids).index(found.group(0))}", page) if ids else page


def _columns(class_names, palette, labels, index, thumbnails, maps, votes) -> dict:
    """One row per point: identity, image, coordinates per map, votes and colours per representation."""
    names = np.asarray(class_names, dtype=object)
    data = {"index": np.asarray(index), "class_name": list(names[labels]), "colour_class": [palette[c] for c in labels]}
    if thumbnails is not None:
        data["thumb"] = list(thumbnails)
    for i, m in enumerate(maps):
        data[f"x{i}"], data[f"y{i}"] = m.xy[:, 0], m.xy[:, 1]
        data[f"colour{i}"] = data["colour_class"]
    for j, (name, v) in enumerate(votes.items()):
        correct = v.knn == labels
        data[f"vote{j}"] = ["correct" if ok else f"wrong: voted {names[p]}" for ok, p in zip(correct, v.knn)]
        data[f"colour_vote{j}"] = [CORRECT if ok else WRONG for ok in correct]
        matched = [v.cluster_class.get(int(c)) for c in v.cluster]
        data[f"cluster{j}"] = [f"{c} (matched to {names[m]})" if m is not None else f"{c} (unmatched)"
                               for c, m in zip(v.cluster, matched)]
        data[f"colour_cluster{j}"] = [palette[m] if m is not None else "#000000" for m in matched]
    return data


def _colour_modes(maps, votes, k) -> list[tuple[str, list[str]]]:
    """(menu entry, the colour column each map shows under it)."""
    column_of = {name: j for j, name in enumerate(votes)}
    return [
        ("class", ["colour_class"] * len(maps)),
        (f"kNN@{k} vote in the map", [f"colour_vote{column_of[m.name]}" for m in maps]),
        (f"kNN@{k} vote in the mapped representation", [f"colour_vote{column_of[m.source]}" for m in maps]),
        ("mixture cluster in the map", [f"colour_cluster{column_of[m.name]}" for m in maps]),
        ("mixture cluster in the mapped representation", [f"colour_cluster{column_of[m.source]}" for m in maps]),
    ]


def _panel(m: Map, i: int, source: ColumnDataSource, votes: dict[str, Votes], k: int, images: bool):
    column_of = {name: j for j, name in enumerate(votes)}
    n = len(m.xy)
    p = figure(width=PANEL, height=PANEL, title=m.title, name=f"map:{m.name}", tools="pan,wheel_zoom,box_select,lasso_select,tap,reset,save",
               active_drag="box_select", active_scroll="wheel_zoom")
    p.title.text_font_size = "11px"
    p.xaxis.visible = p.yaxis.visible = False
    p.grid.visible = False
    size = float(np.clip(90 / np.sqrt(max(n, 1)), 2.0, 7.0))  # dense maps need small dots
    dots = p.scatter(f"x{i}", f"y{i}", source=source, size=size, fill_color=f"colour{i}", line_color=None,
                     fill_alpha=0.85, nonselection_fill_alpha=0.08, nonselection_fill_color=f"colour{i}",
                     selection_fill_alpha=1.0, selection_fill_color=f"colour{i}")
    image = ("<img src='@thumb' style='width:56px;height:56px;image-rendering:pixelated;"
             "border:1px solid #bbb;margin-right:6px'>") if images else ""
    src = votes[m.source]
    p.add_tools(HoverTool(renderers=[dots], tooltips=f"""
        <div style="display:flex;align-items:center;font-size:12px;max-width:320px">{image}<div>
        <b>@class_name</b> &middot; test #@index<br>
        kNN&#64;{k} in this map: @vote{column_of[m.name]}<br>
        kNN&#64;{k} in {html.escape(src.label)}: @vote{column_of[m.source]}<br>
        cluster in this map: @cluster{column_of[m.name]}</div></div>"""))
    return p


def _key(mode: str, class_names, palette, k: int) -> str:
    """The colour key of a menu entry, as HTML."""
    def swatch(colour, text):
        return (f"<span style='display:inline-block;margin-right:10px;white-space:nowrap'>"
                f"<span style='display:inline-block;width:10px;height:10px;background:{colour};"
                f"border-radius:5px;margin-right:3px'></span>{html.escape(text)}</span>")

    if mode.startswith("kNN"):
        return swatch(CORRECT, f"kNN@{k} vote correct") + swatch(WRONG, "wrong")
    note = "clusters take the colour of the class they are matched to: " if mode.startswith("mixture") else ""
    return note + "".join(swatch(colour, name) for colour, name in zip(palette, class_names))


def _figures_html(figures: Sequence[tuple[str, Path]]) -> str:
    parts = []
    for caption, png in figures:
        encoded = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        parts.append(f"<h2 style='font-family:sans-serif;font-size:16px'>{html.escape(caption)}</h2>"
                     f"<img alt='{html.escape(caption)}' style='max-width:100%' src='data:image/png;base64,{encoded}'>")
    return "".join(parts)
