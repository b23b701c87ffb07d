"""The fixed, seeded sample of train and test rows that snapshots, the layer profile and the geometry share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from aelat.errors import ConfigError

# Sizes a null setting stands for (capped at what the data holds).
DEFAULT_TRAIN, DEFAULT_TEST, DEFAULT_GEOMETRY = 5000, 2000, 1000


@dataclass(frozen=True)
class Sample:
    """Sorted row indices into the train and test sets, and the train sample's rows where the Jacobian is taken.

    ``geometry`` indexes ``train`` (positions in the sample, not rows of the data set).
    """

    train: np.ndarray
    test: np.ndarray
    geometry: np.ndarray


def sample_sizes(cfg: DictConfig, n_train: int, n_test: int) -> tuple[int, int, int]:
    """(train, test, geometry) sample sizes; an explicit size above what the data holds is a ConfigError."""
    train = _size(cfg.train.get("snapshot_train"), DEFAULT_TRAIN, n_train, "train.snapshot_train",
                  f"the {n_train} training samples")
    test = _size(cfg.train.get("snapshot_test"), DEFAULT_TEST, n_test, "train.snapshot_test",
                 f"the {n_test} test samples")
    geometry = _size(cfg.analyse.get("geometry_points"), DEFAULT_GEOMETRY, train, "analyse.geometry_points",
                     f"the {train} train points of the sample (train.snapshot_train)")
    return train, test, geometry


def draw_sample(cfg: DictConfig, n_train: int, n_test: int) -> Sample:
    """The seeded sample: uniform rows without replacement, the same for every stage that asks with this config."""
    size_train, size_test, size_geometry = sample_sizes(cfg, n_train, n_test)
    rng = np.random.default_rng([cfg.seed, 15])  # its own stream: no other aelat sample shares these draws
    train = np.sort(rng.choice(n_train, size=size_train, replace=False))
    test = np.sort(rng.choice(n_test, size=size_test, replace=False))
    geometry = np.sort(rng.choice(size_train, size=size_geometry, replace=False))
    return Sample(train, test, geometry)


def _size(value: int | None, default: int, available: int, name: str, what: str) -> int:
    if value is None:
        return min(default, available)
    if value > available:
        raise ConfigError(f"{name}={value} exceeds {what}; lower it (or leave it null for at most {default})")
    return int(value)
