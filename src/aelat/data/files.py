"""The files each dataset is read from, and a digest of their content.

The digest is recorded with every stage of a run (``run.json``), so a dataset file replaced with
other content makes every artifact made from it stale. This module imports neither torch nor
torchvision: embed and evaluate check the digest without loading the data.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from omegaconf import DictConfig

IDX_FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "kmnist": "KMNIST"}  # torchvision's class names
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_FILES = (*CIFAR_TRAIN, "test_batch", "batches.meta")


def source_files(dataset: DictConfig) -> list[Path]:
    """The files ``load_dataset`` reads for the ``dataset`` config section."""
    name = dataset.name
    if name == "digits":
        sklearn = Path(importlib.util.find_spec("sklearn").submodule_search_locations[0])
        return [sklearn / "datasets" / "data" / "digits.csv.gz"]
    if name == "npz":
        return [Path(dataset.path)]
    root = Path(dataset.root).expanduser().absolute()
    if name in IDX_FOLDERS:
        return [root / IDX_FOLDERS[name] / "raw" / file for file in IDX_FILES]
    if name == "cifar10":
        return [root / CIFAR_FOLDER / file for file in CIFAR_FILES]
    return []


def dataset_digest(dataset: DictConfig) -> str | None:
    """SHA-256 over the names and contents of the dataset's files; None when one is absent."""
    files = source_files(dataset)
    if not files or not all(path.is_file() for path in files):
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()
