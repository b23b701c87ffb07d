"""How far one layer's distribution lies from the next one's: a sliced W2 between spaces of different widths.

Two layers of an encoder hold the same points in spaces of different widths whose axes (neurons)
correspond to nothing in particular, so W2 between them is only defined up to an isometry. Here:

1. each layer's points are centred and scaled to unit root-mean-square radius (a layer's overall
   scale is arbitrary: a ReLU layer followed by one that divides by 2 computes the same function);
2. both are reduced to their first m principal components, m = min(widths, ``n_components``,
   n - 1) — the common dimension, and the directions that carry the distribution's spread;
3. the second is rotated onto the first by orthogonal Procrustes on the paired points (the same
   inputs), the rotation that moves the points least; it removes the arbitrary orientation;
4. the sliced W2 between the two m-dimensional point sets
   (:func:`aelat.metrics.distribution.sliced_wasserstein`) is divided by the normaliser of
   :func:`aelat.metrics.distribution.sliced_wasserstein_matrix`, sqrt(trace(Cov_pooled) / m), so
   it reads in units of the pooled spread like the SW₂ between classes.

0 means the layer only rotated and rescaled the top-m shape of the distribution; about 1 means it
moved points by about the spread itself. Hand-written: no installed library compares point
clouds of different widths by sliced W2 (POT's Gromov–Wasserstein compares them otherwise, at O(n²)
memory).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA

from aelat.errors import ConfigError, DataError
from aelat.metrics.alignment import normalised
from aelat.metrics.distribution import random_directions, sliced_wasserstein
from aelat.sampling import seeded_subset

__all__ = ["layer_distance"]


def layer_distance(X: np.ndarray, Y: np.ndarray, *, n_components: int = 64, n_directions: int = 100,
                   n_samples: int = 3000, seed: int = 0) -> float:
    """Normalised sliced W2 between the distributions of two layers, up to rotation and scale.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        One layer's activations (flattened).
    Y : ndarray, shape (n, q)
        The next layer's activations of the same n inputs, row for row.
    n_components : int
        Most principal components compared.
    n_directions : int
        Random directions of the sliced W2.
    n_samples : int
        Rows (the same in both layers) drawn with ``seed`` when there are more; the principal
        components cost O(n_samples · width · n_components).
    seed : int
        Seeds the rows, the directions and the randomised PCA.

    Returns
    -------
    float
        In units of the pooled spread; 0 for Y a rotated, rescaled, shifted copy of X.
    """
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or len(X) < 3:
        raise DataError(f"layers of shapes {X.shape} and {Y.shape}: need two 2-D arrays of the same n >= 3 rows")
    if n_samples < 3:
        raise ConfigError(f"n_samples={n_samples} must be >= 3")
    if n_samples < len(X):
        rows = seeded_subset(len(X), n_samples, seed, "n_samples")
        X, Y = X[rows], Y[rows]
    m = min(X.shape[1], Y.shape[1], n_components, len(X) - 1)
    centred = [normalised(Z) for Z in (X, Y)]
    if not any(Z.any() for Z in centred):
        raise DataError("both layers are constant on these points; their distance is undefined")
    # a constant layer (every unit dead) is the point at the origin in any basis
    parts = [PCA(n_components=m, random_state=seed).fit_transform(Z) if Z.any() else np.zeros((len(Z), m))
             for Z in centred]
    rotation, _ = orthogonal_procrustes(parts[1], parts[0])
    a, b = parts[0], parts[1] @ rotation
    scale = np.sqrt(np.concatenate([a, b]).var(axis=0).sum() / m)
    return sliced_wasserstein(a, b, random_directions(m, n_directions, seed)) / scale
