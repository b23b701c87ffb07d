"""Autoencoder families behind one registry, and the checkpoint format of ``model.pt``."""

from __future__ import annotations

import contextlib
import inspect
import pickle
from pathlib import Path
from typing import Iterator, Sequence

import torch
from omegaconf import DictConfig, OmegaConf

from aelat import __version__
from aelat.data.base import Dataset
from aelat.errors import ArtifactError, ConfigError
from aelat.runtime import seed_everything
from aelat.schema import checked_options
from aelat.models.base import Autoencoder
from aelat.models.conv import ConvAutoencoder
from aelat.models.dae import DenoisingAutoencoder
from aelat.models.mlp import MLPAutoencoder
from aelat.models.vae import VAE

MODELS = {"mlp": MLPAutoencoder, "conv": ConvAutoencoder, "vae": VAE, "dae": DenoisingAutoencoder}


def initial_model(cfg: DictConfig, data: Dataset) -> Autoencoder:
    """The network a run's training starts from: ``cfg.model`` for ``data``'s samples, built right after
    seeding with the run's seed. train trains it; encode and analyse build it again as the untrained
    baseline, so all three build it here (its decoder's output follows the data's range)."""
    seed_everything(cfg.seed)
    return build_model(cfg.model, data.sample_shape, cfg.latent_dim, data.unit_range)


def build_model(model_cfg: DictConfig | dict, sample_shape: Sequence[int], latent_dim: int,
                unit_range: bool = True) -> Autoencoder:
    """Build the autoencoder ``model_cfg.name`` names, for samples of ``sample_shape``.

    The options are checked against :mod:`aelat.schema` (options left out take the class's defaults).
    ``unit_range``: the inputs lie in [0, 1], so the decoder ends in a sigmoid (else it is linear).
    """
    options = dict(OmegaConf.to_container(model_cfg) if isinstance(model_cfg, DictConfig) else model_cfg)
    name = options.pop("name")
    if name == "external":
        raise ConfigError("model=external holds embeddings made outside aelat and has no network to train or "
                          "encode; score them with `aelat score FILE.npz`")
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; choose one of: {', '.join(MODELS)}")
    parameters = list(inspect.signature(MODELS[name]).parameters.values())[2:]  # after sample_shape, latent_dim
    for key in options:
        if key not in [p.name for p in parameters]:
            raise ConfigError(
                f"model={name}: unexpected keyword argument '{key}'; its options are "
                f"{', '.join(p.name for p in parameters)}, see aelat/conf/model/{name}.yaml"
            )
    defaults = {p.name: list(p.default) if isinstance(p.default, tuple) else p.default for p in parameters}
    options = checked_options("model", {"name": name, **defaults, **options})
    options.pop("name")
    model = MODELS[name](sample_shape, latent_dim, **options)
    model.unit_range = unit_range
    return model


def checkpoint(model: Autoencoder, model_cfg: DictConfig) -> dict:
    """What ``model.pt`` holds: the weights and everything that rebuilds the model."""
    return {
        "state_dict": model.state_dict(),
        "model": OmegaConf.to_container(model_cfg),
        "sample_shape": list(model.sample_shape),
        "latent_dim": model.latent_dim,
        "unit_range": model.unit_range,
        "aelat_version": __version__,
    }


def load_checkpoint(path: Path, device: torch.device) -> Autoencoder:
    """Rebuild the model saved in ``path``; a truncated or foreign file is an ArtifactError."""
    with unreadable_torch_file(path, "aelat checkpoint", f"delete {path} and re-run `aelat train`"):
        saved = torch.load(path, map_location=device, weights_only=True)
        model = build_model(saved["model"], saved["sample_shape"], saved["latent_dim"], saved.get("unit_range", True))
        model.load_state_dict(saved["state_dict"])
    return model.to(device)


@contextlib.contextmanager
def unreadable_torch_file(path: Path, what: str, fix: str) -> Iterator[None]:
    """Turn what torch.load and load_state_dict raise on a truncated or foreign ``path`` into one ArtifactError line."""
    try:
        yield
    except (RuntimeError, EOFError, KeyError, TypeError, ValueError, OSError, pickle.UnpicklingError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArtifactError(f"{path} is not a readable {what} ({reason}); {fix}") from None
