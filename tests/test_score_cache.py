"""Evaluate's score cache: a hit gives exactly what computing gives, and a sweep scores raw pixels once."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
from typer.testing import CliRunner

from aelat import score_cache
from aelat.cli import app
from aelat.stages import evaluate as evaluate_stage
from conftest import FAST

# Small samples: only whether a value is computed or reused is under test, not the value.
EVAL_FAST = ["evaluate.distribution.n_bootstrap=10", "evaluate.neighbourhood.sample_size=200"]


def cli(out, *args):
    result = CliRunner().invoke(app, [*args, f"output_dir={out}"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """An output folder with two encoded runs (latent 2 and 4) and a pca map of each latent."""
    out = tmp_path_factory.mktemp("cache") / "outputs"
    for d in (2, 4):
        cli(out, "train", *FAST, f"latent_dim={d}")
        cli(out, "encode", *FAST, f"latent_dim={d}")
        cli(out, "embed", "--method", "pca", *FAST, f"latent_dim={d}")
    return out


@pytest.fixture
def counted(monkeypatch):
    """Count which representations `measure` computes and which maps get neighbourhood scores."""
    calls = Counter()
    measure, neighbourhoods = evaluate_stage.measure, evaluate_stage.neighbourhood_scores_of_maps

    def counting_measure(rep, cfg):
        calls[rep.train.shape[1], rep.source] += 1
        return measure(rep, cfg)

    def counting_neighbourhoods(X, maps, **kwargs):
        calls["neighbourhood"] += len(maps)
        return neighbourhoods(X, maps, **kwargs)

    monkeypatch.setattr(evaluate_stage, "measure", counting_measure)
    monkeypatch.setattr(evaluate_stage, "neighbourhood_scores_of_maps", counting_neighbourhoods)
    return calls


def evaluate(out, d, *extra):
    cli(out, "evaluate", *FAST, f"latent_dim={d}", *EVAL_FAST, *extra)
    run = next(p for p in out.iterdir() if p.name.startswith(f"digits-mlp-d{d}-"))
    return json.loads((run / "metrics.json").read_text())["representations"]


def test_a_hit_gives_the_computed_scores_and_computes_nothing(encoded, tmp_path, counted):
    out = tmp_path / "outputs"
    shutil.copytree(encoded, out, symlinks=True)
    computed = evaluate(out, 4)
    assert sum(counted.values()) == 6  # raw, pca, untrained, latent, the map, and the map's neighbourhood
    counted.clear()
    assert evaluate(out, 4) == computed and not counted
    assert evaluate(out, 4, "evaluate.cache=false") == computed and sum(counted.values()) == 6


def test_a_latent_sweep_scores_the_raw_input_once(encoded, tmp_path, counted):
    out = tmp_path / "outputs"
    shutil.copytree(encoded, out, symlinks=True)
    first, second = evaluate(out, 2), evaluate(out, 4)
    assert counted[64, None] == 1  # raw digits (64 pixels), in both runs, measured in the first only
    assert counted[2, None] == 3 and counted[4, None] == 3  # each run's pca, untrained and latent
    assert counted[2, "latent"] == 2  # each run's map of its latent
    assert first["raw"] == second["raw"]
    fresh = tmp_path / "fresh"
    shutil.copytree(encoded, fresh, symlinks=True)
    assert evaluate(fresh, 4, "evaluate.cache=false") == second
    assert not (fresh / score_cache.FOLDER).exists()


def test_other_settings_or_a_damaged_entry_are_computed_again(encoded, tmp_path, counted):
    out = tmp_path / "outputs"
    shutil.copytree(encoded, out, symlinks=True)
    computed = evaluate(out, 4)
    for entry in (out / score_cache.FOLDER).glob("*.json"):
        entry.write_text(entry.read_text()[:20])  # truncated
    counted.clear()
    assert evaluate(out, 4) == computed and sum(counted.values()) == 6
    counted.clear()
    evaluate(out, 4, "evaluate.knn.ks=[3]")
    assert sum(counted.values()) == 5 and counted["neighbourhood"] == 0  # its settings did not change


def test_an_edit_to_aelat_source_is_a_new_key(tmp_path):
    package = tmp_path / "aelat"
    package.mkdir()
    (package / "score_cache.py").write_text("x = 1\n")
    before = score_cache.source_digest(package)
    (package / "metric.py").write_text("def f():\n    return 1\n")
    after_adding = score_cache.source_digest(package)
    (package / "metric.py").write_text("def f():\n    return 2\n")
    assert len({before, after_adding, score_cache.source_digest(package)}) == 3
