"""Inference with a trained or untrained autoencoder: codes and held-out scores, in batches."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from aelat.models.base import Autoencoder


@torch.inference_mode()
def encode(model: Autoencoder, x: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    """Codes of ``x`` (n, *sample_shape) as float32 (n, latent_dim), in evaluation mode and large batches."""
    model.eval()
    return torch.cat([model.encode(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]).cpu().numpy()


@torch.inference_mode()
def extra_codes(model: Autoencoder, x: torch.Tensor, batch_size: int = 4096) -> dict[str, np.ndarray]:
    """The family's codes besides the latent (``Autoencoder.extra_codes``, e.g. a VAE's log-variance), batched."""
    model.eval()
    parts = [model.extra_codes(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return {name: torch.cat([part[name] for part in parts]).cpu().numpy() for name in (parts[0] if parts else {})}


@torch.inference_mode()
def held_out_scores(model: Autoencoder, x: torch.Tensor, batch_size: int = 1024) -> tuple[float, float]:
    """The training objective and the per-pixel reconstruction MSE on held-out data, in evaluation mode."""
    model.eval()
    objective, mse = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        batch_objective, batch_mse = model.held_out_losses(batch)
        objective += batch_objective * len(batch)
        mse += batch_mse * len(batch)
    return float(objective) / len(x), float(mse) / len(x)


@torch.inference_mode()
def reconstruction_mse(model: Autoencoder, x: torch.Tensor, batch_size: int = 4096) -> float:
    """Mean squared error per pixel of ``model``'s reconstruction of ``x``."""
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        total += float(nn.functional.mse_loss(model(batch), batch, reduction="sum"))
    return total / x.numel()
