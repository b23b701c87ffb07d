"""report.html in a real browser: headless Chromium (Debian's chromium + chromium-driver) through selenium.

The page is loaded from disk (file://, no server); the tests check that it raises no JavaScript
error, draws every map, shows the test image and the votes on hover, highlights a selection made in
one map in all the others, and recolours by kNN vote with the votes aelat scores.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aelat import artifacts
from aelat.cli import app
from aelat.explorer import HTML, sample_test_rows
from aelat.plots.images import data_uri, to_uint8

INSTALL = "apt-get install -y chromium chromium-driver (.ci/run does this)"
# Set to a file name to keep the screenshot of the hovered page (the README's docs/explore.png).
SCREENSHOT_ENV = "AELAT_EXPLORE_SCREENSHOT"

# Every element in the page and in Bokeh's shadow roots that matches a CSS selector.
DEEP_QUERY = """
const found = [];
const walk = (root) => {
    root.querySelectorAll(arguments[0]).forEach((e) => found.push(e));
    root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
};
walk(document);
return found;
"""


def chromium(profile: Path):
    """A headless Chromium WebDriver keeping its profile in ``profile`` (else Chromium leaves one in /tmp
    at every start), or skip with the reason."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[dev]'")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    if browser is None or driver is None:
        pytest.skip(f"headless Chromium is not installed: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1100", "--force-device-scale-factor=1", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def open_page(driver, path: Path, maps: list[str]) -> None:
    """Load ``path`` from disk and wait until Bokeh has built a view for every map."""
    driver.get(path.resolve().as_uri())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = driver.execute_script("""
            if (!window.Bokeh || !Bokeh.documents.length) return false;
            const doc = Bokeh.documents[0];
            return arguments[0].every((name) => {
                const plot = doc.get_model_by_name("map:" + name);
                const view = plot && Bokeh.index.find_one(plot);
                return view != null && view.el.getBoundingClientRect().width > 0;
            });""", maps)
        if ready:
            time.sleep(0.5)  # let the canvases paint
            return
        time.sleep(0.2)
    pytest.fail(f"Bokeh built no view for every map of {path} within 30 s: {severe_errors(driver)}")


def severe_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def map_box(driver, name: str) -> dict:
    """The map's frame on screen (CSS pixels): left, top, width, height."""
    return driver.execute_script("""
        const plot = Bokeh.documents[0].get_model_by_name("map:" + arguments[0]);
        const view = Bokeh.index.find_one(plot);
        const rect = view.el.getBoundingClientRect(), frame = view.frame.bbox;
        return {left: rect.left + frame.left, top: rect.top + frame.top, width: frame.width, height: frame.height};
    """, name)


def point_on_screen(driver, name: str, row: int) -> tuple[float, float]:
    """Where row ``row`` of the page's data is drawn in map ``name`` (viewport pixels)."""
    return tuple(driver.execute_script("""
        const plot = Bokeh.documents[0].get_model_by_name("map:" + arguments[0]);
        const view = Bokeh.index.find_one(plot), renderer = plot.renderers[0];
        const data = renderer.data_source.data, glyph = renderer.glyph;
        const x = data[glyph.x.field][arguments[1]], y = data[glyph.y.field][arguments[1]];
        const rect = view.el.getBoundingClientRect();
        return [rect.left + view.frame.x_scale.compute(x), rect.top + view.frame.y_scale.compute(y)];
    """, name, row))


def page_column(driver, column: str) -> list:
    return driver.execute_script("""
        const source = Bokeh.documents[0].get_model_by_name("points");
        return Array.from(source.data[arguments[0]]);""", column)


def crop(driver, box: dict) -> np.ndarray:
    from PIL import Image

    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    region = (int(box["left"]) + 2, int(box["top"]) + 2, int(box["left"] + box["width"]) - 2,
              int(box["top"] + box["height"]) - 2)
    return np.asarray(shot.crop(region)).astype(int)


def move_to(driver, x: float, y: float) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    builder = ActionBuilder(driver)
    builder.pointer_action.move_to_location(int(x), int(y))
    builder.perform()


def drag(driver, start: tuple[float, float], end: tuple[float, float]) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    builder = ActionBuilder(driver)
    pointer = builder.pointer_action
    pointer.move_to_location(int(start[0]), int(start[1]))
    pointer.pointer_down()
    for t in np.linspace(0.2, 1, 5):
        pointer.move_to_location(int(start[0] + t * (end[0] - start[0])), int(start[1] + t * (end[1] - start[1])))
    pointer.pointer_up()
    builder.perform()


def visible_tooltips(driver) -> list[str]:
    """The HTML of every tooltip Bokeh shows now."""
    elements = driver.execute_script(DEEP_QUERY, ".bk-Tooltip")
    script = "const e = arguments[0]; return (e.shadowRoot || e).innerHTML.replace(/<style[^]*?<\\/style>/g, '');"
    return [driver.execute_script(script, e) for e in elements if e.is_displayed()]


@pytest.fixture(scope="module")
def maps(explored_run) -> list[str]:
    scores = json.loads((explored_run / artifacts.METRICS).read_text())["representations"]
    return [name for name, row in scores.items() if row.get("source")]


def test_report_html_is_one_self_contained_file(explored_run, maps):
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.links, self.scripts = [], 0

        def handle_starttag(self, tag, attrs):
            self.scripts += tag == "script"
            self.links += [value for key, value in attrs if key in ("src", "href") and value
                           and not value.startswith(("data:", "#"))]

    page = Links()
    page.feed((explored_run / HTML).read_text())
    assert page.scripts >= 2 and page.links == []  # inline resources, images as data: URIs: opens with no network
    manifest = json.loads((explored_run / artifacts.MANIFEST).read_text())
    assert HTML in manifest["stages"]["report"]["outputs"]
    assert set(maps) == {"pca(raw)", "pca(untrained)", "pca(latent)", "tsne(latent)"}


def test_page_loads_without_errors_and_draws_every_map(browser, explored_run, maps):
    open_page(browser, explored_run / HTML, maps)
    assert severe_errors(browser) == []
    for name in maps:
        box = map_box(browser, name)
        assert box["width"] > 100 and box["height"] > 100, (name, box)
        pixels = crop(browser, box)
        colours = {tuple(p) for p in pixels.reshape(-1, 3)[::7]}
        assert len(colours) > 10 and pixels.std() > 5, f"{name}: the map looks blank"


def test_hover_shows_the_test_image_class_and_votes(browser, explored_run, maps):
    open_page(browser, explored_run / HTML, maps)
    latents = artifacts.read_npz(explored_run / artifacts.LATENTS, ["raw_test", "y_test", "class_names", "examples_input"])
    index = page_column(browser, "index")
    row = len(index) // 2
    test_row = index[row]
    expected_image = data_uri(to_uint8(latents["raw_test"][[test_row]], latents["examples_input"].shape[1:])[0])
    name = str(latents["class_names"][latents["y_test"][test_row]])

    x, y = point_on_screen(browser, "tsne(latent)", row)
    move_to(browser, x, y)
    deadline, tips = time.monotonic() + 10, []
    while not tips and time.monotonic() < deadline:
        time.sleep(0.2)
        tips = [t for t in visible_tooltips(browser) if f"test #{test_row}<" in t]
    assert tips, f"no tooltip for test row {test_row} at ({x:.0f}, {y:.0f}): {visible_tooltips(browser)}"
    assert expected_image in tips[0] and "<img" in tips[0]  # that very image, not just any
    assert f"<b>{name}</b>" in tips[0] and "kNN@10 in this map: " in tips[0] and "kNN@10 in latent (4-d): " in tips[0]
    if os.environ.get(SCREENSHOT_ENV):
        browser.save_screenshot(os.environ[SCREENSHOT_ENV])
    assert severe_errors(browser) == []


def test_selecting_in_one_map_highlights_the_same_points_in_all(browser, explored_run, maps):
    open_page(browser, explored_run / HTML, maps)
    other = crop(browser, map_box(browser, "pca(raw)"))
    box = map_box(browser, "tsne(latent)")
    left_half = ((box["left"] + 5, box["top"] + 5), (box["left"] + box["width"] / 2, box["top"] + box["height"] - 5))
    drag(browser, *left_half)
    time.sleep(0.5)
    selected = browser.execute_script('return Array.from(Bokeh.documents[0].get_model_by_name("points").selected.indices);')
    n = len(page_column(browser, "index"))
    assert 0 < len(selected) < n
    # the selection is exactly the points drawn in the dragged box
    xs = [point_on_screen(browser, "tsne(latent)", row)[0] for row in range(n)]
    inside = {row for row, x in enumerate(xs) if x <= left_half[1][0]}
    assert set(selected) <= inside and len(set(selected)) >= 0.9 * len(inside)
    # another map redraws: the points not selected fade there too
    after = crop(browser, map_box(browser, "pca(raw)"))
    assert np.abs(after - other).sum() > 0.01 * other.size
    counter = browser.execute_script(DEEP_QUERY, "div")
    assert any(f"{len(selected)} of {n} points selected" in (e.text or "") for e in counter)
    assert severe_errors(browser) == []


def test_colour_by_knn_vote_shows_the_scored_votes(browser, explored_run, maps):
    """Every test point is on the page (450 < the 5000 cap): the share of correct votes in a map is
    metrics.json's kNN@10 of that map, and the colour menu paints the wrong ones red."""
    open_page(browser, explored_run / HTML, maps)
    scores = json.loads((explored_run / artifacts.METRICS).read_text())["representations"]
    for i, name in enumerate(maps):
        votes = page_column(browser, f"vote{list_of_votes(browser).index(name)}")
        share = np.mean([v == "correct" for v in votes])
        assert share == pytest.approx(scores[name]["structure"]["knn_accuracy_10"]), name
    before = crop(browser, map_box(browser, "tsne(latent)"))
    browser.execute_script('Bokeh.documents[0].get_model_by_name("colour-by").value = arguments[0];',
                           "kNN@10 vote in the map")
    time.sleep(0.5)
    shown = page_column(browser, f"colour{maps.index('tsne(latent)')}")
    votes = page_column(browser, f"vote{list_of_votes(browser).index('tsne(latent)')}")
    assert [c == "#d62728" for c in shown] == [v != "correct" for v in votes]
    assert np.abs(crop(browser, map_box(browser, "tsne(latent)")) - before).sum() > 0  # repainted
    assert severe_errors(browser) == []


def list_of_votes(driver) -> list[str]:
    """The representation behind each vote<j> column, as the page lists them."""
    return driver.execute_script('return Bokeh.documents[0].get_model_by_name("points").tags[0];')


def test_point_cap_draws_a_seeded_sample_and_says_so(explored_run, maps, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(explored_run, run)
    result = CliRunner().invoke(app, ["report", "--run", str(run), "report.max_points=100"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    text = (run / HTML).read_text()
    assert "100 of 450 test points, a sample drawn with seed 0 (report.max_points=100" in text
    rows = sample_test_rows(450, 100, 0)
    assert len(rows) == 100 and len(set(rows)) == 100
    assert (run / HTML).stat().st_size < (explored_run / HTML).stat().st_size


def test_the_same_run_gives_the_same_page_whatever_the_process_drew_before(explored_run, tmp_path):
    """Two reports of the same run in one process (as in a sweep or a notebook): the same bytes, and no
    id that counts the Bokeh models the process made before."""
    import re

    pages = []
    for copy in ("first", "second"):
        run = tmp_path / copy / explored_run.name  # the page names its run
        shutil.copytree(explored_run, run)
        result = CliRunner().invoke(app, ["report", "--run", str(run)], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        pages.append((run / HTML).read_bytes())
    assert pages[0] == pages[1]
    assert re.search(rb'"id":"p[0-9]+"', pages[0]) is None and b'"id":"aelat-' in pages[0]


def test_votes_and_clusters_are_those_evaluate_scored(explored_run, maps, tmp_path, monkeypatch):
    """The page's kNN votes and mixture clusters, checked against the metric functions run here afresh."""
    import aelat.plots.interactive as interactive
    from aelat.config import load_saved
    from aelat.metrics.structure import gmm_clusters, knn_predictions

    run = tmp_path / "run"
    shutil.copytree(explored_run, run)
    pages = []
    monkeypatch.setattr(interactive, "write_page", lambda path, **page: pages.append(page) or path.write_text("page"))
    result = CliRunner().invoke(app, ["report", "--run", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    [page] = pages
    cfg, shown = load_saved(run / "config.yaml"), page["index"]
    latents = artifacts.read_npz(run / artifacts.LATENTS)
    arrays = {source: (latents[f"{key}_train"], latents["y_train"], latents[f"{key}_test"])
              for source, key in artifacts.REPRESENTATIONS.items() if f"{key}_train" in latents}
    for name in maps:
        emb = artifacts.read_npz(run / f"{artifacts.embedding_stem(*name[:-1].split('('))}.npz")
        arrays[name] = emb["train"], emb["y_train"], emb["test"]
    assert set(page["votes"]) == {*maps, *(name[:-1].split("(")[1] for name in maps)}
    for name, votes in page["votes"].items():
        train, y_train, test = arrays[name]
        labels = np.concatenate([y_train, latents["y_test"]])
        clusters = gmm_clusters(np.concatenate([train, test]), len(np.unique(labels)),
                                **cfg.evaluate.clustering, seed=cfg.seed)
        assert np.array_equal(votes.cluster, clusters[len(train):][shown]), name
        assert np.array_equal(votes.knn, knn_predictions(train, y_train, test[shown], 10)), name


MNIST_MAPS = [f"{m}({s})" for m in ("tsne", "pca") for s in ("raw", "pca", "untrained", "latent")][:7]


@pytest.fixture(scope="module")
def mnist_page(tmp_path_factory) -> Path:
    """A page of seven maps of MNIST's test images at the default cap (coordinates and votes made up)."""
    from conftest import MNIST_NPZ

    from aelat.config import compose
    from aelat.plots.interactive import Map, Votes, write_page

    if not MNIST_NPZ.is_file():
        pytest.skip(f"real MNIST not found at {MNIST_NPZ} (CI has it; see README)")
    with np.load(MNIST_NPZ) as data:
        images, labels = data["Xte"].astype(np.float32) / 255, data["yte"].astype(int)
    rows = sample_test_rows(len(labels), compose().report.max_points, 0)
    rng = np.random.default_rng(0)
    maps = [Map(n, n.split("(")[0], n[:-1].split("(")[1], n, rng.normal(size=(len(rows), 2))) for n in MNIST_MAPS]
    votes = {n: Votes(n, rng.integers(0, 10, len(rows)), rng.integers(0, 10, len(rows)), {c: c for c in range(10)})
             for n in [*MNIST_MAPS, "raw", "pca", "untrained", "latent"]}
    thumbs = [data_uri(p) for p in to_uint8(images[rows], (1, 28, 28))]
    path = tmp_path_factory.mktemp("mnist-page") / HTML
    write_page(path, title="MNIST", intro=[], class_names=[str(c) for c in range(10)], labels=labels[rows],
               index=rows, thumbnails=thumbs, maps=maps, votes=votes, k=10)
    return path


@pytest.mark.slow
def test_mnist_sized_page_stays_small(mnist_page):
    """The default cap keeps a page of seven maps of MNIST's 10,000 test images under 20 MB."""
    size = mnist_page.stat().st_size
    assert size < 20e6, f"{size / 1e6:.1f} MB"


@pytest.mark.slow
def test_mnist_sized_page_opens_and_hovers(browser, mnist_page):
    open_page(browser, mnist_page, MNIST_MAPS)
    assert severe_errors(browser) == []
    index = page_column(browser, "index")
    x, y = point_on_screen(browser, MNIST_MAPS[0], 0)
    move_to(browser, x, y)
    deadline, tips = time.monotonic() + 10, []
    while not tips and time.monotonic() < deadline:
        time.sleep(0.2)
        tips = [t for t in visible_tooltips(browser) if f"test #{index[0]}<" in t and "data:image/png;base64," in t]
    assert tips, visible_tooltips(browser)
