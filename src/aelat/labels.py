"""Class labels of any kind (integers, strings, booleans) as the integer codes every metric takes."""

from __future__ import annotations

import numpy as np

from aelat.errors import DataError


def encode_labels(y_train: np.ndarray, y_test: np.ndarray, source: str,
                  keys: tuple[str, str] = ("ytr", "yte")) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Labels of any kind (integers, strings, booleans) as int64 codes 0..K-1 in sorted order, with
    the original values as the class names; ``keys`` name the two arrays in messages."""
    kinds = set()
    for y, key in zip((y_train, y_test), keys):
        if y.dtype.kind not in "iubUS":
            raise DataError(f"{source}: {key} has dtype {y.dtype}; class labels must be integers or strings")
        kinds.add("text" if y.dtype.kind in "US" else "number")
    if len(kinds) > 1:
        raise DataError(f"{source}: {keys[0]} and {keys[1]} hold labels of different kinds (numbers and text); "
                        "use one kind")
    labels = np.unique(np.concatenate([y_train, y_test]))
    if len(labels) < 2:
        raise DataError(f"{source}: all samples have label {labels[0]}; class structure needs >= 2 classes")
    names = tuple(label.decode() if isinstance(label, bytes) else str(label) for label in labels)
    return np.searchsorted(labels, y_train).astype(np.int64), np.searchsorted(labels, y_test).astype(np.int64), names
