"""Snapshots of training: the codes of a fixed sample at chosen epochs, for the dynamics of Q."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from aelat.models.base import Autoencoder
from aelat.models.inference import encode, reconstruction_mse


def snapshot_epochs(snapshots: Sequence[int] | None, epochs: int) -> list[int]:
    """The epochs to snapshot: ``snapshots`` sorted, or for None 0, 1, 2, 4, 8, ... below ``epochs``, and ``epochs``."""
    if snapshots is not None:
        return sorted({int(epoch) for epoch in snapshots})
    powers = [0] + [2**i for i in range(epochs.bit_length()) if 2**i < epochs]
    return [*powers, epochs]


def take_snapshot(model: Autoencoder, x_train: torch.Tensor, x_test: torch.Tensor) -> dict[str, torch.Tensor]:
    """Codes of the sample's train and test points (float32 (n, latent_dim), on the CPU) and the test points'
    reconstruction MSE per pixel, in evaluation mode; no random generator is touched, so training is unchanged."""
    return {
        "train": torch.from_numpy(encode(model, x_train)),
        "test": torch.from_numpy(encode(model, x_test)),
        "recon_mse": torch.tensor(reconstruction_mse(model, x_test), dtype=torch.float64),
    }


def stack_snapshots(snapshots: dict[int, dict[str, torch.Tensor]]) -> dict[str, np.ndarray]:
    """snapshots.npz's arrays from {epoch: snapshot}: ``epochs`` (s,), ``train`` (s, n_train, d),
    ``test`` (s, n_test, d), ``recon_mse`` (s,), epochs ascending."""
    epochs = sorted(snapshots)
    return {
        "epochs": np.array(epochs, dtype=np.int64),
        "train": np.stack([snapshots[e]["train"].numpy() for e in epochs]),
        "test": np.stack([snapshots[e]["test"].numpy() for e in epochs]),
        "recon_mse": np.array([float(snapshots[e]["recon_mse"]) for e in epochs], dtype=np.float64),
    }
