"""Stage 3: a 2-D map of the latent (t-SNE, PCA); writes embedding_<method>.npz and a PNG."""

from __future__ import annotations

import time

import numpy as np
from omegaconf import OmegaConf

from aelat import artifacts
from aelat.artifacts import Run
from aelat.embedders import EMBEDDERS
from aelat.errors import ConfigError
from aelat.plots.scatter import plot_map
from aelat.runtime import progress_bar


def run(run: Run, method: str) -> None:
    if method not in EMBEDDERS:
        raise ConfigError(f"unknown embed method '{method}'; choose one of: {', '.join(EMBEDDERS)}")
    cfg = run.cfg
    started = time.perf_counter()
    inputs = run.require("encode", artifacts.LATENTS)
    latents = artifacts.read_npz(run.file(artifacts.LATENTS))
    source = latents["z_train"]
    train_index = _fitted_subset(len(source), cfg.embed.max_points, cfg.seed)
    section = cfg.embed.get(method)
    options = OmegaConf.to_container(section) if section is not None else {}

    with progress_bar() as bar:
        task = bar.add_task(f"{method} on {len(train_index)} points", total=None, status="")
        train, test = EMBEDDERS[method](
            source[train_index],
            latents["z_test"],
            cfg.seed,
            options,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        bar.update(task, completed=1, total=1)

    y_train = latents["y_train"][train_index]
    artifacts.write_npz(
        run.file(artifacts.embedding_file(method)),
        train=train,
        test=test,
        y_train=y_train,
        y_test=latents["y_test"],
        train_index=train_index,
    )
    plot_map(
        train,
        y_train,
        test,
        latents["y_test"],
        [str(name) for name in latents["class_names"]],
        f"{method} of the {cfg.latent_dim}-d latent — {run.path.name}",
        run.file(artifacts.embedding_plot(method)),
    )
    run.save_config()
    outputs = [artifacts.embedding_file(method), artifacts.embedding_plot(method)]
    run.record(f"embed:{method}", outputs, inputs, time.perf_counter() - started)


def _fitted_subset(n: int, max_points: int | None, seed: int) -> np.ndarray:
    """Sorted indices of the training points a map is fitted on: all, or a seeded sample of ``max_points``."""
    if max_points is None or max_points >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
