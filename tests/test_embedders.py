"""The 2-D maps (pca, tsne, umap) on a few hundred sklearn digits: shapes, seeding, quality, options, clamps."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

from aelat.config import compose
from aelat.data.digits import load_digits
from aelat.embedders import EMBEDDERS
from aelat.embedders.tsne import tsne_map
from aelat.embedders.umap import umap_map
from aelat.errors import ConfigError

N_TRAIN, N_TEST = 400, 150
# kNN accuracy of test-map points against train-map points (10 classes: chance is 0.1).
# Measured on this split: pca 0.63, tsne 0.93, umap 0.92.
MIN_KNN_ACCURACY = {"pca": 0.45, "tsne": 0.8, "umap": 0.8}


@pytest.fixture(scope="module")
def digits():
    """(x_train (400, 64), y_train, x_test (150, 64), y_test) from a stratified digits split."""
    data = load_digits(test_size=0.25, seed=0)
    x_train = data.x_train.reshape(len(data.x_train), -1).numpy()[:N_TRAIN]
    x_test = data.x_test.reshape(len(data.x_test), -1).numpy()[:N_TEST]
    return x_train, data.y_train.numpy()[:N_TRAIN], x_test, data.y_test.numpy()[:N_TEST]


@pytest.fixture(scope="module")
def maps(digits):
    """Each method run twice with seed 0 and default options: {method: [(train_2d, test_2d), (train_2d, test_2d)]}."""
    x_train, _, x_test, _ = digits
    return {method: [EMBEDDERS[method](x_train, x_test, 0, {}) for _ in range(2)] for method in ("pca", "tsne", "umap")}


def knn_accuracy(train_2d, y_train, test_2d, y_test, k=5) -> float:
    return KNeighborsClassifier(k).fit(train_2d, y_train).score(test_2d, y_test)


def test_registry_names_every_method():
    assert set(EMBEDDERS) == {"pca", "tsne", "umap"}
    assert EMBEDDERS["umap"] is umap_map


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_shapes_and_dtypes(maps, method):
    train_2d, test_2d = maps[method][0]
    assert train_2d.shape == (N_TRAIN, 2) and train_2d.dtype == np.float32
    assert test_2d.shape == (N_TEST, 2) and test_2d.dtype == np.float32
    assert np.isfinite(train_2d).all() and np.isfinite(test_2d).all()


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_same_seed_gives_identical_arrays(maps, method):
    (train_a, test_a), (train_b, test_b) = maps[method]
    np.testing.assert_array_equal(train_a, train_b)
    np.testing.assert_array_equal(test_a, test_b)


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_test_points_land_near_their_class(digits, maps, method):
    _, y_train, _, y_test = digits
    train_2d, test_2d = maps[method][0]
    accuracy = knn_accuracy(train_2d, y_train, test_2d, y_test)
    assert accuracy > MIN_KNN_ACCURACY[method], f"{method}: kNN accuracy of placed test points {accuracy:.3f}"


def test_pca_map_is_sklearn_pca_projection(digits, maps):
    x_train, _, x_test, _ = digits
    pca = PCA(n_components=2, random_state=0).fit(x_train)
    train_2d, test_2d = maps["pca"][0]
    np.testing.assert_allclose(train_2d, pca.transform(x_train), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(test_2d, pca.transform(x_test), rtol=1e-5, atol=1e-5)


def test_tsne_with_tiny_n_clamps_perplexity(digits, caplog):
    x_train, _, x_test, _ = digits
    with caplog.at_level(logging.WARNING):
        train_2d, test_2d = tsne_map(x_train[:20], x_test[:5], 0, {"perplexity": 30})
    assert train_2d.shape == (20, 2) and test_2d.shape == (5, 2)
    assert np.isfinite(train_2d).all() and np.isfinite(test_2d).all()
    assert "Perplexity value 30 is too high" in caplog.text


def test_tsne_options_are_passed_through(digits, maps):
    x_train, _, x_test, _ = digits
    train_2d, _ = tsne_map(x_train, x_test, 0, {"perplexity": 10})
    assert not np.array_equal(train_2d, maps["tsne"][0][0])


def test_umap_options_are_passed_through(digits, maps):
    x_train, _, x_test, _ = digits
    train_2d, _ = umap_map(x_train, x_test, 0, {"n_neighbors": 5})
    assert not np.array_equal(train_2d, maps["umap"][0][0])


def test_umap_another_seed_gives_another_map(digits, maps):
    x_train, _, x_test, _ = digits
    train_2d, _ = umap_map(x_train, x_test, 1, {})
    assert not np.array_equal(train_2d, maps["umap"][0][0])


def test_umap_clamps_n_neighbors_to_n_minus_one(digits, caplog):
    x_train, _, x_test, _ = digits
    with caplog.at_level(logging.WARNING, logger="aelat.embedders.umap"):
        train_2d, test_2d = umap_map(x_train[:8], x_test[:3], 0, {"n_neighbors": 15})
    assert train_2d.shape == (8, 2) and test_2d.shape == (3, 2)
    assert np.isfinite(train_2d).all() and np.isfinite(test_2d).all()
    assert "n_neighbors=15 is too high for 8 points; using n_neighbors=7 instead" in caplog.text


def test_umap_needs_four_training_points(digits):
    x_train, _, x_test, _ = digits
    with pytest.raises(ConfigError, match="needs >= 4 training points but got 3"):
        umap_map(x_train[:3], x_test, 0, {})


def test_umap_one_dimensional_input(digits):
    x_train, _, x_test, _ = digits
    train_2d, test_2d = umap_map(x_train[:, :1], x_test[:, :1], 0, {})
    assert train_2d.shape == (N_TRAIN, 2) and test_2d.shape == (N_TEST, 2)
    assert np.isfinite(train_2d).all() and np.isfinite(test_2d).all()


def test_umap_empty_test_set(digits):
    x_train, _, x_test, _ = digits
    _, test_2d = umap_map(x_train[:50], x_test[:0], 0, {})
    assert test_2d.shape == (0, 2) and test_2d.dtype == np.float32


def test_umap_unknown_option(digits):
    x_train, _, x_test, _ = digits
    with pytest.raises(ConfigError, match=r"unknown option embed.umap.n_neighbours; did you mean n_neighbors\?"):
        umap_map(x_train, x_test, 0, {"n_neighbours": 10})


def test_umap_reserved_option(digits):
    x_train, _, x_test, _ = digits
    with pytest.raises(ConfigError, match="embed.umap.random_state cannot be set"):
        umap_map(x_train, x_test, 0, {"random_state": 3})


def test_umap_rejected_value_is_config_error(digits):
    x_train, _, x_test, _ = digits
    with pytest.raises(ConfigError, match="min_dist cannot be negative"):
        umap_map(x_train[:50], x_test, 0, {"min_dist": -1.0})


def test_umap_reports_epoch_progress(digits):
    x_train, _, x_test, _ = digits
    calls = []
    umap_map(x_train[:50], x_test[:10], 0, {"n_epochs": 60}, on_progress=lambda done, total: calls.append((done, total)))
    assert calls, "on_progress was never called"
    assert all(0 <= done <= total for done, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    # 60 fit epochs, then 60 // 3 epochs placing the test points
    assert calls[-1] == (80, 80)


def test_config_sections_are_valid_options(digits):
    x_train, _, x_test, _ = digits
    cfg = compose([])
    for method in ("tsne", "umap"):
        options = OmegaConf.to_container(cfg.embed[method])
        if method == "tsne":
            options["n_jobs"] = 1  # openTSNE's thread pool costs seconds on 60 points with 2 cores
        train_2d, test_2d = EMBEDDERS[method](x_train[:60], x_test[:10], 0, options)
        assert train_2d.shape == (60, 2) and test_2d.shape == (10, 2)


def test_importing_embedders_does_not_import_umap():
    code = "import sys, aelat.embedders; sys.exit('umap' in sys.modules or 'numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "umap-learn was imported eagerly"
