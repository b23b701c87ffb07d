"""Metrics on representations: class structure, neighbourhoods, the distribution of Q = g#P.

Every function takes NumPy arrays and returns plain Python or NumPy values; bad values raise
``aelat.ConfigError`` or ``aelat.DataError`` (both ``ValueError``). ``aelat.score`` runs them all
on one representation, as ``aelat evaluate`` does.
"""

from aelat.metrics.distribution import (
    between_class_variance_share,
    class_gaussianity,
    class_moments,
    distribution_metrics,
    gaussianity_mmd,
    intrinsic_dimension,
    levina_bickel_dimension,
    pairwise_distance_ratio,
    random_directions,
    sliced_wasserstein,
    sliced_wasserstein_matrix,
    twonn_dimension,
    twonn_interval,
    wasserstein2_1d,
)
from aelat.metrics.neighbourhood import (
    continuity,
    knn_preservation,
    neighbourhood_scores,
    neighbourhood_scores_of_maps,
    trustworthiness,
)
from aelat.metrics.structure import (
    cluster_scores,
    clustering_fits,
    clustering_scores,
    gmm_clusters,
    knn_accuracy,
    knn_predictions,
    knn_votes,
    linear_probe_accuracy,
    linear_probe_predictions,
    matched_accuracy,
    silhouette,
)

__all__ = [
    "between_class_variance_share",
    "class_gaussianity",
    "class_moments",
    "cluster_scores",
    "clustering_fits",
    "clustering_scores",
    "continuity",
    "distribution_metrics",
    "gaussianity_mmd",
    "gmm_clusters",
    "intrinsic_dimension",
    "knn_accuracy",
    "knn_predictions",
    "knn_votes",
    "knn_preservation",
    "levina_bickel_dimension",
    "linear_probe_accuracy",
    "linear_probe_predictions",
    "matched_accuracy",
    "neighbourhood_scores",
    "neighbourhood_scores_of_maps",
    "pairwise_distance_ratio",
    "random_directions",
    "silhouette",
    "sliced_wasserstein",
    "sliced_wasserstein_matrix",
    "trustworthiness",
    "twonn_dimension",
    "twonn_interval",
    "wasserstein2_1d",
]
