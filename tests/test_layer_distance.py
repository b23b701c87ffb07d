"""The sliced W2 between consecutive layers: 0 for isometries up to scale, the 1-D closed form, > 0 for a reshaping."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from aelat.errors import DataError
from aelat.metrics.layers import layer_distance


def cloud(n=800, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.linspace(3, 0.5, d) + rng.exponential(size=(n, 1))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_rotated_rescaled_shifted_layer_is_at_distance_zero(seed):
    X = cloud(seed=seed)
    Y = 4.0 * X @ ortho_group.rvs(6, random_state=seed) - 2.0
    assert layer_distance(X, Y, n_components=6) < 1e-8
    assert layer_distance(X, Y, n_components=3) < 1e-8  # also in the top principal subspace only


def test_a_wider_layer_that_embeds_the_same_points_is_at_distance_zero():
    X = cloud()
    embedded = np.hstack([X, np.zeros((len(X), 10))]) @ ortho_group.rvs(16, random_state=2)
    assert layer_distance(X, embedded) < 1e-8
    assert layer_distance(embedded, X) < 1e-8


def test_one_dimensional_layers_match_the_closed_form():
    rng = np.random.default_rng(4)
    x = rng.normal(size=500)
    y = np.exp(0.8 * x + 0.3 * rng.normal(size=500))  # a skewed, noisy image of x
    # independent: standardise to unit RMS, pick the paired sign, exact W2 of equal-size samples by sorting
    a = (x - x.mean()) / np.sqrt(np.mean((x - x.mean()) ** 2))
    b = (y - y.mean()) / np.sqrt(np.mean((y - y.mean()) ** 2))
    b = b if np.sum((b - a) ** 2) <= np.sum((-b - a) ** 2) else -b
    w2 = np.sqrt(np.mean((np.sort(a) - np.sort(b)) ** 2))
    scale = np.sqrt(np.var(np.concatenate([a, b])))
    assert layer_distance(x[:, None], y[:, None], n_directions=7) == pytest.approx(w2 / scale, rel=1e-9)


def test_a_reshaping_layer_is_far_and_farther_the_more_it_reshapes():
    X = cloud(d=4)
    mild = np.tanh(0.3 * X)
    strong = np.maximum(X - 1.0, 0) ** 2
    near, far = layer_distance(X, mild), layer_distance(X, strong)
    assert 0.01 < near < far, (near, far)


def test_mismatched_layers_are_refused():
    with pytest.raises(DataError, match="same n"):
        layer_distance(np.zeros((5, 2)), np.zeros((6, 2)))
    with pytest.raises(DataError, match="constant"):
        layer_distance(np.ones((5, 2)), np.ones((5, 3)))


def test_a_subsample_keeps_the_rows_paired():
    X = cloud(n=3000)
    Y = 2.0 * X @ ortho_group.rvs(6, random_state=9)
    assert layer_distance(X, Y, n_samples=500) < 1e-8  # the same rows of both layers
    assert layer_distance(X, np.tanh(X), n_samples=500) == pytest.approx(layer_distance(X, np.tanh(X)), abs=0.02)
