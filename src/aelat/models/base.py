"""The interface every aelat autoencoder implements."""

from __future__ import annotations

import torch
from torch import nn


class Autoencoder(nn.Module):
    """An encoder g to a ``latent_dim`` code and a decoder back to the input's shape."""

    latent_dim: int
    # Whether inputs lie in [0, 1] (pixels): the decoder then ends in a sigmoid, else it is linear
    # (features scaled by dataset.scale=standard, for example). build_model sets it from the data.
    unit_range: bool = True

    def output(self, logits: torch.Tensor) -> torch.Tensor:
        """The decoder's last step: a sigmoid for inputs in [0, 1], the identity otherwise."""
        return torch.sigmoid(logits) if self.unit_range else logits

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs of shape (n, *sample_shape) to codes of shape (n, latent_dim)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map codes of shape (n, latent_dim) back to inputs of shape (n, *sample_shape)."""
        raise NotImplementedError

    def extra_codes(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Codes besides the latent that encode stores as ``z_<name>_<split>`` (none here; a VAE: ``logvar``)."""
        return {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The training objective on a batch: mean squared reconstruction error."""
        return nn.functional.mse_loss(self(x), x)

    def held_out_losses(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The objective and the per-pixel reconstruction MSE of a batch in evaluation mode, in one pass.

        Here the objective is that MSE; families with another objective override this.
        """
        mse = nn.functional.mse_loss(self(x), x)
        return mse, mse
