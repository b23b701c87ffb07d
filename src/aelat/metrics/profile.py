"""A few class-structure numbers of one representation on a sample, for curves over epochs and layers.

Each value is computed by the public function of :mod:`aelat.metrics.structure` or
:mod:`aelat.metrics.distribution` that ``aelat evaluate`` uses, so a number here means what the
same-named number in metrics.json means (on the sample instead of every point).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from aelat.errors import ConfigError
from aelat.metrics.confidence import variance_share_influence
from aelat.metrics.distribution import between_class_variance_share, sliced_wasserstein_matrix, twonn_dimension
from aelat.metrics.structure import clustering_scores, knn_predictions, linear_probe_accuracy

__all__ = ["DIMENSION_LEVEL", "PROFILE_METRICS", "mean_class_distance", "point_evidence", "separation_profile"]

DIMENSION_LEVEL = 0.95  # of the TwoNN dimension's interval in layers.csv, as of geometry.csv's ratios

# Every metric separation_profile knows, in the column order of dynamics.csv and layers.csv (whose kNN
# accuracy, before them, is the mean of point_evidence's knn_correct: the neighbour search runs once).
PROFILE_METRICS = ("probe_accuracy", "between_class_variance_share", "sw_between_classes",
                   "twonn_dimension", "gmm_nmi")


def mean_class_distance(Z: np.ndarray, y: np.ndarray, *, n_directions: int = 100, seed: int = 0) -> float:
    """Mean normalised sliced W2 over all pairs of classes (the report's "SW₂" column), every point used.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels, at least two classes.
    n_directions : int
        Random directions of :func:`aelat.metrics.distribution.sliced_wasserstein_matrix`.
    seed : int
        Seeds the directions.

    Returns
    -------
    float
        The mean of the off-diagonal entries of the normalised class-by-class matrix.
    """
    matrix = sliced_wasserstein_matrix(Z, y, n_directions=n_directions, n_per_class=len(Z), seed=seed)["matrix"]
    return float(matrix[~np.eye(len(matrix), dtype=bool)].mean())


def separation_profile(
    Z_train: np.ndarray,
    y_train: np.ndarray,
    Z_test: np.ndarray,
    y_test: np.ndarray,
    *,
    metrics: Sequence[str] = PROFILE_METRICS,
    n_directions: int = 100,
    id_samples: int = 3000,
    seed: int = 0,
) -> dict[str, float]:
    """Class-structure metrics of a sample: train points fit, test points score; pooled where no split is needed.

    Parameters
    ----------
    Z_train : ndarray, shape (n_train, d)
        Train points of the representation.
    y_train : ndarray of int, shape (n_train,)
        Their labels.
    Z_test : ndarray, shape (n_test, d)
        Test points.
    y_test : ndarray of int, shape (n_test,)
        Their labels.
    metrics : sequence of str
        Which of :data:`PROFILE_METRICS` to compute.
    n_directions : int
        Directions of the sliced W2 between classes.
    id_samples : int
        Points of the TwoNN estimate.
    seed : int
        Seeds the probe, the mixture, the TwoNN subsample and the directions.

    Returns
    -------
    dict of str to float
        ``probe_accuracy`` (:func:`~aelat.metrics.structure.linear_probe_accuracy` on every train point),
        ``between_class_variance_share``, ``sw_between_classes`` (:func:`mean_class_distance`),
        ``twonn_dimension`` and ``gmm_nmi`` (:func:`~aelat.metrics.structure.clustering_scores`,
        fitted on every point) of the pooled train and test points; only those in ``metrics``.
    """
    unknown = set(metrics) - set(PROFILE_METRICS)
    if unknown:
        raise ConfigError(f"unknown profile metrics {sorted(unknown)}; choose from {PROFILE_METRICS}")
    Z, y = np.concatenate([Z_train, Z_test]), np.concatenate([y_train, y_test])
    compute = {
        "probe_accuracy": lambda: linear_probe_accuracy(Z_train, y_train, Z_test, y_test, max_train=None, seed=seed),
        "between_class_variance_share": lambda: between_class_variance_share(Z, y),
        "sw_between_classes": lambda: mean_class_distance(Z, y, n_directions=n_directions, seed=seed),
        "twonn_dimension": lambda: twonn_dimension(Z, n_samples=id_samples, seed=seed),
        "gmm_nmi": lambda: clustering_scores(Z, y, fit_size=None, seed=seed)["gmm_nmi"],
    }
    return {name: float(compute[name]()) for name in PROFILE_METRICS if name in metrics}


def point_evidence(Z_train: np.ndarray, y_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray, *,
                   knn_k: int = 10) -> dict[str, np.ndarray]:
    """Per point, what paired comparisons of two representations of the same sample need.

    Parameters
    ----------
    Z_train, y_train, Z_test, y_test
        As for :func:`separation_profile`.
    knn_k : int
        k of the kNN classifier (clamped to n_train).

    Returns
    -------
    dict of str to ndarray
        ``knn_correct`` (bool, n_test): whether kNN@k classifies each test point right (its mean is
        :func:`~aelat.metrics.structure.knn_accuracy`'s kNN@k); ``share_influence`` (n_train +
        n_test): each pooled point's influence on the between-class variance share
        (:func:`aelat.metrics.confidence.variance_share_influence`).
    """
    predicted = knn_predictions(Z_train, y_train, Z_test, min(knn_k, len(Z_train)))
    _, influence = variance_share_influence(np.concatenate([Z_train, Z_test]), np.concatenate([y_train, y_test]))
    return {"knn_correct": predicted == y_test, "share_influence": influence}
