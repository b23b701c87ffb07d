"""Denoising autoencoder: reconstruct the clean input from a corrupted one, on an mlp or conv backbone."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from aelat.models.base import Autoencoder
from aelat.models.conv import build_backbone


class DenoisingAutoencoder(Autoencoder):
    """An autoencoder trained to map corrupted inputs back to the clean ones.

    In training mode ``loss(x)`` is the mean squared error between ``forward(corrupt(x))`` and the
    clean ``x``; in eval mode it is that of ``forward(x)``, the plain reconstruction error. The noise
    draws from torch's global RNG (aelat seeds it). ``encode`` and ``forward`` never add noise.

    Parameters
    ----------
    sample_shape : sequence of int
        Shape of one sample: (C, H, W), or (D,) with backbone "mlp".
    latent_dim : int
        Width of the code.
    backbone : {"mlp", "conv"}
        The encoder/decoder architecture.
    hidden : sequence of int
        Hidden widths of the mlp backbone.
    channels : sequence of int
        Channel widths of the conv backbone.
    noise : {"gaussian", "mask"}
        "gaussian" adds N(0, noise_level^2) to each pixel and clips to [0, 1];
        "mask" sets each pixel to 0 with probability noise_level.
    noise_level : float
        Standard deviation (gaussian, >= 0) or share of masked pixels (mask, in [0, 1]).
    """

    def __init__(
        self,
        sample_shape: Sequence[int],
        latent_dim: int,
        backbone: str = "mlp",
        hidden: Sequence[int] = (512, 256),
        channels: Sequence[int] = (32, 64),
        noise: str = "gaussian",
        noise_level: float = 0.2,
    ):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        self.noise = noise
        self.noise_level = float(noise_level)
        self.encoder, self.decoder = build_backbone(
            backbone, self.sample_shape, latent_dim, latent_dim, hidden, channels, model="dae"
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """A noisy copy of ``x`` (shape (n, *sample_shape), pixels in [0, 1]), same shape, still in [0, 1]."""
        if self.noise == "gaussian":
            return (x + self.noise_level * torch.randn_like(x)).clamp(0.0, 1.0)
        return x * (torch.rand_like(x) >= self.noise_level)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        noisy = self.corrupt(x) if self.training else x
        return nn.functional.mse_loss(self(noisy), x)
