"""Fully connected autoencoder."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from aelat.models.base import Autoencoder


def _stack(widths: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return layers


class MLPAutoencoder(Autoencoder):
    """input -> hidden... -> latent (linear) -> reversed hidden... -> input (sigmoid, pixels lie in [0, 1])."""

    def __init__(self, sample_shape: Sequence[int], latent_dim: int, hidden: Sequence[int] = (512, 256)):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        n_features = math.prod(self.sample_shape)
        encoder_widths = [n_features, *hidden]
        self.encoder = nn.Sequential(
            nn.Flatten(), *_stack(encoder_widths), nn.Linear(encoder_widths[-1], latent_dim)
        )
        decoder_widths = [latent_dim, *reversed(hidden)]
        self.decoder = nn.Sequential(
            *_stack(decoder_widths), nn.Linear(decoder_widths[-1], n_features), nn.Sigmoid()
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.sample_shape)
