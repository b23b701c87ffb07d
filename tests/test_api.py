"""The Python API: import aelat, compose, run, read results as Python objects, score any arrays."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import aelat
from aelat import artifacts
from aelat.data import load_dataset
from conftest import FAST

EVAL_FAST = ["evaluate.distribution.n_bootstrap=20", "evaluate.neighbourhood.sample_size=200"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "outputs"
    cfg = aelat.compose([*FAST, *EVAL_FAST, f"output_dir={out}"])
    return aelat.run(cfg, methods=["pca"], of="latent")


def test_import_is_cheap_and_lazy():
    code = ("import sys, aelat; heavy = [m for m in ('torch', 'sklearn', 'hydra') if m in sys.modules]; "
            "assert not heavy, heavy; assert callable(aelat.score) and aelat.metrics.knn_accuracy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_values_are_value_errors():
    with pytest.raises(ValueError, match="latent_dim=0 is too small"):
        aelat.compose(["latent_dim=0"])
    with pytest.raises(ValueError, match="class labels must be integers or strings"):
        aelat.score(np.zeros((4, 2)), np.linspace(0, 1, 4), np.zeros((2, 2)), np.zeros(2))
    assert issubclass(aelat.ConfigError, aelat.AelatError) and issubclass(aelat.DataError, ValueError)


def test_results_are_the_run_folders_files(results):
    folder = results.path
    assert results.metrics == json.loads((folder / artifacts.METRICS).read_text())
    assert results.names == ["raw", "pca", "untrained", "latent", "pca(latent)"]
    latents = artifacts.read_npz(folder / artifacts.LATENTS)
    latent = results.representation("latent")
    np.testing.assert_array_equal(latent.train, latents["z_train"])
    np.testing.assert_array_equal(latent.y_test, latents["y_test"])
    assert results.class_names == [str(i) for i in range(10)]
    assert results.train_log["epoch"].tolist() == [1, 2, 3]
    assert results.config.latent_dim == 4 and aelat.load_run(folder).path == folder


def test_the_model_encodes_to_the_stored_latent(results):
    data = load_dataset(results.config)
    with torch.inference_mode():
        codes = results.model().encode(data.x_test).numpy()
    np.testing.assert_allclose(codes, results.representation("latent").test, rtol=1e-5, atol=1e-6)


def test_score_gives_what_metrics_json_holds(results):
    """aelat.score on a run's arrays, under its config, equals evaluate's entry (recon_mse aside)."""
    stored = results.metrics["representations"]
    latent = results.representation("latent")
    scores = aelat.score(latent.train, latent.y_train, latent.test, latent.y_test, config=results.config)
    assert scores["structure"] == stored["latent"]["structure"]
    assert scores["distribution"] == stored["latent"]["distribution"]
    assert scores["dim"] == 4 and scores["recon_mse"] is None
    pca_map = results.representation("pca(latent)")
    made_from = latent.train[pca_map.train_index]
    scores = aelat.score(pca_map.train, pca_map.y_train, pca_map.test, pca_map.y_test, source=made_from,
                         config=results.config)
    assert scores["neighbourhood"] == stored["pca(latent)"]["neighbourhood"]
    assert scores["structure"] == stored["pca(latent)"]["structure"]


def test_score_takes_labels_of_any_kind(results):
    latent = results.representation("latent")
    names = np.array(results.class_names)
    by_code = aelat.score(latent.train, latent.y_train, latent.test, latent.y_test, config=results.config)
    by_name = aelat.score(latent.train, names[latent.y_train], latent.test, names[latent.y_test],
                          config=results.config)
    assert by_name == by_code


def test_score_refuses_misshapen_input_in_one_line():
    with pytest.raises(aelat.DataError, match=r"^train has shape \(3, 2\) and dtype float64; expected numbers of"):
        aelat.score(np.zeros((3, 2)), np.arange(4) % 2, np.zeros((2, 2)), np.arange(2))
    with pytest.raises(aelat.ConfigError, match="evaluate.knn: ks="):  # more neighbours than train points
        aelat.score(np.eye(4), np.arange(4) % 2, np.eye(4), np.arange(4) % 2, config=["evaluate.knn.ks=[9]"])
    points = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(aelat.ConfigError, match=r"^evaluate.neighbourhood: k=15 must satisfy 1 <= k < n / 2"):
        aelat.score(points, np.arange(20) % 2, points[:4], np.arange(4) % 2, source=points,
                    config=["evaluate.neighbourhood.ks=[15]"])


def test_metrics_re_exports_every_public_metric():
    from aelat.metrics import distribution, neighbourhood, structure

    helpers = {"smallest_k"}  # a building block of the neighbourhood metrics, not a metric
    for module in (distribution, neighbourhood, structure):
        public = {name for name, f in inspect.getmembers(module, inspect.isfunction)
                  if f.__module__ == module.__name__ and not name.startswith("_")} - helpers
        assert public <= set(aelat.metrics.__all__), public - set(aelat.metrics.__all__)
        assert all(getattr(aelat.metrics, name) is getattr(module, name) for name in public)


def test_load_run_of_a_foreign_folder(tmp_path):
    with pytest.raises(aelat.ArtifactError, match="is not an aelat run"):
        aelat.load_run(tmp_path)
