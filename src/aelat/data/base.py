"""The in-memory dataset every loader returns, and what every loader shares: scaling and labels."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from aelat.errors import ConfigError, DataError
from aelat.schema import SCALES


@dataclass(frozen=True)
class Dataset:
    """Train and test images held once in memory as tensors.

    Attributes
    ----------
    x_train, x_test : torch.Tensor, float32, shape (n, *sample_shape)
        Pixels scaled to [0, 1], or features scaled as ``dataset.scale`` says; ``sample_shape`` is
        (C, H, W) for images, (D,) for flat data.
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

    @property
    def unit_range(self) -> bool:
        """Whether every value lies in [0, 1], so that a decoder may end in a sigmoid."""
        return all(float(x.min()) >= 0 and float(x.max()) <= 1 for x in (self.x_train, self.x_test) if x.numel())


def scale_features(x_train: np.ndarray, x_test: np.ndarray, scale: str, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Both splits as float32 tensors, scaled by ``scale``: "unit" = pixels (uint8 / 255, floats must lie
    in [0, 1]); "minmax", "standard" = scikit-learn's MinMaxScaler, StandardScaler fitted on the train
    split alone (no test statistic leaks into the features); "none" = the values as they are."""
    if scale == "unit":
        return to_unit_float(x_train, f"{source}:Xtr"), to_unit_float(x_test, f"{source}:Xte")
    if scale not in SCALES:
        raise ConfigError(f"dataset.scale={scale!r} is not one of {', '.join(SCALES)}")
    train, test = _numbers(x_train, f"{source}:Xtr"), _numbers(x_test, f"{source}:Xte")
    if scale != "none":
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        scaler = (MinMaxScaler if scale == "minmax" else StandardScaler)().fit(train.reshape(len(train), -1))
        train, test = (scaler.transform(x.reshape(len(x), -1)).astype(np.float32).reshape(x.shape) for x in (train, test))
    return torch.from_numpy(train), torch.from_numpy(test)


def with_class_names(data: Dataset, names: Sequence[str] | None, source: str, error: type = DataError) -> Dataset:
    """``data`` with its classes renamed to ``names`` (one per class, in label order); unchanged for None."""
    if names is None:
        return data
    names = tuple(str(name) for name in names)
    if len(names) != len(data.class_names):
        raise error(f"{source} gives {len(names)} class names but the data has {len(data.class_names)} classes "
                    f"({', '.join(data.class_names)}); give one name per class, in that order")
    return dataclasses.replace(data, class_names=names)


def _numbers(x: np.ndarray, source: str) -> np.ndarray:
    """``x`` as a non-empty, finite float32 array."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{source}: values have dtype {x.dtype}; expected integers or floats")
    if x.size == 0:
        raise DataError(f"{source}: the dataset is empty; give it at least one sample per split")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{source}: values contain NaN or inf; clean the data before loading it")
    return x


def to_unit_float(x: np.ndarray, source: str) -> torch.Tensor:
    """Scale pixels to float32 in [0, 1]: integers in [0, 255] are divided by 255, floats must lie in [0, 1]."""
    is_integer = np.issubdtype(np.asarray(x).dtype, np.integer)
    x = _numbers(x, source)
    lo, hi = float(x.min()), float(x.max())
    if is_integer and 0 <= lo and hi <= 255:
        return torch.from_numpy(x / 255.0)
    if lo < 0 or hi > 1:
        raise DataError(
            f"{source}: pixel values span [{lo:g}, {hi:g}]; expected uint8 pixels or floats in [0, 1] "
            "(features that are not pixels: dataset.scale=standard, minmax or none)"
        )
    return torch.from_numpy(x)
