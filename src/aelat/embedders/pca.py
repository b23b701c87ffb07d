"""Linear 2-D map: the first two principal components."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA


def pca_map(train: np.ndarray, test: np.ndarray, seed: int, options=None, on_progress=None):
    """Project onto the top two principal axes of ``train``.

    Parameters
    ----------
    train : ndarray, shape (n_train, d)
    test : ndarray, shape (n_test, d)

    Returns
    -------
    (ndarray (n_train, 2), ndarray (n_test, 2)), float32
    """
    pca = PCA(n_components=2, random_state=seed).fit(train)
    return pca.transform(train).astype(np.float32), pca.transform(test).astype(np.float32)
