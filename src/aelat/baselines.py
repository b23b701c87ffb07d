"""The baselines every representation is compared with: the raw input and PCA of the same size."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from aelat.data import Dataset


def raw_and_pca(data: Dataset, dim: int, seed: int) -> tuple[dict[str, np.ndarray], PCA]:
    """latents.npz's labels, class names, raw and pca arrays (their reconstruction MSEs, the PCA's components
    and mean), with the PCA.

    PCA keeps ``dim`` components, at most as many as the input has dimensions and training samples.
    """
    raw_train = data.x_train.reshape(len(data.x_train), -1).numpy()
    raw_test = data.x_test.reshape(len(data.x_test), -1).numpy()
    pca = PCA(n_components=min(dim, *raw_train.shape), random_state=seed).fit(raw_train)
    pca_test = pca.transform(raw_test)
    arrays = {
        "y_train": data.y_train.numpy(),
        "y_test": data.y_test.numpy(),
        "class_names": np.array(data.class_names),
        "raw_train": raw_train,
        "raw_test": raw_test,
        "pca_train": pca.transform(raw_train).astype(np.float32),
        "pca_test": pca_test.astype(np.float32),
        "recon_mse_raw": np.float64(0.0),
        "recon_mse_pca": np.float64(np.mean((pca.inverse_transform(pca_test) - raw_test) ** 2)),
        "pca_components": pca.components_.astype(np.float32),
        "pca_mean": pca.mean_.astype(np.float32),
    }
    return arrays, pca
