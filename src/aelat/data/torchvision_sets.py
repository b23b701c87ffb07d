"""MNIST, Fashion-MNIST, KMNIST and CIFAR-10 read from torchvision's on-disk layout."""

from __future__ import annotations

import codecs
import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from aelat.data.base import Dataset, to_unit_float
from aelat.data.files import CIFAR_FILES, CIFAR_FOLDER, CIFAR_TRAIN, IDX_FILES
from aelat.errors import DataError

_IDX_CLASSES = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST, "kmnist": datasets.KMNIST}
_CIFAR_LOOKED_FOR = f"{CIFAR_FOLDER}/data_batch_1..5, test_batch, batches.meta"
_NAMES = (*_IDX_CLASSES, "cifar10")
# The MD5 of each file of the CIFAR-10 release, as torchvision publishes them.
CIFAR_MD5 = {
    **dict(datasets.CIFAR10.train_list),
    **dict(datasets.CIFAR10.test_list),
    datasets.CIFAR10.meta["filename"]: datasets.CIFAR10.meta["md5"],
}


def load_torchvision(name: str, root: str | os.PathLike, download: bool) -> Dataset:
    """Load a torchvision image dataset once into tensors, downloading it first if asked.

    Parameters
    ----------
    name : {"mnist", "fashion_mnist", "kmnist", "cifar10"}
        The dataset.
    root : str or os.PathLike
        Folder in torchvision's layout: ``MNIST/raw/`` (``FashionMNIST/raw/``, ``KMNIST/raw/``)
        holding the four uncompressed ``*-ubyte`` IDX files, or ``cifar-10-batches-py/`` holding
        ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta``.
    download : bool
        Let torchvision fetch missing files into ``root`` (needs internet).

    Returns
    -------
    Dataset
        ``x_train``, ``x_test``: float32 in [0, 1], shape (n, 1, 28, 28) for the MNIST family and
        (n, 3, 32, 32) for CIFAR-10; ``y_train``, ``y_test``: int64, shape (n,).

    Raises
    ------
    DataError
        For an unknown ``name``, or when the files are absent and cannot be downloaded.
    """
    root = Path(root).expanduser().absolute()
    if name in _IDX_CLASSES:
        return _load_idx(name, _IDX_CLASSES[name], root, download)
    if name == "cifar10":
        return _load_cifar10(root, download)
    raise DataError(f"unknown torchvision dataset '{name}'; choose one of: {', '.join(_NAMES)}")


def _load_idx(name: str, cls: type[datasets.MNIST], root: Path, download: bool) -> Dataset:
    """Read the IDX files with torchvision's own class, which checks they exist but not their md5."""
    try:
        train = cls(root, train=True, download=download)
        test = cls(root, train=False)
    except (RuntimeError, OSError) as err:
        raw = root / cls.__name__ / "raw"
        if all((raw / file).is_file() for file in IDX_FILES):
            reason = str(err).splitlines()[0]
            raise DataError(f"{name}: the files in {raw} are unreadable ({reason}); replace them") from err
        looked_for = f"torchvision's {cls.__name__}/raw files"
        raise DataError(_no_data(name, root, looked_for, download_failed=download)) from err
    x_train, x_test = to_unit_float({"train": train.data.numpy()[:, None], "test": test.data.numpy()[:, None]}, name)
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=train.targets.to(torch.int64),
        x_test=x_test,
        y_test=test.targets.to(torch.int64),
        class_names=tuple(str(c) for c in train.classes),
    )


def _load_cifar10(root: Path, download: bool) -> Dataset:
    """Read the pickled batches after checking each file's MD5 against the release's, with an unpickler
    that builds only the types those files hold (so a crafted file in dataset.root runs no code)."""
    folder = root / CIFAR_FOLDER
    if download and not all((folder / file).is_file() for file in CIFAR_FILES):
        try:
            datasets.CIFAR10(root, train=False, download=True)
        except (RuntimeError, OSError) as err:
            raise DataError(_no_data("cifar10", root, _CIFAR_LOOKED_FOR, download_failed=True)) from err
    if not all((folder / file).is_file() for file in CIFAR_FILES):
        raise DataError(_no_data("cifar10", root, _CIFAR_LOOKED_FOR, download_failed=False))
    for file in CIFAR_FILES:
        with open(folder / file, "rb") as fh:
            if hashlib.file_digest(fh, "md5").hexdigest() != CIFAR_MD5[file]:
                raise DataError(
                    f"cifar10: {folder / file} is not the file of the CIFAR-10 release (its MD5 differs); "
                    f"delete {folder} and set dataset.download=true, or use dataset=npz dataset.path=FILE.npz"
                )
    x_train, y_train = _read_cifar_batches(folder, CIFAR_TRAIN)
    x_test, y_test = _read_cifar_batches(folder, ("test_batch",))
    x_train, x_test = to_unit_float({"train": x_train, "test": x_test}, "cifar10")
    meta = _unpickle(folder / "batches.meta")
    names = meta.get("label_names")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise DataError(f"cifar10: {folder / 'batches.meta'} holds no list of label_names")
    return Dataset(
        name="cifar10",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=tuple(str(c) for c in meta["label_names"]),
    )


def _read_cifar_batches(folder: Path, files: tuple[str, ...]) -> tuple[np.ndarray, torch.Tensor]:
    """Stack the batches as (n, 3, 32, 32); a row holds 1024 red, then green, then blue pixels, each row-major."""
    images, labels = [], []
    for file in files:
        batch = _unpickle(folder / file)
        x, y = batch.get("data"), np.asarray(batch.get("labels"))
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"cifar10: {folder / file} holds no uint8 'data' array with integer 'labels'")
        if x.ndim != 2 or x.shape[1] != 3 * 32 * 32 or y.shape != (len(x),):
            raise DataError(
                f"cifar10: {folder / file} holds 'data' of shape {x.shape} and 'labels' of shape {y.shape}; "
                "expected (n, 3072) and (n,)"
            )
        images.append(x)
        labels.append(y)
    x = np.concatenate(images).reshape(-1, 3, 32, 32)
    return x, torch.from_numpy(np.concatenate(labels).astype(np.int64))


# The globals a CIFAR-10 pickle may name: numpy's array reconstructors (taken from numpy itself, whatever
# module they live in now; the release names numpy.core.multiarray) and how protocol 2 writes bytes.
_RECONSTRUCT, _FROMBUFFER = np.zeros(1).__reduce__()[0], np.zeros(1).__reduce_ex__(5)[0]
_CIFAR_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("_codecs", "encode"): codecs.encode,
}


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that builds only what CIFAR-10's files hold: dicts, lists, strings, bytes, numbers
    and numpy arrays. Any other global (``os.system``, ``builtins.eval``, ...) is refused, so a
    crafted file cannot run code (the standard library's recipe for restricting globals)."""

    def find_class(self, module: str, name: str):
        if (module, name) in _CIFAR_GLOBALS:
            return _CIFAR_GLOBALS[module, name]
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which no CIFAR-10 file holds")


def _unpickle(path: Path) -> dict:
    """Load one CIFAR pickle with :class:`_CifarUnpickler`; latin1 decodes the Python 2 strings of the release."""
    try:
        with open(path, "rb") as f:
            loaded = _CifarUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise DataError(f"cifar10: {path} is not a CIFAR-10 batch ({exc}); replace it with the release's file") from None
    if not isinstance(loaded, dict):
        raise DataError(f"cifar10: {path} holds a {type(loaded).__name__}, not a CIFAR-10 batch; replace it")
    return loaded


def _no_data(name: str, root: Path, looked_for: str, download_failed: bool) -> str:
    failed = " and the download failed" if download_failed else ""
    return (
        f"{name}: no data under {root} (looked for {looked_for}){failed}; set dataset.root to where they are, "
        "dataset.download=true when online, or use dataset=npz dataset.path=FILE.npz"
    )
