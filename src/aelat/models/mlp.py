"""Fully connected autoencoder, and the MLP encoder/decoder builders the vae and dae backbones reuse."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from aelat.models.base import Autoencoder


def _stack(widths: Sequence[int]) -> list[nn.Module]:
    """Linear + ReLU between each pair of consecutive widths."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return layers


def mlp_encoder(sample_shape: Sequence[int], hidden: Sequence[int], n_out: int) -> nn.Sequential:
    """Flatten -> hidden ReLU layers -> linear output.

    Parameters
    ----------
    sample_shape : sequence of int
        Shape of one input sample, any rank.
    hidden : sequence of int
        Widths of the hidden layers, input side first.
    n_out : int
        Width of the linear output (``latent_dim``, or twice it for a mean and a log-variance).

    Returns
    -------
    nn.Sequential
        Maps (n, *sample_shape) to (n, n_out).
    """
    widths = [math.prod(sample_shape), *hidden]
    return nn.Sequential(nn.Flatten(), *_stack(widths), nn.Linear(widths[-1], n_out))


def mlp_decoder(sample_shape: Sequence[int], hidden: Sequence[int], latent_dim: int) -> nn.Sequential:
    """The mirror of :func:`mlp_encoder`: latent -> reversed hidden ReLU layers -> linear logits.

    Parameters
    ----------
    sample_shape : sequence of int
        Shape of one output sample.
    hidden : sequence of int
        The encoder's hidden widths (input side first); the decoder uses them reversed.
    latent_dim : int
        Width of the code.

    Returns
    -------
    nn.Sequential
        Maps (n, latent_dim) to logits of shape (n, *sample_shape); apply a sigmoid for pixels.
    """
    widths = [latent_dim, *reversed(hidden)]
    return nn.Sequential(
        *_stack(widths), nn.Linear(widths[-1], math.prod(sample_shape)), nn.Unflatten(1, tuple(sample_shape))
    )


class MLPAutoencoder(Autoencoder):
    """input -> hidden... -> latent (linear) -> reversed hidden... -> input (sigmoid for pixels in [0, 1]).

    Parameters
    ----------
    sample_shape : sequence of int
        Shape of one sample, e.g. (1, 28, 28) or (64,).
    latent_dim : int
        Width of the code.
    hidden : sequence of int
        Widths of the encoder's hidden layers; the decoder mirrors them.
    """

    def __init__(self, sample_shape: Sequence[int], latent_dim: int, hidden: Sequence[int] = (512, 256)):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        self.encoder = mlp_encoder(self.sample_shape, hidden, latent_dim)
        self.decoder = mlp_decoder(self.sample_shape, hidden, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(self.decoder(z))
