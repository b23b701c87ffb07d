"""t-SNE map with openTSNE: fit on train, place test points into the fitted map."""

from __future__ import annotations

import contextlib
import logging
from typing import Callable

import numpy as np
from openTSNE import TSNE

from aelat.runtime import current_threads

CALLBACK_EVERY = 25
# n_jobs="auto": below this many points one thread. Such a map takes seconds; a second thread gains
# little there, while every one of openTSNE's ~750 iterations waits for all threads, so on a busy
# machine (a thread descheduled) small maps ran 5x slower with all cores than with one.
PARALLEL_FROM = 5000
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
        Keyword arguments for ``openTSNE.TSNE`` (perplexity, initialization, metric, n_jobs, ...);
        ``n_jobs="auto"`` (the default) is :func:`auto_n_jobs`.
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
    options = effective_options(len(train), options)
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


def load_neighbour_kernels() -> None:
    """Import pynndescent in this process before t-SNE maps go to worker processes.

    openTSNE imports pynndescent on the first fit in each process (to learn whether it is installed),
    and pynndescent compiles its numba kernels as it is imported unless numba's disk cache holds them:
    ~13 s of CPU on 2 cores. Workers starting together on a machine that never ran it would each compile
    the same kernels at once; imported here first, the kernels are on disk and each worker loads them
    in under a second. (This process imports it anyway when it clusters with UMAP.)
    """
    with contextlib.suppress(ImportError):
        import pynndescent  # noqa: F401


def effective_options(n_points: int, options: dict) -> dict:
    """``options`` with ``n_jobs="auto"`` (or absent) resolved for a map of ``n_points``: aelat's
    thread count, or 1 below :data:`PARALLEL_FROM` points. openTSNE's numbers depend on n_jobs."""
    options = dict(options)
    if options.get("n_jobs", "auto") == "auto":
        options["n_jobs"] = current_threads() if n_points >= PARALLEL_FROM else 1
    return options
