"""Dataset loaders behind one registry: ``load_dataset(cfg)`` picks by ``cfg.dataset.name``."""

from __future__ import annotations

from omegaconf import DictConfig

from aelat.data.base import Dataset, check_dataset
from aelat.data.files import dataset_digest
from aelat.errors import ConfigError

TORCHVISION = ("mnist", "fashion_mnist", "kmnist", "cifar10")
DATASETS = ("digits", "npz", *TORCHVISION)


def load_dataset(cfg: DictConfig) -> Dataset:
    """Load the dataset ``cfg.dataset`` names, once, into tensors, and check it (``check_dataset``)."""
    name = cfg.dataset.name
    if name == "digits":
        from aelat.data.digits import load_digits

        return check_dataset(load_digits(cfg.dataset.test_size, cfg.seed), "digits")
    if name == "npz":
        from aelat.data.npz import load_npz

        return check_dataset(load_npz(cfg.dataset.path), str(cfg.dataset.path))
    if name in TORCHVISION:
        from aelat.data.torchvision_sets import load_torchvision

        return check_dataset(load_torchvision(name, cfg.dataset.root, cfg.dataset.download), name)
    raise ConfigError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}")


__all__ = ["DATASETS", "Dataset", "dataset_digest", "load_dataset"]
