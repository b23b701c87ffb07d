"""UMAP map with umap-learn: fit on train, place test points with ``UMAP.transform``."""

from __future__ import annotations

import inspect
import logging
import re
from difflib import get_close_matches
from typing import Callable

import numpy as np

from aelat.errors import ConfigError
from aelat.runtime import current_threads, use_threads
from aelat.umap_import import import_umap

log = logging.getLogger(__name__)

# umap-learn needs n_neighbors >= 2, so >= 3 points, and its spectral initialisation asks
# for n_components + 1 = 3 eigenvectors of the graph, which fails below 4 points.
MIN_POINTS = 4
# umap-learn's default, used when the config leaves n_neighbors out.
DEFAULT_N_NEIGHBORS = 15
# Set from aelat's own arguments, never from the config section: key -> where it comes from.
RESERVED = {"n_components": "aelat draws 2-D maps", "random_state": "aelat sets it from seed"}


def umap_map(
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    options: dict | None = None,
    on_progress: Callable[[int, int], None] | None = None,
):
    """Fit umap-learn's ``UMAP`` on ``train`` and place ``test`` with ``UMAP.transform``.

    With ``random_state`` set, umap-learn runs single-threaded and the same seed gives
    identical arrays. ``n_neighbors`` >= the number of training points is lowered to
    ``n_train - 1`` with a logged warning.

    Parameters
    ----------
    train : ndarray, shape (n_train, d)
        ``d`` may be 1.
    test : ndarray, shape (n_test, d)
        ``n_test`` may be 0.
    seed : int
        umap-learn's ``random_state`` and ``transform_seed`` (unless the options set it).
    options : dict
        Keyword arguments for ``umap.UMAP`` (n_neighbors, min_dist, metric, init, n_epochs, ...).
    on_progress : callable(done, total), optional
        Called as the optimisation epochs advance: the fit's, then the test placement's
        (the total grows by the latter's epochs when it starts).

    Returns
    -------
    (ndarray (n_train, 2), ndarray (n_test, 2)), float32

    Raises
    ------
    ConfigError
        Fewer than 4 training points, an unknown or reserved option, or a value umap-learn rejects.
    """
    umap = import_umap()  # costs 1.5-2 s (numba), so only the umap map pays it
    use_threads(current_threads())  # size numba's pool, loaded with umap-learn just now

    options = dict(options or {})
    train = np.ascontiguousarray(train, dtype=np.float32)
    test = np.ascontiguousarray(test, dtype=np.float32)
    n = len(train)
    if n < MIN_POINTS:
        raise ConfigError(
            f"a umap map needs >= {MIN_POINTS} training points but got {n}; "
            "raise embed.max_points or use --method pca"
        )
    _check_options(options, inspect.signature(umap.UMAP).parameters)

    n_neighbors = options.get("n_neighbors", DEFAULT_N_NEIGHBORS)
    if isinstance(n_neighbors, (int, np.integer)) and n_neighbors >= n:
        log.warning("n_neighbors=%d is too high for %d points; using n_neighbors=%d instead", n_neighbors, n, n - 1)
        options["n_neighbors"] = n - 1
    options.setdefault("transform_seed", seed)
    # Seeded umap-learn is single-threaded anyway; saying so avoids its "n_jobs overridden" warning.
    options.setdefault("n_jobs", 1)
    reporter = None
    if on_progress is not None and "tqdm_kwds" not in options:
        reporter = _EpochReporter(on_progress)
        options["tqdm_kwds"] = reporter.tqdm_kwds()

    try:
        reducer = umap.UMAP(n_components=2, random_state=seed, **options)
        fitted = reducer.fit_transform(train)
        placed = reducer.transform(test) if len(test) else np.empty((0, 2))
    except ValueError as err:
        # umap-learn validates its parameters inside fit, one ValueError per rule.
        raise ConfigError(f"embed.umap: {err} (umap-learn's check)") from err
    if on_progress is not None and (reporter is None or reporter.total is None):
        on_progress(1, 1)  # nothing was reported along the way
    return np.asarray(fitted, dtype=np.float32), np.asarray(placed, dtype=np.float32)


def _check_options(options: dict, accepted) -> None:
    """Raise ConfigError for a reserved or unknown ``embed.umap`` key."""
    for key in options:
        if key in RESERVED:
            raise ConfigError(f"embed.umap.{key} cannot be set ({RESERVED[key]}); remove it from the config")
        if key not in accepted:
            close = get_close_matches(key, [name for name in accepted if name not in RESERVED], n=1)
            hint = f"did you mean {close[0]}?" if close else "see umap.UMAP's parameters"
            raise ConfigError(f"unknown option embed.umap.{key}; {hint}")


class _EpochReporter:
    """A file for umap-learn's tqdm epoch bar that forwards "done/total" to ``on_progress``.

    umap-learn exposes its epoch loop only through ``tqdm_kwds``; formatting the bar as
    ``{n}/{total}`` and reading it back is the one hook that needs no private API.
    """

    _PATTERN = re.compile(r"(\d+)/(\d+)")

    def __init__(self, on_progress: Callable[[int, int], None]):
        self.on_progress = on_progress
        self.base = 0  # epochs of the phases already finished (the fit, when transform runs)
        self.total = None  # epochs of the current phase
        self.done = 0

    def tqdm_kwds(self) -> dict:
        return {"disable": False, "file": self, "bar_format": "{n}/{total}\n", "leave": True}

    def write(self, text: str) -> None:
        matches = self._PATTERN.findall(text)
        if not matches:
            return
        done, total = (int(value) for value in matches[-1])
        if self.total is not None and (total != self.total or done < self.done):
            self.base += self.total  # a new tqdm bar: the next phase has started
        self.total, self.done = total, done
        self.on_progress(self.base + done, self.base + total)

    def flush(self) -> None:
        pass
