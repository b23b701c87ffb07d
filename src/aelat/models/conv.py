"""Convolutional autoencoder, its encoder/decoder builders, and the backbone choice vae and dae share."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from aelat.errors import ConfigError
from aelat.models.base import Autoencoder
from aelat.models.mlp import mlp_decoder, mlp_encoder

# Every block halves H and W, rounding up: (size + 2 * PADDING - KERNEL) // STRIDE + 1 == ceil(size / 2).
KERNEL, STRIDE, PADDING = 3, 2, 1


def require_image_shape(sample_shape: Sequence[int], model: str, alternative: str) -> tuple[int, int, int]:
    """Return ``sample_shape`` as (C, H, W), or raise a ConfigError naming ``model`` and ``alternative``."""
    if len(sample_shape) != 3:
        kind = "flat samples" if len(sample_shape) == 1 else "samples"
        raise ConfigError(
            f"{model} needs images of shape (C, H, W) but the dataset gives {kind} of shape {tuple(sample_shape)}; "
            f"{alternative}, or give the npz images as (n, H, W) or (n, H, W, C)"
        )
    channels, height, width = (int(size) for size in sample_shape)
    return channels, height, width


def _feature_sizes(height: int, width: int, n_blocks: int) -> list[tuple[int, int]]:
    """(H, W) before the first block and after each of the ``n_blocks`` stride-2 blocks."""
    sizes = [(height, width)]
    for _ in range(n_blocks):
        sizes.append(tuple((size + 2 * PADDING - KERNEL) // STRIDE + 1 for size in sizes[-1]))
    return sizes


def conv_encoder(image_shape: Sequence[int], channels: Sequence[int], n_out: int) -> nn.Sequential:
    """Stride-2 conv + ReLU blocks -> flatten -> linear output.

    Parameters
    ----------
    image_shape : sequence of int
        (C, H, W) of one image, any C, H, W >= 1.
    channels : sequence of int
        Output channels of each conv block, input side first, e.g. [32, 64].
    n_out : int
        Width of the linear output (``latent_dim``, or twice it for a mean and a log-variance).

    Returns
    -------
    nn.Sequential
        Maps (n, C, H, W) to (n, n_out).
    """
    in_channels, height, width = image_shape
    layers: list[nn.Module] = []
    for n_in, n_out_channels in zip([in_channels, *channels[:-1]], channels):
        layers += [nn.Conv2d(n_in, n_out_channels, KERNEL, STRIDE, PADDING), nn.ReLU()]
    last_h, last_w = _feature_sizes(height, width, len(channels))[-1]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels[-1] * last_h * last_w, n_out))


def conv_decoder(image_shape: Sequence[int], channels: Sequence[int], latent_dim: int) -> nn.Sequential:
    """The mirror of :func:`conv_encoder`: linear -> stride-2 transposed convs -> logits of the input's shape.

    Each transposed conv's ``output_padding`` restores the exact size its encoder block received,
    so odd sizes (7 x 9) come back exactly, without cropping or interpolation.

    Parameters
    ----------
    image_shape : sequence of int
        (C, H, W) of one image.
    channels : sequence of int
        The encoder's channel widths (input side first); the decoder runs them in reverse.
    latent_dim : int
        Width of the code.

    Returns
    -------
    nn.Sequential
        Maps (n, latent_dim) to logits of shape (n, C, H, W); apply a sigmoid for pixels.
    """
    in_channels, height, width = image_shape
    sizes = _feature_sizes(height, width, len(channels))
    widths = [in_channels, *channels]
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, channels[-1] * math.prod(sizes[-1])),
        nn.ReLU(),
        nn.Unflatten(1, (channels[-1], *sizes[-1])),
    ]
    for block in reversed(range(len(channels))):
        target, source = sizes[block], sizes[block + 1]
        output_padding = tuple(t - ((s - 1) * STRIDE - 2 * PADDING + KERNEL) for t, s in zip(target, source))
        layers.append(
            nn.ConvTranspose2d(widths[block + 1], widths[block], KERNEL, STRIDE, PADDING, output_padding=output_padding)
        )
        if block > 0:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def build_backbone(
    name: str,
    sample_shape: Sequence[int],
    latent_dim: int,
    n_codes: int,
    hidden: Sequence[int],
    channels: Sequence[int],
    model: str,
) -> tuple[nn.Sequential, nn.Sequential]:
    """The (encoder, decoder) pair of backbone ``name`` ("mlp" or "conv"), for model families that choose one.

    Parameters
    ----------
    name : str
        "mlp" (uses ``hidden``) or "conv" (uses ``channels``).
    sample_shape : sequence of int
        Shape of one sample; "conv" needs (C, H, W).
    latent_dim : int
        Width of the code the decoder reads.
    n_codes : int
        Width of the encoder's output (``latent_dim``, or twice it for a mean and a log-variance).
    hidden, channels : sequence of int
        Layer widths of the mlp and the conv backbone.
    model : str
        The model family, named in error messages.

    Returns
    -------
    encoder : nn.Sequential
        Maps (n, *sample_shape) to (n, n_codes).
    decoder : nn.Sequential
        Maps (n, latent_dim) to logits of shape (n, *sample_shape).
    """
    if name == "mlp":
        return mlp_encoder(sample_shape, hidden, n_codes), mlp_decoder(sample_shape, hidden, latent_dim)
    if name == "conv":
        image_shape = require_image_shape(sample_shape, f"model={model} with backbone=conv", "use model.backbone=mlp")
        return conv_encoder(image_shape, channels, n_codes), conv_decoder(image_shape, channels, latent_dim)
    raise ConfigError(f"model.backbone={name!r} is not one of mlp, conv; see aelat/conf/model/{model}.yaml")


class ConvAutoencoder(Autoencoder):
    """(C, H, W) -> stride-2 conv blocks -> latent (linear) -> transposed convs -> (C, H, W) (sigmoid).

    Parameters
    ----------
    sample_shape : sequence of int
        (C, H, W) of one image; flat samples raise a ConfigError.
    latent_dim : int
        Width of the code.
    channels : sequence of int
        Output channels of each encoder block, e.g. [32, 64]; the decoder mirrors them.
    """

    def __init__(self, sample_shape: Sequence[int], latent_dim: int, channels: Sequence[int] = (32, 64)):
        super().__init__()
        image_shape = require_image_shape(sample_shape, "model=conv", "use model=mlp")
        self.sample_shape = image_shape
        self.latent_dim = latent_dim
        self.encoder = conv_encoder(image_shape, channels, latent_dim)
        self.decoder = conv_decoder(image_shape, channels, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))
