"""Stage 3: a 2-D map (t-SNE, PCA, UMAP) of the latent or of a baseline; writes embedding_*.npz and a PNG.

Maps are stored by content under ``<output_dir>/.cache/maps`` (aelat.content_store): a map of the
same points with the same parameters, seed and code, made by any run of the output_dir, is read
instead of computed. In a latent-size sweep the raw input's map is computed once; so is every
baseline's map when a sweep varies only training settings. The arrays are the ones computing gives,
bit for bit. ``embed.cache=false`` turns it off.

A t-SNE map that leaves cores idle (one thread below 5000 points) is computed in a worker process
when the command passes a :class:`aelat.background.Background` (``aelat run``, ``aelat embed --of
all``): the run's other maps, and analyse, go on beside it (``jobs``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from omegaconf import OmegaConf

from aelat import artifacts, content_store
from aelat.artifacts import Run
from aelat.background import Background, workers
from aelat.content_store import ContentStore
from aelat.embedders import EMBEDDERS, REPEATS, compute_map, map_parameters
from aelat.embedders.tsne import load_neighbour_kernels
from aelat.errors import ConfigError, DataError
from aelat.plots.scatter import plot_map
from aelat.runtime import console, current_threads, progress_bar, use_threads
from aelat.sampling import seeded_subset

MAPS = content_store.FOLDER / "maps"  # under output_dir


# Maps worth a worker process: t-SNE takes seconds to minutes. UMAP stays in the process: umap-learn
# compiles its numba code in each new process (tens of seconds), which a worker would pay again.
BACKGROUND = ("tsne",)


@dataclass
class MapInput:
    """What one map is computed and recorded from."""

    method: str
    source: str
    fitted: np.ndarray  # the train rows it is fitted on
    test: np.ndarray
    train_index: np.ndarray
    options: dict  # as the embedder resolves them (map_parameters)
    name: str  # its entry in the map cache
    store: ContentStore
    latents: dict
    inputs: dict
    dim: int
    started: float


def run(run: Run, method: str, source: str = "latent", background: Background | None = None) -> None:
    """Fit ``method`` on the train rows of ``source`` (raw, pca, untrained, latent), place the test rows.

    With ``background``, a t-SNE map that uses fewer threads than the run has (``jobs``) is
    computed in a worker process and recorded by ``background.finish()``; the arrays are the same.
    """
    started = time.perf_counter()
    use_threads(run.cfg.get("threads"))
    given = map_input(run, method, source, started)
    cached = given.store.get_arrays(given.name, lambda arrays: _is_map(arrays.get("train"), len(given.fitted))
                                    and _is_map(arrays.get("test"), len(given.test)))
    if cached is not None:
        console().print(f"{method} of {source}: the same map is in {run.path.parent / MAPS}; reused")
        record(run, given, cached["train"], cached["test"], cached=True)
        return
    jobs = map_jobs(run.cfg.jobs, method, given.options)
    if background is not None and method in BACKGROUND and jobs > 1:
        console().print(f"{method} of {source}, {len(given.fitted)} points: computing in a worker process")
        load_neighbour_kernels()
        background.submit(jobs, f"the {method} map of {source}", lambda result: record(run, given, *result),
                          compute_map, method, given.fitted, given.test, run.cfg.seed, given.options)
        return
    with progress_bar() as bar:
        task = bar.add_task(f"{method} of {source}, {len(given.fitted)} points", total=None, status="")
        train, test = EMBEDDERS[method](
            given.fitted,
            given.test,
            run.cfg.seed,
            given.options,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        bar.update(task, completed=1, total=1)
    record(run, given, train, test)


def check_source(source: str) -> None:
    """Raise ConfigError unless ``source`` names a representation."""
    if source not in artifacts.REPRESENTATIONS:
        raise ConfigError(f"unknown --of '{source}'; choose one of: {', '.join(artifacts.REPRESENTATIONS)}, all")


def map_input(run: Run, method: str, source: str, started: float) -> MapInput:
    """Check the request and the run's latents; the points, options and cache entry of the map."""
    if method not in EMBEDDERS:
        raise ConfigError(f"unknown embed method '{method}'; choose one of: {', '.join(EMBEDDERS)}")
    check_source(source)
    if (method, source) in REPEATS:
        same = REPEATS[method, source]
        raise ConfigError(f"the {method} map of {source} is the {same[0]} map of {same[1]} (the same points); "
                          f"use --of {same[1]}")
    cfg = run.cfg
    inputs = run.require("encode", artifacts.LATENTS)
    held = artifacts.representations_in(run.file(artifacts.LATENTS))
    if source not in held:  # embeddings made outside aelat: the latent, with their raw input raw and pca too
        raise ConfigError(f"{run.path} holds no {source} representation, only {', '.join(held)}; map one of those "
                          "(--of all maps each)")
    key = artifacts.REPRESENTATIONS[source]
    needed = (f"{key}_train", f"{key}_test", "y_train", "y_test", "class_names")
    latents = artifacts.read_npz(run.file(artifacts.LATENTS), needed)  # not the other representations
    rows, test = latents[f"{key}_train"], latents[f"{key}_test"]
    if method == "pca" and rows.shape[1] < 2:
        raise ConfigError(f"a pca map needs >= 2 dimensions but {source} has {rows.shape[1]}; use --method tsne")
    if len(rows) and bool((rows == rows[:1]).all()):
        raise DataError(f"every {source} point of the training set is the same, so a {method} map of it means "
                        "nothing; check the data (constant images?) or map another representation")
    train_index = seeded_subset(len(rows), cfg.embed.max_points, cfg.seed, "embed.max_points")
    section = cfg.embed.get(method)
    fitted = rows[train_index]
    options = map_parameters(method, len(fitted), OmegaConf.to_container(section) if section is not None else {})
    name = content_store.key(kind="map", method=method, parameters=options, seed=cfg.seed,
                             points=content_store.digest([fitted, test]), code=artifacts.code_versions())
    store = ContentStore(run.path.parent / MAPS if cfg.embed.get("cache", True) else None, "map cache", "mapping")
    return MapInput(method, source, fitted, test, train_index, options, name, store, latents, inputs, rows.shape[1],
                    started)


def map_jobs(jobs: int | str, method: str, options: dict) -> int:
    """Maps computed at once: ``jobs``, or for auto aelat's threads over the threads one map uses."""
    threads = int(options.get("n_jobs", 1)) if method == "tsne" else 1
    if threads < 0:  # joblib's convention, as openTSNE reads it: -1 all cores, -2 all but one
        threads = max(1, current_threads() + 1 + threads)
    return workers(jobs, threads)


def record(run: Run, given: MapInput, train: np.ndarray, test: np.ndarray, seconds: float | None = None,
           cached: bool = False) -> None:
    """Check a computed map (finite), store it in the map cache, write its npz and PNG into the run.

    ``seconds``: what computing took in a worker (the stage's time is that plus recording).
    """
    method, source = given.method, given.source
    if not (np.isfinite(train).all() and np.isfinite(test).all()):
        raise DataError(f"the {method} map of {source} has coordinates that are NaN or infinite, so it was not "
                        f"recorded; check {source} for constant or degenerate points, or try another --method")
    if not cached:
        given.store.put_arrays(given.name, train=train, test=test)
    started = given.started if seconds is None else time.perf_counter() - seconds
    stem = artifacts.embedding_stem(method, source)
    latents, train_index = given.latents, given.train_index
    y_train = latents["y_train"][train_index]
    with run.making(artifacts.embedding_stage(method, source), given.inputs, started) as out:
        artifacts.write_npz(
            out(f"{stem}.npz"), train=train, test=test, y_train=y_train, y_test=latents["y_test"], train_index=train_index
        )
        plot_map(
            train,
            y_train,
            test,
            latents["y_test"],
            [str(name) for name in latents["class_names"]],
            f"{method} of {source} ({given.dim}-d) — {run.path.name}",
            out(f"{stem}.png"),
        )


def _is_map(points, n: int) -> bool:
    """Whether ``points`` are n finite 2-D coordinates (what a cached map must hold)."""
    return isinstance(points, np.ndarray) and points.shape == (n, 2) and bool(np.isfinite(points).all())
