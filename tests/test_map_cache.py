"""Maps stored by content: a sweep draws the raw input's map once; a hit is bit for bit what computing gives;
damaged or forged entries are computed again; the store shared with the score cache keeps entries intact."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter

import numpy as np
import pytest
from aelat import content_store
from aelat.stages import embed as embed_stage
from conftest import FAST, cli

# A short t-SNE on a sample: only whether a map is computed or reused is under test. In this process
# (jobs=1), where `counted` sees it; maps in worker processes are tested in test_background.py.
TSNE_FAST = ["embed.max_points=300", "embed.tsne.n_iter=50", "embed.tsne.early_exaggeration_iter=25", "jobs=1"]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """An output folder with two encoded runs, latent 2 and 4."""
    out = tmp_path_factory.mktemp("maps") / "outputs"
    for d in (2, 4):
        cli(out, "train", *FAST, f"latent_dim={d}")
        cli(out, "encode", *FAST, f"latent_dim={d}")
    return out


@pytest.fixture
def counted(monkeypatch):
    """Count the maps computed, by (method, input dimension)."""
    calls = Counter()
    embedders = dict(embed_stage.EMBEDDERS)

    def counting(method):
        def embed(train, test, seed, options, on_progress=None):
            calls[method, train.shape[1]] += 1
            return embedders[method](train, test, seed, options, on_progress=on_progress)

        return embed

    monkeypatch.setattr(embed_stage, "EMBEDDERS", {method: counting(method) for method in embedders})
    return calls


def embed(out, d, of, *extra):
    result = cli(out, "embed", "--method", "tsne", "--of", of, *FAST, f"latent_dim={d}", *TSNE_FAST, *extra)
    run = next(p for p in out.iterdir() if p.name.startswith(f"digits-mlp-d{d}-"))
    stem = "embedding_tsne" if of == "latent" else f"embedding_tsne_{of}"
    with np.load(run / f"{stem}.npz") as arrays:
        return {key: arrays[key] for key in arrays.files}, result.stderr


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_a_latent_sweep_maps_the_raw_input_once(encoded, tmp_path, counted):
    out = tmp_path / "outputs"
    shutil.copytree(encoded, out, symlinks=True)
    first, _ = embed(out, 2, "raw")
    second, stderr = embed(out, 4, "raw")
    assert counted == {("tsne", 64): 1}
    assert "reused" in stderr
    assert_same(first, second)
    fresh = tmp_path / "fresh"
    shutil.copytree(encoded, fresh, symlinks=True)
    computed, _ = embed(fresh, 4, "raw", "embed.cache=false")
    assert_same(computed, second)  # a hit is what computing gives, bit for bit
    assert not (fresh / embed_stage.MAPS).exists() and counted == {("tsne", 64): 2}


def test_other_points_parameters_or_seed_are_computed(encoded, tmp_path, counted):
    out = tmp_path / "outputs"
    shutil.copytree(encoded, out, symlinks=True)
    embed(out, 2, "latent")
    embed(out, 4, "latent")  # another latent: other points
    embed(out, 2, "latent", "embed.tsne.perplexity=20")
    embed(out, 2, "latent", "embed.max_points=200")
    assert counted == {("tsne", 2): 3, ("tsne", 4): 1}


def test_a_damaged_or_forged_entry_is_computed_again(encoded, tmp_path, counted):
    out = tmp_path / "outputs"
    shutil.copytree(encoded, out, symlinks=True)
    computed, _ = embed(out, 2, "raw")
    (entry,) = (out / embed_stage.MAPS).glob("*.npz")
    with np.load(entry) as arrays:
        forged = {key: arrays[key] for key in arrays.files}
    forged["train"] = forged["train"] + 1.0  # the map moved, its name and checksum kept
    np.savez(entry, **forged)
    again, _ = embed(out, 4, "raw")
    assert_same(again, computed)
    assert counted[("tsne", 64)] == 2
    entry.write_bytes(entry.read_bytes()[:100])  # truncated
    again, _ = embed(out, 2, "raw")
    assert_same(again, computed)
    assert counted[("tsne", 64)] == 3


def test_store_entries_are_bound_to_their_name_and_content(tmp_path):
    store = content_store.ContentStore(tmp_path / "store")
    store.put_json("a", {"knn": 0.5})
    store.put_arrays("b", x=np.arange(3.0))
    assert store.get_json("a") == {"knn": 0.5}
    np.testing.assert_array_equal(store.get_arrays("b")["x"], np.arange(3.0))
    assert store.get_json("missing") is None and store.get_arrays("missing") is None

    entry = json.loads((tmp_path / "store" / "a.json").read_text())
    entry["value"]["knn"] = 0.999  # forged value, checksum kept
    (tmp_path / "store" / "a.json").write_text(json.dumps(entry))
    assert store.get_json("a") is None
    shutil.copy(tmp_path / "store" / "b.npz", tmp_path / "store" / "c.npz")  # an entry under another name
    assert store.get_arrays("c") is None
    (tmp_path / "store" / "d.json").write_text(json.dumps({"knn": 0.5}))  # a bare value, no name or checksum
    assert store.get_json("d") is None


def test_a_store_that_cannot_be_written_turns_itself_off_with_one_warning(tmp_path, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the store's folder would be")
    store = content_store.ContentStore(blocker / "maps")
    with caplog.at_level(logging.WARNING):
        store.put_arrays("a", x=np.zeros(2))
        store.put_json("b", {})
    assert store.get_arrays("a") is None and store.folder is None
    assert len(caplog.records) == 1 and "continuing without it" in caplog.text
    assert blocker.read_text().startswith("a file")
