"""A user's own arrays in an .npz file with keys Xtr, ytr, Xte, yte (and optionally class_names)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from aelat.data.base import Dataset, scale_features, with_class_names
from aelat.errors import DataError
from aelat.labels import encode_labels

KEYS = ("Xtr", "ytr", "Xte", "yte")
NAMES = "class_names"  # optional: one name per class, in sorted label order


def load_npz(path: str | Path, scale: str = "unit") -> Dataset:
    """Load images of any shape, uint8 or float, or feature vectors, from ``path``.

    Images of shape (n, H, W) become (n, 1, H, W); (n, H, W, C) with C in 1, 3, 4 becomes
    channels-first; (n, D) stays flat. ``scale``: see :func:`aelat.data.base.scale_features`. Labels of
    any integer or string values are mapped to 0..K-1 in sorted order, and their original values
    become the class names, unless the file holds ``class_names``.
    """
    path = Path(path)
    arrays = read_arrays(path, KEYS, optional=(NAMES,), key="dataset.path")

    for x_key, y_key in (("Xtr", "ytr"), ("Xte", "yte")):
        x, y = arrays[x_key], arrays[y_key]
        if x.ndim < 2 or len(x) == 0:
            raise DataError(f"{path}: {x_key} has shape {x.shape}; expected (n, ...) with n >= 1 samples")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{path}: {y_key} has shape {y.shape} but {x_key} holds {len(x)} samples")
    if arrays["Xtr"].shape[1:] != arrays["Xte"].shape[1:]:
        raise DataError(f"{path}: Xtr samples have shape {arrays['Xtr'].shape[1:]}, Xte {arrays['Xte'].shape[1:]}")

    y_train, y_test, class_names = encode_labels(arrays["ytr"], arrays["yte"], str(path))
    x_train, x_test = scale_features(_channels_first(arrays["Xtr"]), _channels_first(arrays["Xte"]), scale, str(path))
    data = Dataset(
        name=path.name,
        x_train=x_train,
        y_train=torch.from_numpy(y_train),
        x_test=x_test,
        y_test=torch.from_numpy(y_test),
        class_names=class_names,
    )
    names = arrays.get(NAMES)
    if names is not None and (names.ndim != 1 or names.dtype.kind not in "US"):
        raise DataError(f"{path}: {NAMES} has shape {names.shape} and dtype {names.dtype}; expected a 1-D str array")
    return with_class_names(data, None if names is None else list(names), f"{path}:{NAMES}")


def read_arrays(path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = (), key: str = "the file") -> dict:
    """The arrays ``keys`` (and those of ``optional`` it holds) of a user's .npz; DataError when it cannot."""
    if not path.is_file():
        raise DataError(f"{key}={path} does not exist; point it at an .npz with {', '.join(keys)}")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            arrays = {name: data[name] for name in (*keys, *optional) if name in files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        hint = "; store labels and names as str arrays, not objects" if "allow_pickle" in str(exc) else ""
        raise DataError(f"{path} is not a readable .npz file ({exc}){hint}") from None
    missing = [name for name in keys if name not in files]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)} (has {', '.join(files) or 'nothing'}); "
                        f"it needs {', '.join(keys)}")
    return arrays


def _channels_first(x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x
