"""The bare-library baselines aelat is measured against, each run as a process of its own.

A benchmark runs ``python bench/bare.py STEPS.json OUT.json``, so that the wall time holds Python's
start-up and imports as `aelat`'s does. STEPS.json maps step names ("train", "tsne", "umap") to their
keyword arguments, run in that order; OUT.json receives what each step returns (seconds, losses).
Only the training step imports torch (bench/bare_torch.py), as a bare t-SNE or UMAP script would not.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def train(**options) -> dict:
    """The plain PyTorch loop of bench/bare_torch.py, data loading included."""
    from bare_torch import train as torch_train

    return torch_train(**options)


def _latents(path: str, rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The trained latent of an aelat run's latents.npz (only those two arrays are read)."""
    with np.load(path) as data:
        return data["z_train"][:rows], data["z_test"][:rows]


def tsne(latents: str, seed: int, options: dict, rows: int | None = None) -> dict:
    """openTSNE: fit on the train latent, place the test latent with ``transform``."""
    from openTSNE import TSNE

    train_rows, test_rows = _latents(latents, rows)
    tic = time.perf_counter()
    embedding = TSNE(n_components=2, random_state=seed, **options).fit(train_rows)
    embedding.transform(test_rows)
    return {"seconds": time.perf_counter() - tic}


def umap(latents: str, seed: int, options: dict, rows: int | None = None) -> dict:
    """umap-learn: ``fit_transform`` the train latent, ``transform`` the test latent; the import is timed apart."""
    tic = time.perf_counter()
    import umap as umap_learn

    imported = time.perf_counter() - tic
    train_rows, test_rows = _latents(latents, rows)
    tic = time.perf_counter()
    reducer = umap_learn.UMAP(n_components=2, random_state=seed, **options)
    reducer.fit_transform(train_rows)
    reducer.transform(test_rows)
    return {"seconds": time.perf_counter() - tic, "import_seconds": imported}


STEPS = {"train": train, "tsne": tsne, "umap": umap}

if __name__ == "__main__":
    steps = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps({name: STEPS[name](**kwargs) for name, kwargs in steps.items()}))
