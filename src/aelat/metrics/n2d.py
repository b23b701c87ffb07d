"""N2D-style clustering: UMAP of a representation to a few dimensions, then a Gaussian mixture.

McConville, Santos-Rodriguez, Piechocki & Craddock, "N2D: (Not Too) Deep Clustering via Clustering
the Local Manifold of an Autoencoded Embedding" (ICPR 2020): an autoencoder's codes are mapped by
UMAP (``n_neighbors`` small, ``min_dist`` 0, as many dimensions as clusters) and a full-covariance
Gaussian mixture clusters the map. umap-learn and scikit-learn do the work; UMAP is seeded, so it
runs on one thread and the same seed gives the same clusters.
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from aelat.errors import ConfigError, DataError
from aelat.metrics.structure import cluster_scores
from aelat.umap_import import import_umap

__all__ = ["n2d_clustering"]


def n2d_clustering(Z: np.ndarray, y: np.ndarray, *, n_components: int = 10, n_neighbors: int = 10,
                   min_dist: float = 0.0, n_clusters: int | None = None, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Cluster ``Z`` the N2D way and score the clusters against the labels.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation (all points: clustering needs no train/test split).
    y : ndarray of int, shape (n,)
        Labels, used only to score the clusters.
    n_components : int, default=10
        Dimensions of the UMAP map (N2D: the number of clusters).
    n_neighbors : int, default=10
        UMAP's neighbourhood size (N2D uses a small one, to follow the local manifold).
    min_dist : float, default=0.0
        UMAP's minimum distance (0 packs clusters tightly, which a mixture then separates).
    n_clusters : int or None
        Mixture components; None for the number of distinct labels.
    seed : int
        Seeds UMAP and the mixture.

    Returns
    -------
    (dict, ndarray of shape (n,))
        ``accuracy``, ``nmi``, ``ari`` (see :func:`~aelat.metrics.structure.cluster_scores`) and
        the settings; and the cluster of each point.
    """
    umap = import_umap()

    Z, y = np.asarray(Z, dtype=np.float32), np.asarray(y)
    if Z.ndim != 2 or y.shape != (len(Z),):
        raise DataError(f"Z {Z.shape} and y {y.shape} must be (n, d) and (n,)")
    if n_clusters is None:
        n_clusters = int(np.unique(y).size)
    if not 2 <= n_neighbors < len(Z) or not 1 <= n_components < len(Z) - 1 or min_dist < 0:
        raise ConfigError(f"evaluate.n2d: n_neighbors={n_neighbors}, n_components={n_components} and "
                          f"min_dist={min_dist} need 2 <= n_neighbors < {len(Z)} points, 1 <= n_components "
                          f"< {len(Z) - 1} and min_dist >= 0")
    mapped = umap.UMAP(n_components=n_components, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
                       n_jobs=1).fit_transform(Z)
    with threadpool_limits(limits=1):
        gmm = GaussianMixture(n_components=n_clusters, covariance_type="full", random_state=seed)
        clusters = gmm.fit(mapped.astype(np.float64)).predict(mapped.astype(np.float64))
    scores = cluster_scores(y, clusters) | {
        "settings": {"n_components": n_components, "n_neighbors": n_neighbors, "min_dist": min_dist,
                     "n_clusters": n_clusters, "seed": seed}
    }
    return scores, clusters
