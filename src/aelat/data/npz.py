"""A user's own arrays in an .npz file with keys Xtr, ytr, Xte, yte."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from aelat.data.base import Dataset, to_unit_float
from aelat.errors import DataError

KEYS = ("Xtr", "ytr", "Xte", "yte")


def load_npz(path: str | Path) -> Dataset:
    """Load images of any shape, uint8 or float, from ``path``.

    Images of shape (n, H, W) become (n, 1, H, W); (n, H, W, C) with C in 1, 3, 4 becomes
    channels-first; (n, D) stays flat. Labels of any integer values are mapped to 0..K-1 in
    sorted order, and their original values become the class names.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"dataset.path={path} does not exist; point it at an .npz with {', '.join(KEYS)}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in KEYS if key not in data.files]
            if missing:
                raise DataError(
                    f"{path} lacks {', '.join(missing)} (has {', '.join(data.files) or 'nothing'}); "
                    f"it needs {', '.join(KEYS)}"
                )
            arrays = {key: data[key] for key in KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npz file ({exc})") from None

    for x_key, y_key in (("Xtr", "ytr"), ("Xte", "yte")):
        x, y = arrays[x_key], arrays[y_key]
        if x.ndim < 2 or len(x) == 0:
            raise DataError(f"{path}: {x_key} has shape {x.shape}; expected (n, ...) with n >= 1 samples")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{path}: {y_key} has shape {y.shape} but {x_key} holds {len(x)} samples")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: {y_key} has dtype {y.dtype}; class labels must be integers")
    if arrays["Xtr"].shape[1:] != arrays["Xte"].shape[1:]:
        raise DataError(f"{path}: Xtr samples have shape {arrays['Xtr'].shape[1:]}, Xte {arrays['Xte'].shape[1:]}")

    labels = np.unique(np.concatenate([arrays["ytr"], arrays["yte"]]))
    if len(labels) < 2:
        raise DataError(f"{path}: all samples have label {labels[0]}; class structure needs >= 2 classes")
    return Dataset(
        name=path.name,
        x_train=to_unit_float(_channels_first(arrays["Xtr"]), f"{path}:Xtr"),
        y_train=torch.from_numpy(np.searchsorted(labels, arrays["ytr"]).astype(np.int64)),
        x_test=to_unit_float(_channels_first(arrays["Xte"]), f"{path}:Xte"),
        y_test=torch.from_numpy(np.searchsorted(labels, arrays["yte"]).astype(np.int64)),
        class_names=tuple(str(label) for label in labels),
    )


def _channels_first(x: np.ndarray) -> np.ndarray:
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x
