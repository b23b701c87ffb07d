"""The seeded subsample every sampled computation draws (metrics, maps)."""

from __future__ import annotations

import numpy as np

from aelat.errors import ConfigError


def seeded_subset(n: int, size: int | None, seed: int, name: str = "size") -> np.ndarray:
    """Sorted indices of a uniform sample of ``size`` of ``range(n)`` drawn with ``seed``; all rows
    when ``size`` is None or at least ``n``. ``name`` is the setting ``size`` came from, for messages."""
    if size is None or size >= n:
        return np.arange(n)
    if size < 1:
        raise ConfigError(f"{name}={size} must be at least 1 (or None for every point).")
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
