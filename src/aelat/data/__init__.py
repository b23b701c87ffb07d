"""Dataset loaders behind one registry: ``load_dataset(cfg)`` picks by ``cfg.dataset.name``."""

from __future__ import annotations

import functools

from omegaconf import DictConfig, OmegaConf

from aelat.data.base import Dataset, check_dataset, with_class_names
from aelat.data.files import dataset_digest
from aelat.errors import ConfigError

TORCHVISION = ("mnist", "fashion_mnist", "kmnist", "cifar10")
DATASETS = ("digits", "npz", *TORCHVISION)


def load_dataset(cfg: DictConfig) -> Dataset:
    """Load the dataset ``cfg.dataset`` names, once, into tensors, and check it (``check_dataset``).

    The section's keys are the loader's arguments; ``dataset.class_names`` renames the classes.
    """
    options = OmegaConf.to_container(cfg.dataset)
    name, names = options.pop("name"), options.pop("class_names", None)
    if name == "digits":
        from aelat.data.digits import load_digits as loader

        options["seed"] = cfg.seed
    elif name == "npz":
        from aelat.data.npz import load_npz as loader
    elif name in TORCHVISION:
        from aelat.data.torchvision_sets import load_torchvision

        loader = functools.partial(load_torchvision, name)
    else:
        raise ConfigError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}")
    source = str(cfg.dataset.path) if name == "npz" else name
    return check_dataset(with_class_names(loader(**options), names, "dataset.class_names", ConfigError), source)


__all__ = ["DATASETS", "Dataset", "dataset_digest", "load_dataset"]
