"""Aligned maps over epochs: a point whose code barely changes stays where it was."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from aelat.errors import DataError
from aelat.metrics.alignment import aligned_maps, normalised


def clustered_codes(n=600, d=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3, size=(5, d)) * np.linspace(2, 0.5, d)
    return centres[rng.integers(0, 5, n)] + rng.normal(size=(n, d))


def displacement(a: np.ndarray, b: np.ndarray) -> float:
    """Median distance a point moves between two maps, in units of the maps' root-mean-square radius."""
    return float(np.median(np.linalg.norm(a - b, axis=1)) / np.sqrt((a**2).sum(axis=1).mean()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_rotated_rescaled_reflected_copy_lands_on_the_same_map(seed):
    Z = clustered_codes(seed=seed)
    rotation = ortho_group.rvs(8, random_state=seed)  # with reflections
    moved = 7.5 * Z @ rotation + 3.0 + np.random.default_rng(seed).normal(scale=0.01, size=Z.shape)
    maps = aligned_maps([Z, moved])
    assert displacement(maps[0], maps[1]) < 0.01, displacement(maps[0], maps[1])
    # the control: the same fixed basis without the Procrustes rotation tears the points apart
    basis = np.linalg.svd(normalised(moved), full_matrices=False)[2][:2]
    assert displacement(normalised(Z) @ basis.T, normalised(moved) @ basis.T) > 0.3


def test_a_slow_drift_moves_points_little_between_consecutive_maps():
    rng = np.random.default_rng(3)
    Z0 = clustered_codes(seed=3)
    drift = rng.normal(size=Z0.shape)
    rotations = [ortho_group.rvs(8, random_state=s) for s in range(5)]  # each epoch in its own arbitrary frame
    snapshots = [(Z0 + 0.02 * t * drift) @ rotations[t] for t in range(5)]
    maps = aligned_maps(snapshots)
    steps = [displacement(maps[t], maps[t + 1]) for t in range(4)]
    assert max(steps) < 0.05, steps
    assert displacement(maps[0], maps[4]) > max(steps)  # the drift accumulates, it is not aligned away


def test_identical_snapshots_give_identical_maps_and_the_last_is_its_own_pca():
    Z = clustered_codes()
    maps = aligned_maps([Z, Z.copy(), Z.copy()])
    np.testing.assert_allclose(maps[0], maps[2], atol=1e-12)
    scores = normalised(Z) @ np.linalg.svd(normalised(Z), full_matrices=False)[2][:2].T
    np.testing.assert_allclose(np.abs(maps[-1]), np.abs(scores), atol=1e-10)  # principal axes up to sign
    assert np.sqrt((maps[-1] ** 2).sum(axis=1).mean()) <= 1 + 1e-12  # unit radius before projection


def test_fit_rows_fit_the_alignment_and_every_row_is_mapped():
    Z = clustered_codes()
    rotation = ortho_group.rvs(8, random_state=5)
    maps = aligned_maps([Z, Z @ rotation], fit_rows=np.arange(100))
    assert maps.shape == (2, 600, 2)
    assert displacement(maps[0], maps[1]) < 1e-8


def test_one_dimensional_codes_map_to_a_line():
    Z = clustered_codes(d=1)
    maps = aligned_maps([Z, -2 * Z])
    assert np.all(maps[:, :, 1] == 0)
    np.testing.assert_allclose(maps[0], maps[1], atol=1e-12)  # the sign flip is aligned away


def test_snapshots_of_different_shapes_are_refused():
    with pytest.raises(DataError, match="one shape"):
        aligned_maps([np.zeros((5, 2)), np.zeros((5, 3))])
    with pytest.raises(DataError, match="no snapshots"):
        aligned_maps([])
