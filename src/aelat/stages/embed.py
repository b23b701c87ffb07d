"""Stage 3: a 2-D map (t-SNE, PCA, UMAP) of the latent or of a baseline; writes embedding_*.npz and a PNG.

Maps are stored by content under ``<output_dir>/.cache/maps`` (aelat.content_store): a map of the
same points with the same parameters, seed and code, made by any run of the output_dir, is read
instead of computed. In a latent-size sweep the raw input's map is computed once; so is every
baseline's map when a sweep varies only training settings. The arrays are the ones computing gives,
bit for bit. ``embed.cache=false`` turns it off.
"""

from __future__ import annotations

import time

import numpy as np
from omegaconf import OmegaConf

from aelat import artifacts, content_store
from aelat.artifacts import Run
from aelat.content_store import ContentStore
from aelat.embedders import EMBEDDERS, REPEATS, map_parameters
from aelat.errors import ConfigError, DataError
from aelat.plots.scatter import plot_map
from aelat.runtime import console, progress_bar, use_threads
from aelat.sampling import seeded_subset

MAPS = content_store.FOLDER / "maps"  # under output_dir


def run(run: Run, method: str, source: str = "latent") -> None:
    """Fit ``method`` on the train rows of ``source`` (raw, pca, untrained, latent), place the test rows."""
    if method not in EMBEDDERS:
        raise ConfigError(f"unknown embed method '{method}'; choose one of: {', '.join(EMBEDDERS)}")
    if source not in artifacts.REPRESENTATIONS:
        raise ConfigError(f"unknown --of '{source}'; choose one of: {', '.join(artifacts.REPRESENTATIONS)}, all")
    if (method, source) in REPEATS:
        same = REPEATS[method, source]
        raise ConfigError(f"the {method} map of {source} is the {same[0]} map of {same[1]} (the same points); "
                          f"use --of {same[1]}")
    cfg = run.cfg
    started = time.perf_counter()
    use_threads(cfg.get("threads"))
    inputs = run.require("encode", artifacts.LATENTS)
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
    options = OmegaConf.to_container(section) if section is not None else {}
    fitted = rows[train_index]
    store = ContentStore(run.path.parent / MAPS if cfg.embed.get("cache", True) else None, "map cache", "mapping")
    name = content_store.key(
        kind="map", method=method, parameters=map_parameters(method, len(fitted), options), seed=cfg.seed,
        points=content_store.digest([fitted, test]),
        code=artifacts.code_versions(),
    )
    cached = store.get_arrays(name, lambda arrays: _is_map(arrays.get("train"), len(fitted))
                              and _is_map(arrays.get("test"), len(test)))
    if cached is not None:
        train, test = cached["train"], cached["test"]
        console().print(f"{method} of {source}: the same map is in {run.path.parent / MAPS}; reused")
    else:
        with progress_bar() as bar:
            task = bar.add_task(f"{method} of {source}, {len(train_index)} points", total=None, status="")
            train, test = EMBEDDERS[method](
                fitted,
                test,
                cfg.seed,
                options,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
            bar.update(task, completed=1, total=1)
        if not (np.isfinite(train).all() and np.isfinite(test).all()):
            raise DataError(f"the {method} map of {source} has coordinates that are NaN or infinite, so it was not "
                            f"recorded; check {source} for constant or degenerate points, or try another --method")
        store.put_arrays(name, train=train, test=test)

    stem = artifacts.embedding_stem(method, source)
    y_train = latents["y_train"][train_index]
    with run.making(artifacts.embedding_stage(method, source), inputs, started) as out:
        artifacts.write_npz(
            out(f"{stem}.npz"), train=train, test=test, y_train=y_train, y_test=latents["y_test"], train_index=train_index
        )
        plot_map(
            train,
            y_train,
            test,
            latents["y_test"],
            [str(name) for name in latents["class_names"]],
            f"{method} of {source} ({rows.shape[1]}-d) — {run.path.name}",
            out(f"{stem}.png"),
        )


def _is_map(points, n: int) -> bool:
    """Whether ``points`` are n finite 2-D coordinates (what a cached map must hold)."""
    return isinstance(points, np.ndarray) and points.shape == (n, 2) and bool(np.isfinite(points).all())
