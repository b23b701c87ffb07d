"""Stage 3: a 2-D map (t-SNE, PCA) of the latent or of a baseline; writes embedding_*.npz and a PNG."""

from __future__ import annotations

import time

from omegaconf import OmegaConf

from aelat import artifacts
from aelat.artifacts import Run
from aelat.embedders import EMBEDDERS
from aelat.errors import ConfigError
from aelat.plots.scatter import plot_map
from aelat.runtime import progress_bar
from aelat.sampling import seeded_subset


def run(run: Run, method: str, source: str = "latent") -> None:
    """Fit ``method`` on the train rows of ``source`` (raw, pca, untrained, latent), place the test rows."""
    if method not in EMBEDDERS:
        raise ConfigError(f"unknown embed method '{method}'; choose one of: {', '.join(EMBEDDERS)}")
    if source not in artifacts.REPRESENTATIONS:
        raise ConfigError(f"unknown --of '{source}'; choose one of: {', '.join(artifacts.REPRESENTATIONS)}, all")
    cfg = run.cfg
    started = time.perf_counter()
    inputs = run.require("encode", artifacts.LATENTS)
    key = artifacts.REPRESENTATIONS[source]
    needed = (f"{key}_train", f"{key}_test", "y_train", "y_test", "class_names")
    latents = artifacts.read_npz(run.file(artifacts.LATENTS), needed)  # not the other representations
    rows, test = latents[f"{key}_train"], latents[f"{key}_test"]
    if method == "pca" and rows.shape[1] < 2:
        raise ConfigError(f"a pca map needs >= 2 dimensions but {source} has {rows.shape[1]}; use --method tsne")
    train_index = seeded_subset(len(rows), cfg.embed.max_points, cfg.seed)
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

    stem = artifacts.embedding_stem(method, source)
    y_train = latents["y_train"][train_index]
    artifacts.write_npz(
        run.file(f"{stem}.npz"), train=train, test=test, y_train=y_train, y_test=latents["y_test"], train_index=train_index
    )
    plot_map(
        train,
        y_train,
        test,
        latents["y_test"],
        [str(name) for name in latents["class_names"]],
        f"{method} of {source} ({rows.shape[1]}-d) — {run.path.name}",
        run.file(f"{stem}.png"),
    )
    run.save_config()
    stage = artifacts.embedding_stage(method, source)
    run.record(stage, [f"{stem}.npz", f"{stem}.png"], inputs, time.perf_counter() - started)
