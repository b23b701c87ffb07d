"""The in-memory dataset every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aelat.errors import DataError


@dataclass(frozen=True)
class Dataset:
    """Train and test images held once in memory as tensors.

    Attributes
    ----------
    x_train, x_test : torch.Tensor, float32, shape (n, *sample_shape)
        Pixels scaled to [0, 1]; ``sample_shape`` is (C, H, W) for images, (D,) for flat data.
    y_train, y_test : torch.Tensor, int64, shape (n,)
        Class labels in ``range(len(class_names))``.
    class_names : tuple of str
        Human-readable name of each class, used in legends.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_features(self) -> int:
        return int(np.prod(self.sample_shape))


def to_unit_float(x: np.ndarray, source: str) -> torch.Tensor:
    """Scale pixels to float32 in [0, 1]: integers in [0, 255] are divided by 255, floats must lie in [0, 1]."""
    x = np.asarray(x)
    is_integer = np.issubdtype(x.dtype, np.integer)
    if not (is_integer or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{source}: pixels have dtype {x.dtype}; expected uint8 or float")
    x = x.astype(np.float32)
    if x.size == 0:
        raise DataError(f"{source}: the dataset is empty; give it at least one sample per split")
    if not np.isfinite(x).all():
        raise DataError(f"{source}: pixels contain NaN or inf; clean the data before loading it")
    lo, hi = float(x.min()), float(x.max())
    if is_integer and 0 <= lo and hi <= 255:
        return torch.from_numpy(x / 255.0)
    if lo < 0 or hi > 1:
        raise DataError(
            f"{source}: pixel values span [{lo:g}, {hi:g}]; expected uint8 pixels or floats in [0, 1]"
        )
    return torch.from_numpy(x)
