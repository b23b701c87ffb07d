"""Stage 2 for embeddings made outside aelat (``model.name: external``): latents.npz from the user's file.

The file holds ``z_train, y_train, z_test, y_test`` (``class_names`` optional): any model's codes of
the train and test samples. It becomes the run's latent; with the raw input of the same samples
(``dataset``, e.g. ``aelat score FILE --raw RAW.npz``) the raw and PCA baselines are added, so the
embedding is scored and reported like one aelat trained. The manifest records it as the ``encode``
stage, the maker of latents.npz, so embed, evaluate and report work on the run unchanged.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from aelat import artifacts
from aelat.artifacts import Run
from aelat.baselines import raw_and_pca
from aelat.data import load_dataset
from aelat.data.base import check_label_shape, check_magnitude
from aelat.labels import encode_labels
from aelat.data.npz import read_arrays
from aelat.errors import DataError

KEYS = ("z_train", "y_train", "z_test", "y_test")
NAMES = "class_names"


def run(run: Run) -> None:
    cfg = run.cfg
    started = time.perf_counter()
    file = Path(cfg.model.path)
    arrays = read_embeddings(file)
    if artifacts.embeddings_apart(cfg) is not None:  # the raw input of the same samples
        data = load_dataset(cfg)
        baselines, _ = raw_and_pca(data, arrays["z_train"].shape[1], cfg.seed)
        for split in ("train", "test"):
            ours = arrays["class_names"][arrays[f"y_{split}"]]
            theirs = baselines["class_names"][baselines[f"y_{split}"]]
            if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
                raise DataError(f"the labels of {file} ({split}) differ from those of {cfg.dataset.path}; the raw "
                                "input must hold the same samples in the same order")
        arrays |= {key: value for key, value in baselines.items() if key.startswith(("raw", "pca", "recon_mse"))}
    with run.making("encode", {}, started) as out:
        artifacts.write_npz(out(artifacts.LATENTS), **arrays)


def read_embeddings(path: Path) -> dict[str, np.ndarray]:
    """latents.npz's z_train, z_test, y_train, y_test and class_names from an embeddings file."""
    found = read_arrays(path, KEYS, optional=(NAMES,), key="the embeddings file")
    z = {}
    for split in ("train", "test"):
        x, y = np.asarray(found[f"z_{split}"]), np.asarray(found[f"y_{split}"])
        if x.ndim != 2 or len(x) == 0 or x.dtype.kind not in "iuf":
            raise DataError(f"{path}: z_{split} has shape {x.shape} and dtype {x.dtype}; expected numbers (n, d)")
        if not np.isfinite(x).all():
            raise DataError(f"{path}: z_{split} holds NaN or inf; clean the embeddings first")
        check_magnitude(x, f"{path}: z_{split}", "divide the embeddings by their spread first")
        if len(x) > 1 and bool((x == x[:1]).all()):
            raise DataError(f"{path}: every z_{split} row is the same point, so no score of it means anything; "
                            "check how the embeddings were made")
        check_label_shape(y, len(x), str(path), f"y_{split}", f"z_{split}")
        z[split] = x.astype(np.float32)
    if z["train"].shape[1] != z["test"].shape[1]:
        raise DataError(f"{path}: z_train has {z['train'].shape[1]} columns but z_test {z['test'].shape[1]}")
    y_train, y_test, names = encode_labels(found["y_train"], found["y_test"], str(path), ("y_train", "y_test"))
    if NAMES in found:
        if len(found[NAMES]) != len(names):
            raise DataError(f"{path} gives {len(found[NAMES])} class names but its labels hold {len(names)} classes")
        names = tuple(str(name) for name in found[NAMES])
    return {"z_train": z["train"], "z_test": z["test"], "y_train": y_train, "y_test": y_test,
            "class_names": np.array(names)}
