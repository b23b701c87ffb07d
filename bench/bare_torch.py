"""The plain PyTorch loop aelat's train stage is measured against: the same model, data, batches and test pass."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

TEST_BATCH = 1024  # aelat's train stage scores the test set in batches of this size


def load_pixels(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Xtr and Xte of an .npz as float32 in [0, 1], (n, 1, H, W) for images: the tensors aelat's npz loader makes."""
    with np.load(path) as data:
        return tuple(torch.from_numpy(_unit_float(data[key])) for key in ("Xtr", "Xte"))


def _unit_float(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32) / 255.0 if np.issubdtype(x.dtype, np.integer) else x.astype(np.float32)
    return x[:, None] if x.ndim == 3 else x


def autoencoder(sample_shape: tuple[int, ...], hidden: list[int], latent_dim: int) -> nn.Sequential:
    """The layers of aelat's mlp model, in its construction order (so one seed gives the same weights)."""
    n_in = int(np.prod(sample_shape))
    encoder, decoder = [n_in, *hidden], [latent_dim, *reversed(hidden)]
    return nn.Sequential(
        nn.Flatten(),
        *_relu_stack(encoder),
        nn.Linear(encoder[-1], latent_dim),
        *_relu_stack(decoder),
        nn.Linear(decoder[-1], n_in),
        nn.Unflatten(1, tuple(sample_shape)),
        nn.Sigmoid(),
    )


def _relu_stack(widths: list[int]) -> list[nn.Module]:
    return [layer for a, b in zip(widths[:-1], widths[1:]) for layer in (nn.Linear(a, b), nn.ReLU())]


def linear_sizes(model: nn.Module) -> list[tuple[int, int]]:
    """(in, out) of every Linear layer."""
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def fit(
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    hidden: list[int],
    latent_dim: int,
    batch_size: int,
    lr: float,
    epochs: int,
    seed: int,
) -> dict:
    """Train with Adam; per epoch a seeded permutation of index-sliced batches, then one pass over the test set.

    Returns ``{"epoch_seconds": [...], "train_loss": [...], "test_loss": [...]}``.
    """
    torch.manual_seed(seed)
    model = autoencoder(tuple(x_train.shape[1:]), hidden, latent_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    log = {"epoch_seconds": [], "train_loss": [], "test_loss": []}
    for _ in range(epochs):
        tic = time.perf_counter()
        model.train()
        permutation = torch.randperm(len(x_train), generator=order)
        total = torch.zeros(())
        for start in range(0, len(x_train), batch_size):
            batch = x_train[permutation[start : start + batch_size]]
            loss = nn.functional.mse_loss(model(batch), batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
        log["train_loss"].append(float(total) / len(x_train))
        log["test_loss"].append(test_mse(model, x_test))
        log["epoch_seconds"].append(time.perf_counter() - tic)
    return log


@torch.inference_mode()
def test_mse(model: nn.Module, x: torch.Tensor, batch_size: int = TEST_BATCH) -> float:
    """Mean squared reconstruction error of ``x``, in batches, in evaluation mode."""
    model.eval()
    total = torch.zeros(())
    for batch in x.split(batch_size):
        total += nn.functional.mse_loss(model(batch), batch) * len(batch)
    return float(total) / len(x)


def train(data: str, **options) -> dict:
    """Load ``data`` (an .npz) and :func:`fit` on it; adds the seconds of loading and of the whole step."""
    tic = time.perf_counter()
    x_train, x_test = load_pixels(data)
    loaded = time.perf_counter() - tic
    log = fit(x_train, x_test, **options)
    return {**log, "load_seconds": loaded, "seconds": time.perf_counter() - tic}
