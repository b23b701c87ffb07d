"""t-SNE map with openTSNE: fit on train, place test points into the fitted map."""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from openTSNE import TSNE

CALLBACK_EVERY = 25
logger = logging.getLogger(__name__)


def tsne_map(
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    options: dict | None = None,
    on_progress: Callable[[int, int], None] | None = None,
):
    """Fit openTSNE on ``train`` and embed ``test`` with ``TSNEEmbedding.transform``.

    Parameters
    ----------
    train : ndarray, shape (n_train, d)
    test : ndarray, shape (n_test, d)
    seed : int
        openTSNE's ``random_state``.
    options : dict
        Keyword arguments for ``openTSNE.TSNE`` (perplexity, initialization, metric, n_jobs, ...).
    on_progress : callable(done, total), optional
        Called as the optimisation advances.

    Returns
    -------
    (ndarray (n_train, 2), ndarray (n_test, 2)), float32
    """
    options = dict(options or {})
    if train.shape[1] < 2 and options.get("initialization", "pca") == "pca":
        # PCA cannot give a 1-d input two initial coordinates; openTSNE would raise
        logger.warning("t-SNE initialization pca -> spectral: the input has %d dimension", train.shape[1])
        options["initialization"] = "spectral"
    tsne = TSNE(n_components=2, random_state=seed, verbose=False, **options)
    total = tsne.early_exaggeration_iter + tsne.n_iter
    if on_progress is not None:
        done = 0

        def callback(iteration, error, embedding):
            nonlocal done
            done = min(done + CALLBACK_EVERY, total)
            on_progress(done, total)

        tsne.callbacks = [callback]
        tsne.callbacks_every_iters = CALLBACK_EVERY
    embedding = tsne.fit(np.ascontiguousarray(train, dtype=np.float64))
    placed = embedding.transform(np.ascontiguousarray(test, dtype=np.float64))
    return np.asarray(embedding, dtype=np.float32), np.asarray(placed, dtype=np.float32)
