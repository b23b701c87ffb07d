"""scikit-learn's 8x8 handwritten digits: the offline default dataset."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits as sklearn_digits
from sklearn.model_selection import train_test_split

from aelat.data.base import Dataset, scale_features
from aelat.errors import ConfigError


def load_digits(test_size: float, seed: int, scale: str = "unit") -> Dataset:
    """Load the 1797 digit images as (n, 1, 8, 8) in [0, 1], split stratified by class with ``seed``."""
    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]  # pixel counts run 0..16
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            images, bunch.target, test_size=test_size, stratify=bunch.target, random_state=seed
        )
    except ValueError as exc:  # a split too small to hold every class once
        raise ConfigError(f"dataset.test_size={test_size}: {exc}; choose a share between 0.01 and 0.99") from None
    x_train, x_test = scale_features({"train": x_train, "test": x_test}, scale, "digits")
    return Dataset(
        name="digits",
        x_train=x_train,
        y_train=torch.from_numpy(y_train.astype(np.int64)),
        x_test=x_test,
        y_test=torch.from_numpy(y_test.astype(np.int64)),
        class_names=tuple(str(name) for name in bunch.target_names),
    )
