"""Two representations of the same points, compared metric by metric: difference, interval, p-value.

A representation's evidence comes in two parts. :class:`HeldOutPredictions` holds the labels its
classifiers (kNN@k, linear probe) give the test points; :class:`PointSummary` holds what the
point-set metrics need (labels, clusterings, the silhouette's bootstrap replicates, the variance
share's influence values). :func:`compare` turns the two parts of A and of B into one entry per
metric with ``a``, ``b``, ``difference`` (a - b), ``ci_low``, ``ci_high``, ``p_value`` and
``test`` (see :mod:`aelat.metrics.confidence` for the methods).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from aelat.errors import DataError
from aelat.metrics.confidence import (
    bootstrap_comparison,
    paired_accuracy_difference,
    paired_clustering_replicates,
    silhouette_replicates,
    silhouette_sample_rows,
    variance_share_comparison,
    variance_share_influence,
)
from aelat.metrics.structure import cluster_scores, silhouette

__all__ = ["HeldOutPredictions", "PointSummary", "clustering_comparison", "compare", "summarize_points"]


@dataclass(frozen=True)
class HeldOutPredictions:
    """Labels of the test points, and what each classifier predicted for them.

    ``predicted`` maps a metric name (``knn_accuracy_10``, ``probe_accuracy``) to an array of
    shape (n_test,).
    """

    y_test: np.ndarray
    predicted: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class PointSummary:
    """What the point-set comparisons need from one representation of n points."""

    labels: np.ndarray  # (n,)
    clusters: Mapping[str, np.ndarray]  # "kmeans", "gmm" -> (fits, n)
    silhouette: float  # on the silhouette sample
    silhouette_replicates: np.ndarray  # (n_resamples,)
    variance_share: float
    variance_share_influence: np.ndarray  # (n,)


def summarize_points(Z: np.ndarray, y: np.ndarray, clusters: Mapping[str, np.ndarray], *,
                     silhouette_sample: int | None = 2000, n_resamples: int = 200, seed: int = 0) -> PointSummary:
    """The :class:`PointSummary` of the points ``Z`` (n, d) with labels ``y`` and their clusterings.

    The silhouette is scored, and resampled, on the seeded sample scikit-learn's
    ``silhouette_score(Z, y, sample_size=silhouette_sample, random_state=seed)`` draws, so two
    representations of the same n points share it.
    """
    y = np.asarray(y)
    clusters = {name: np.atleast_2d(np.asarray(fits)) for name, fits in clusters.items()}
    for name, fits in clusters.items():
        if fits.shape[1] != len(y):
            raise DataError(f"clusters {name} {fits.shape} do not match {len(y)} points")
    rows = silhouette_sample_rows(len(Z), silhouette_sample, seed)
    share, influence = variance_share_influence(Z, y)
    return PointSummary(
        labels=y,
        clusters=clusters,
        silhouette=silhouette(Z, y, sample_size=silhouette_sample, seed=seed),
        silhouette_replicates=silhouette_replicates(Z[rows], y[rows], n_resamples=n_resamples, seed=seed),
        variance_share=share,
        variance_share_influence=influence,
    )


def compare(a_tests: HeldOutPredictions, b_tests: HeldOutPredictions, a_points: PointSummary, b_points: PointSummary, *,
            level: float = 0.95, n_resamples: int = 200, seed: int = 0) -> dict[str, dict]:
    """Every metric both representations have, compared on the same points.

    Parameters
    ----------
    a_tests, b_tests : HeldOutPredictions
        Test predictions of A and B; their test labels must be equal.
    a_points, b_points : PointSummary
        Point summaries of A and B on the same points (equal labels), made with the same
        ``silhouette_sample``, ``n_resamples`` and ``seed``.
    level : float
        Confidence level of the intervals.
    n_resamples, seed : int
        Bootstrap replicates and seed of the clustering comparisons.

    Returns
    -------
    dict
        Metric name (``knn_accuracy_10``, ``probe_accuracy``, ``kmeans_nmi``, ``gmm_ari``,
        ``silhouette``, ``between_class_variance_share``, ...) -> ``a``, ``b``, ``difference``,
        ``ci_low``, ``ci_high``, ``p_value``, ``test``, and for clusterings ``fits`` (per side).
    """
    if not np.array_equal(a_tests.y_test, b_tests.y_test) or not np.array_equal(a_points.labels, b_points.labels):
        raise DataError("a paired comparison needs the same points, with the same labels, on both sides")
    out = {}
    for metric in a_tests.predicted.keys() & b_tests.predicted.keys():
        y = a_tests.y_test
        out[metric] = paired_accuracy_difference(a_tests.predicted[metric] == y, b_tests.predicted[metric] == y, level)
    for model in a_points.clusters.keys() & b_points.clusters.keys():
        compared = clustering_comparison(a_points.labels, a_points.clusters[model], b_points.clusters[model],
                                         level=level, n_resamples=n_resamples, seed=seed)
        out |= {f"{model}_{metric}": entry for metric, entry in compared.items()}
    out["silhouette"] = bootstrap_comparison(
        a_points.silhouette, b_points.silhouette, a_points.silhouette_replicates, b_points.silhouette_replicates,
        level=level,
    )
    out["between_class_variance_share"] = variance_share_comparison(
        a_points.variance_share, a_points.variance_share_influence,
        b_points.variance_share, b_points.variance_share_influence, level,
    )
    return dict(sorted(out.items()))


def clustering_comparison(y: np.ndarray, fits_a: np.ndarray, fits_b: np.ndarray, *, level: float = 0.95,
                          n_resamples: int = 200, seed: int = 0) -> dict[str, dict]:
    """Two clusterings of the same labelled points compared by matched accuracy, NMI and ARI.

    ``fits_a``, ``fits_b`` (fits, n) hold one or more fits of each method; a method's score is the
    mean over its fits. The points are resampled (:func:`aelat.metrics.confidence.paired_clustering_replicates`,
    on the first fit of each), the fits' own spread is added
    (:func:`aelat.metrics.confidence.bootstrap_comparison`).

    Returns
    -------
    dict
        ``accuracy``, ``nmi``, ``ari`` -> the comparison entry of A - B, with ``fits`` (per side).
    """
    replicates_a, replicates_b = paired_clustering_replicates(y, fits_a[0], fits_b[0], n_resamples=n_resamples,
                                                              seed=seed)
    values_a = [cluster_scores(y, fit) for fit in fits_a]
    values_b = [cluster_scores(y, fit) for fit in fits_b]
    out = {}
    for metric in ("accuracy", "nmi", "ari"):
        per_fit_a, per_fit_b = [v[metric] for v in values_a], [v[metric] for v in values_b]
        out[metric] = bootstrap_comparison(
            float(np.mean(per_fit_a)), float(np.mean(per_fit_b)), replicates_a[metric], replicates_b[metric],
            fit_values_a=per_fit_a, fit_values_b=per_fit_b, level=level,
        ) | {"fits": [len(fits_a), len(fits_b)]}
    return out
