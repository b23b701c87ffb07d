"""Looking inside an encoder: its hidden layers' activations and its Jacobian, in batches."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import nn

from aelat.models.base import Autoencoder

# Modules after which a layer's output counts as a hidden representation.
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid)


def layer_names(model: Autoencoder) -> list[str]:
    """Names of the layers :func:`encoder_layers` returns: "input", one per hidden activation, "latent"."""
    names, counts = ["input"], {}
    kind = "layer"
    for module in _encoder_modules(model):
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            kind = "conv"
        elif isinstance(module, nn.Linear):
            kind = "dense"
        elif isinstance(module, ACTIVATIONS):
            counts[kind] = counts.get(kind, 0) + 1
            names.append(f"{kind} {counts[kind]}")
    return [*names, "latent"]


@torch.inference_mode()
def encoder_layers(model: Autoencoder, x: torch.Tensor, batch_size: int = 1024) -> list[np.ndarray]:
    """Every layer of the encoder on ``x`` (n, *sample_shape), flattened, float32, in :func:`layer_names` order.

    The input itself comes first, then the output of each activation of ``model.encoder`` (an
    nn.Sequential in every aelat family; conv feature maps are flattened), then ``model.encode(x)``
    (for a VAE the posterior mean). Evaluation mode.
    """
    model.eval()
    parts: list[list[np.ndarray]] = []
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        outputs, h = [batch], batch
        for module in _encoder_modules(model):
            h = module(h)
            if isinstance(module, ACTIVATIONS):
                outputs.append(h)
        outputs.append(model.encode(batch))
        parts.append([out.reshape(len(batch), -1).float().cpu().numpy() for out in outputs])
    return [np.concatenate(layer) for layer in zip(*parts)]


def jacobians(model: Autoencoder, x: torch.Tensor, batch_size: int = 64) -> Iterator[np.ndarray]:
    """Jacobians of ``model.encode`` at the points ``x`` (n, *sample_shape), ``batch_size`` at a time.

    torch.func's reverse-mode jacrev, vmapped over the batch, on ``x``'s device (CUDA when the
    run uses it). Yields float32 arrays of shape (batch, latent_dim, prod(sample_shape)).
    """
    from torch.func import jacrev, vmap

    model.eval()

    def encode_one(sample: torch.Tensor) -> torch.Tensor:
        return model.encode(sample.unsqueeze(0)).squeeze(0)

    jacobian = vmap(jacrev(encode_one))
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        yield jacobian(batch).detach().reshape(len(batch), model.latent_dim, -1).cpu().numpy()


def _encoder_modules(model: Autoencoder) -> list[nn.Module]:
    """The encoder's modules in order when it is an nn.Sequential; none otherwise (then: input and latent only)."""
    encoder = getattr(model, "encoder", None)
    return list(encoder) if isinstance(encoder, nn.Sequential) else []
