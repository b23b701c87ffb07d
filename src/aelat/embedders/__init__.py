"""2-D maps of a representation: each fits on train points and places test points with ``transform``."""

from __future__ import annotations

import time

import numpy as np

from aelat.embedders import tsne
from aelat.embedders.pca import pca_map
from aelat.embedders.tsne import tsne_map
from aelat.embedders.umap import umap_map

EMBEDDERS = {"tsne": tsne_map, "pca": pca_map, "umap": umap_map}

# Maps that repeat another: the PCA map of the PCA representation is the first two principal
# components of the raw input again (up to sign), the PCA map of raw. Neither drawn nor scored.
REPEATS = {("pca", "pca"): ("pca", "raw")}


def map_parameters(method: str, n_points: int, options: dict) -> dict:
    """What a map of ``n_points`` depends on besides its input and seed: ``options`` as the embedder
    resolves them (t-SNE's ``n_jobs="auto"`` becomes a thread count)."""
    return tsne.effective_options(n_points, options) if method == "tsne" else dict(options)


def compute_map(method: str, train: np.ndarray, test: np.ndarray, seed: int,
                options: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """``EMBEDDERS[method]``'s map (in a worker process) and the seconds it took."""
    started = time.perf_counter()
    train, test = EMBEDDERS[method](train, test, seed, options)
    return train, test, time.perf_counter() - started


__all__ = ["EMBEDDERS", "REPEATS", "compute_map", "map_parameters"]
