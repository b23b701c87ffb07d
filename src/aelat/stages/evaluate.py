"""Stage 4: score every representation the same way; writes metrics.json."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from omegaconf import OmegaConf
from sklearn.neighbors import KNeighborsClassifier

from aelat import artifacts
from aelat.artifacts import Run


@dataclass(frozen=True)
class Representation:
    """One way of representing the data: train and test rows with their labels."""

    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    recon_mse: float | None = None


def run(run: Run) -> dict:
    started = time.perf_counter()
    inputs = run.require("encode", artifacts.LATENTS)
    latents = artifacts.read_npz(run.file(artifacts.LATENTS))
    representations = {}
    for name, key in artifacts.REPRESENTATIONS.items():
        representations[name] = Representation(
            latents[f"{key}_train"], latents[f"{key}_test"], latents["y_train"], latents["y_test"],
            float(latents[f"recon_mse_{name}"]),
        )
    for stage in sorted(s for s in run.manifest()["stages"] if s.startswith("embed:")):
        method = stage.split(":")[1]
        inputs |= run.require(stage, artifacts.embedding_file(method))
        emb = artifacts.read_npz(run.file(artifacts.embedding_file(method)))
        representations[f"{method}(latent)"] = Representation(emb["train"], emb["test"], emb["y_train"], emb["y_test"])

    k = run.cfg.evaluate.k
    scores = {
        name: {
            "dim": int(rep.train.shape[1]),
            f"knn{k}_accuracy": knn_accuracy(rep, k),
            "recon_mse": rep.recon_mse,
        }
        for name, rep in representations.items()
    }
    metrics = {"representations": scores, "config": OmegaConf.to_container(run.cfg, resolve=True)}
    artifacts.write_json(run.file(artifacts.METRICS), metrics)
    run.save_config()
    run.record("evaluate", [artifacts.METRICS], inputs, time.perf_counter() - started)
    return metrics


def knn_accuracy(rep: Representation, k: int) -> float:
    """Accuracy on test of a k-nearest-neighbour vote among the train points (Parametric UMAP protocol)."""
    k = min(k, len(rep.train))
    classifier = KNeighborsClassifier(n_neighbors=k).fit(rep.train, rep.y_train)
    return float(classifier.score(rep.test, rep.y_test))
