"""Stage 3: a 2-D map (t-SNE, PCA) of the latent or of a baseline; writes embedding_*.npz and a PNG."""

from __future__ import annotations

import time

import numpy as np
from omegaconf import OmegaConf

from aelat import artifacts
from aelat.artifacts import Run
from aelat.embedders import EMBEDDERS, REPEATS
from aelat.errors import ConfigError, DataError
from aelat.plots.scatter import plot_map
from aelat.runtime import progress_bar
from aelat.sampling import seeded_subset


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

    with progress_bar() as bar:
        task = bar.add_task(f"{method} of {source}, {len(train_index)} points", total=None, status="")
        train, test = EMBEDDERS[method](
            rows[train_index],
            test,
            cfg.seed,
            options,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        bar.update(task, completed=1, total=1)
    if not (np.isfinite(train).all() and np.isfinite(test).all()):
        raise DataError(f"the {method} map of {source} has coordinates that are NaN or infinite, so it was not "
                        f"recorded; check {source} for constant or degenerate points, or try another --method")

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
