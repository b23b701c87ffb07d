"""analyse's profile cache: what is the same in every run of a latent-size sweep (the raw input's rows, the
untrained encoder's first layers) is measured once per output_dir, with the numbers of measuring it again."""

from __future__ import annotations

import functools
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aelat import artifacts
from aelat.cli import app
from aelat.metrics.layers import layer_distance
from aelat.metrics.profile import point_evidence, separation_profile
from aelat.stages import analyse as analyse_stage

SETTINGS = ["train.epochs=2", "model.hidden=[32]", "train.snapshots=[0,2]", "analyse.geometry_points=100"]
RAW = 64  # digits' pixels


def cli(out: Path, *args: str) -> None:
    result = CliRunner().invoke(app, [*args, *SETTINGS, f"output_dir={out}"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> Path:
    """An output_dir with two trained and encoded digits runs, latent sizes 2 and 3, not analysed."""
    out = tmp_path_factory.mktemp("profiles") / "outputs"
    for latent in (2, 3):
        cli(out, "train", f"latent_dim={latent}")
        cli(out, "encode", f"latent_dim={latent}")
    return out


@pytest.fixture
def counted(monkeypatch) -> Counter:
    """(function, width of the points) -> times analyse computed it."""
    calls: Counter = Counter()

    def counting(function):
        @functools.wraps(function)  # the cache names an entry by the function's name
        def measured(*arrays, **parameters):
            calls[function.__name__, arrays[0].shape[1]] += 1
            return function(*arrays, **parameters)
        return measured

    monkeypatch.setattr(analyse_stage, "separation_profile", counting(separation_profile))
    monkeypatch.setattr(analyse_stage, "point_evidence", counting(point_evidence))
    monkeypatch.setattr(analyse_stage, "layer_distance", counting(layer_distance))
    return calls


def analysed(encoded: Path, out: Path, *extra: str) -> dict[int, dict[str, str]]:
    """Analyse both runs in a copy ``out`` of ``encoded``; latent size -> {artifact: its text}."""
    shutil.copytree(encoded, out, symlinks=True)
    texts = {}
    for latent in (2, 3):
        cli(out, "analyse", f"latent_dim={latent}", *extra)
        run = (out / "latest").resolve()
        texts[latent] = {name: (run / name).read_text() for name in (artifacts.DYNAMICS, artifacts.LAYERS)}
    return texts


def test_a_latent_sweep_measures_the_raw_input_and_the_untrained_first_layer_once(encoded, tmp_path, counted):
    cached = analysed(encoded, tmp_path / "cached")
    # raw: dynamics' row (every metric) and layers' input row (the layer metrics), in the first run only
    assert counted["separation_profile", RAW] == 2
    # the hidden layer: the trained one of each run, the untrained one (initialised before the latent layer,
    # the same in both runs) once; the same for the distance from the input to it
    assert counted["separation_profile", 32] == 3 and counted["layer_distance", RAW] == 3
    # the per-point evidence (kNN's votes) of the raw input: dynamics' row and layers' input row, once
    assert counted["point_evidence", RAW] == 1
    assert cached[2] != cached[3]
    counted.clear()
    fresh = analysed(encoded, tmp_path / "fresh", "analyse.cache=false")
    assert counted["separation_profile", RAW] == 2 * 2 and counted["separation_profile", 32] == 2 * 2
    assert counted["point_evidence", RAW] == 2 * 2
    assert fresh == cached  # the same numbers, to the last digit
    assert not (tmp_path / "fresh" / analyse_stage.PROFILES).exists()


def test_a_damaged_or_forged_entry_is_measured_again(encoded, tmp_path, counted):
    out = tmp_path / "outputs"
    first = analysed(encoded, out)
    entries = sorted((out / analyse_stage.PROFILES).glob("*.json"))
    assert entries
    for entry in entries:
        entry.write_text(entry.read_text().replace("0.", "0.9", 1))  # a changed number, its checksum kept
    evidence = sorted((out / analyse_stage.PROFILES).glob("*.npz"))
    assert evidence
    for entry in evidence:  # every kNN vote flipped, the key and checksum fields kept
        with np.load(entry) as stored:
            arrays = dict(stored)
        arrays["knn_correct"] = ~arrays["knn_correct"]
        np.savez(entry, **arrays)
    counted.clear()
    for latent in (2, 3):
        cli(out, "analyse", f"latent_dim={latent}")
        run = (out / "latest").resolve()
        assert {name: (run / name).read_text() for name in first[latent]} == first[latent]
    assert counted["separation_profile", RAW] == 2
