"""Variational autoencoder with a Gaussian posterior and a Bernoulli decoder, on an mlp or conv backbone."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from aelat.models.base import Autoencoder
from aelat.models.conv import build_backbone


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) in closed form, summed over the latent dimensions.

    Parameters
    ----------
    mean, logvar : torch.Tensor, shape (n, latent_dim)
        Mean and log-variance of a diagonal Gaussian posterior.

    Returns
    -------
    torch.Tensor, shape (n,)
        The KL divergence of each sample's posterior from the standard normal prior, in nats.
    """
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


class VAE(Autoencoder):
    """Gaussian-posterior VAE: the encoder gives a mean and a log-variance, the decoder Bernoulli pixel means.

    ``loss(x)`` is the negative beta-ELBO per sample, averaged over the batch::

        BCE(decoder(z), x) summed over pixels  +  beta * KL(q(z|x) || N(0, I)),   z ~ q(z|x)

    with one reparameterised draw ``z = mean + exp(logvar / 2) * eps``, ``eps`` from torch's global RNG
    (aelat seeds it). The reconstruction term is the negative log-likelihood of a Bernoulli decoder,
    so beta = 1 is the standard ELBO (Kingma & Welling). Pixels in (0, 1) rather than {0, 1} make it a
    cross-entropy whose minimum is the pixels' entropy, not 0; the gradients are unchanged.
    The loss is in nats per sample, on another scale than the mlp's mean squared error.

    ``encode(x)`` returns the posterior mean (deterministic), ``posterior(x)`` the mean and the
    log-variance, and ``forward(x)`` decodes the mean.

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
    beta : float
        Weight of the KL term, >= 0; 1 is the ELBO.
    """

    def __init__(
        self,
        sample_shape: Sequence[int],
        latent_dim: int,
        backbone: str = "mlp",
        hidden: Sequence[int] = (512, 256),
        channels: Sequence[int] = (32, 64),
        beta: float = 1.0,
    ):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.latent_dim = latent_dim
        self.beta = float(beta)
        # The encoder emits the mean and the log-variance side by side: 2 * latent_dim outputs.
        self.encoder, self.decoder = build_backbone(
            backbone, self.sample_shape, latent_dim, 2 * latent_dim, hidden, channels, model="vae"
        )

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x), each of shape (n, latent_dim), for ``x`` of shape (n, *sample_shape)."""
        mean, logvar = self.encoder(x).chunk(2, dim=-1)
        return mean, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def extra_codes(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logvar": self.posterior(x)[1]}

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        return self._negative_elbo(x, *self.posterior(x))

    def held_out_losses(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.posterior(x)
        return self._negative_elbo(x, mean, logvar), nn.functional.mse_loss(self.decode(mean), x)

    def _negative_elbo(self, x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """Bernoulli reconstruction term at one sampled z plus beta times the KL term, per sample."""
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        reconstruction = nn.functional.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="sum")
        return reconstruction / len(x) + self.beta * kl_divergence(mean, logvar).mean()

