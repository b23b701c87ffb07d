"""Stage 2: encode train and test with the trained model and the baselines; writes latents.npz."""

from __future__ import annotations

import time

import numpy as np
import torch

from aelat import artifacts
from aelat.artifacts import Run
from aelat.baselines import raw_and_pca
from aelat.config import resolve_device
from aelat.data import load_dataset
from aelat.models import initial_model, load_checkpoint
from aelat.models.inference import encode, extra_codes, reconstruction_mse
from aelat.runtime import denormals_flushed, deterministic_torch, use_threads


def run(run: Run) -> None:
    with denormals_flushed():  # first: torch's threads copy the setting when they start
        use_threads(run.cfg.get("threads"))  # before deterministic_torch, which runs torch on one thread
        with deterministic_torch(run.cfg.train.get("deterministic", False)):
            _run(run)


def _run(run: Run) -> None:
    cfg = run.cfg
    started = time.perf_counter()
    inputs = run.require("train", artifacts.MODEL)
    device = resolve_device(cfg)
    data = load_dataset(cfg)
    run.dataset_digest()  # of the files just read, for run.json
    trained = load_checkpoint(run.file(artifacts.MODEL), device)
    untrained = initial_model(cfg, data).to(device)

    arrays, pca = raw_and_pca(data, cfg.latent_dim, cfg.seed)
    x_train, x_test = data.x_train.to(device), data.x_test.to(device)
    examples = example_indices(arrays["y_test"])
    arrays["examples_index"] = examples
    arrays["examples_input"] = data.x_test[examples].numpy()
    arrays["examples_pca"] = (
        pca.inverse_transform(pca.transform(arrays["raw_test"][examples]))
        .reshape(arrays["examples_input"].shape).astype(np.float32)
    )
    for name, model in (("untrained", untrained), ("latent", trained)):
        key = artifacts.REPRESENTATIONS[name]
        arrays[f"{key}_train"] = encode(model, x_train)
        arrays[f"{key}_test"] = encode(model, x_test)
        arrays[f"recon_mse_{name}"] = np.float64(reconstruction_mse(model, x_test))
        with torch.inference_mode():
            arrays[f"examples_{name}"] = model.eval()(x_test[torch.from_numpy(examples).to(device)]).cpu().numpy()

    for split, x in (("train", x_train), ("test", x_test)):  # e.g. a VAE's posterior log-variance
        for name, codes in extra_codes(trained, x).items():
            arrays[f"z_{name}_{split}"] = codes
    with run.making("encode", inputs, started) as out:
        artifacts.write_npz(out(artifacts.LATENTS), **arrays)


def example_indices(y_test: np.ndarray, limit: int = 12) -> np.ndarray:
    """Test rows shown in the reconstruction grid: the first of each class, at most ``limit``."""
    return np.sort([np.flatnonzero(y_test == label)[0] for label in np.unique(y_test)])[:limit]
