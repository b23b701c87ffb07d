"""`aelat export --tensorboard`: the files are served by a real TensorBoard's projector plugin."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from aelat import artifacts
from aelat.explorer import sample_test_rows
from aelat.export import CONFIG, METADATA, RECORD, SPRITE
from aelat.plots.images import sprite, to_uint8

POINTS = 200


@pytest.fixture(scope="module")
def exported(explored_run, tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from aelat.cli import app

    out = tmp_path_factory.mktemp("export") / "projector"
    args = ["export", "--tensorboard", "--run", str(explored_run), "--out", str(out), "--max-points", str(POINTS)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert f"tensorboard --logdir {out}" in result.stderr
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tensorboard(exported):
    """A TensorBoard serving the export on 127.0.0.1; yields a function that GETs a projector route."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        pytest.skip("tensorboard is not installed: pip install -e '.[dev]'")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(exported), "--host", "127.0.0.1",
         "--port", str(port), "--load_fast=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )

    def get(route: str, **query) -> bytes:
        url = f"http://127.0.0.1:{port}/data/plugin/projector/{route}?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                listing = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugins_listing", timeout=5).read())
                if listing["projector"]["enabled"]:
                    break
            except (urllib.error.URLError, ConnectionError, KeyError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tensorboard did not serve the projector: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)
        yield get
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_projector_serves_every_representation_with_its_tensor(tensorboard, explored_run):
    assert json.loads(tensorboard("runs")) == ["."]
    config = json.loads(tensorboard("info", run="."))
    shapes = {e["tensorName"]: e["tensorShape"] for e in config["embeddings"]}
    latents = artifacts.read_npz(explored_run / artifacts.LATENTS)
    rows = sample_test_rows(len(latents["y_test"]), POINTS, 0)
    expected = {name: latents[f"{key}_test"][rows] for name, key in artifacts.REPRESENTATIONS.items()}
    for method, source in (("pca", "raw"), ("pca", "untrained"), ("pca", "latent"), ("tsne", "latent")):
        stem = artifacts.embedding_stem(method, source)
        expected[f"{method}({source})"] = artifacts.read_npz(explored_run / f"{stem}.npz")["test"][rows]
    assert shapes == {name: [POINTS, values.shape[1]] for name, values in expected.items()}
    for name, values in expected.items():
        served = np.frombuffer(tensorboard("tensor", run=".", name=name), dtype=np.float32).reshape(values.shape)
        np.testing.assert_allclose(served, values, rtol=1e-6, atol=1e-7, err_msg=name)


def test_projector_serves_class_names_and_the_sprite_of_the_test_images(tensorboard, explored_run):
    from PIL import Image

    latents = artifacts.read_npz(explored_run / artifacts.LATENTS)
    rows = sample_test_rows(len(latents["y_test"]), POINTS, 0)
    lines = tensorboard("metadata", run=".", name="latent").decode().splitlines()
    assert lines[0] == "class\ttest_index" and len(lines) == 1 + POINTS
    names = [str(n) for n in latents["class_names"]]
    assert [line.split("\t") for line in lines[1:]] == [[names[latents["y_test"][r]], str(r)] for r in rows]

    config = json.loads(tensorboard("info", run="."))
    width, height = config["embeddings"][0]["sprite"]["singleImageDim"]
    sheet = np.asarray(Image.open(io.BytesIO(tensorboard("sprite_image", run=".", name="latent"))))
    columns = int(np.ceil(np.sqrt(POINTS)))
    assert sheet.shape[:2] == (columns * height, columns * width) and (width, height) == (8, 8)
    pictures = to_uint8(latents["raw_test"][rows], latents["examples_input"].shape[1:])
    for i in (0, 17, POINTS - 1):  # the i-th tile is the i-th point's image
        r, c = divmod(i, columns)
        np.testing.assert_array_equal(sheet[r * height:(r + 1) * height, c * width:(c + 1) * width], pictures[i])


def test_export_records_its_inputs_and_writes_only_its_files(exported, explored_run):
    record = json.loads((exported / RECORD).read_text())
    manifest = json.loads((explored_run / artifacts.MANIFEST).read_text())
    assert record["inputs"][artifacts.LATENTS] == manifest["stages"]["encode"]["outputs"][artifacts.LATENTS]
    assert record["points"] == POINTS and record["run"] == str(explored_run)
    names = {p.name for p in exported.iterdir()}
    assert {CONFIG, METADATA, SPRITE, RECORD, "latent.tsv", "tsne_latent.tsv"} <= names
    assert not [n for n in names if n.startswith(".")]


def test_export_refuses_a_folder_of_other_files_and_replaces_its_own(explored_run, tmp_path, exported):
    from typer.testing import CliRunner

    from aelat.cli import app

    runner = CliRunner()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    result = runner.invoke(app, ["export", "--tensorboard", "--run", str(explored_run), "--out", str(mine)])
    assert result.exit_code == 1 and "holds other files" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]

    again = tmp_path / "again"
    for points in (30, 20):
        result = runner.invoke(app, ["export", "--tensorboard", "--run", str(explored_run), "--out", str(again),
                                     "--max-points", str(points)])
        assert result.exit_code == 0, result.stderr
    assert len((again / METADATA).read_text().splitlines()) == 1 + 20
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left

    # an export folder someone added to, a folder that only claims to be one, a neighbour named like the
    # old export: refused or left alone, nothing of theirs removed
    (again / "NOTES.md").write_text("mine")
    (tmp_path / ".again.old").mkdir()
    (tmp_path / ".again.old" / "precious.txt").write_text("mine")
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / RECORD).write_text("{}")
    (claims / "data.csv").write_text("mine")
    for folder in (again, claims):
        result = runner.invoke(app, ["export", "--tensorboard", "--run", str(explored_run), "--out", str(folder)])
        assert result.exit_code == 1 and "holds other files" in result.stderr, result.stderr
    assert (again / "NOTES.md").read_text() == "mine" and (claims / "data.csv").read_text() == "mine"
    (again / "NOTES.md").unlink()
    result = runner.invoke(app, ["export", "--tensorboard", "--run", str(explored_run), "--out", str(again)])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / ".again.old" / "precious.txt").read_text() == "mine"
    assert sorted(json.loads((again / RECORD).read_text())["files"]) == sorted(p.name for p in again.iterdir())
    assert runner.invoke(app, ["export", "--run", str(explored_run)]).exit_code == 1  # no format named


def test_sprite_keeps_within_the_projector_limit():
    """10,000 thumbnails of 100 px would make a 10,000 px sheet: they shrink to 81 px."""
    pictures = np.zeros((10_000, 100, 100), dtype=np.uint8)
    pictures[::2] = 255
    sheet, thumb = sprite(pictures, max_side=8192)
    assert max(sheet.size) <= 8192 and thumb == (81, 81) and sheet.size == (8100, 8100)
    tiles = np.asarray(sheet)
    assert tiles[:81, :81].min() == 255 and tiles[:81, 81:162].max() == 0  # the first two, in order
