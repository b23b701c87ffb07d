"""The encoder's Jacobian and its local geometry, against closed forms and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from torch import nn

from aelat.errors import DataError
from aelat.metrics.geometry import geometry_summary, local_geometry, neighbour_directions, paired_ratio_change
from aelat.models import build_model
from aelat.models.base import Autoencoder
from aelat.models.probes import jacobians


class LinearEncoder(Autoencoder):
    """x -> W x + b on flat samples: its Jacobian is W everywhere."""

    def __init__(self, weight: np.ndarray, bias: float = 0.5):
        super().__init__()
        self.latent_dim, self.sample_shape = weight.shape[0], (weight.shape[1],)
        self.encoder = nn.Linear(weight.shape[1], weight.shape[0]).double()
        with torch.no_grad():
            self.encoder.weight.copy_(torch.from_numpy(weight))
            self.encoder.bias.fill_(bias)

    def encode(self, x):
        return self.encoder(x)


def all_jacobians(model, x, batch_size=7) -> np.ndarray:
    return np.concatenate(list(jacobians(model, x, batch_size=batch_size)))


def grid_two_classes(n_per_row=10, spacing=0.1, gap=1.0):
    """Class 0 on the line x0 = 0, class 1 on x0 = gap; points along x1 `spacing` apart (spacing < gap)."""
    along = np.arange(n_per_row) * spacing
    X = np.concatenate([np.stack([np.zeros(n_per_row), along], 1), np.stack([np.full(n_per_row, gap), along], 1)])
    return X, np.repeat([0, 1], n_per_row)


def test_a_linear_encoder_has_its_weight_matrix_as_jacobian():
    W = np.random.default_rng(0).normal(size=(3, 5))
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(20, 5)))
    J = all_jacobians(LinearEncoder(W), x)
    assert J.shape == (20, 3, 5)
    np.testing.assert_allclose(J, np.broadcast_to(W, J.shape), rtol=1e-12, atol=1e-12)
    u = np.random.default_rng(2).normal(size=(20, 5))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    geometry = local_geometry(J, u, -u)
    sigma = np.linalg.svd(W, compute_uv=False)
    np.testing.assert_allclose(geometry["singular_values"], np.broadcast_to(sigma, (20, 3)), rtol=1e-10)
    np.testing.assert_allclose(geometry["log_volume"], np.log(sigma).sum(), rtol=1e-10)
    np.testing.assert_allclose(geometry["stretch_same"], np.linalg.norm(u @ W.T, axis=1), rtol=1e-10)


@pytest.mark.parametrize("stretch", [3.0, 0.25])
def test_a_map_that_stretches_one_axis_has_that_ratio(stretch):
    X, y = grid_two_classes()
    u_same, u_other = neighbour_directions(X, y, np.arange(len(X)))
    np.testing.assert_allclose(np.abs(u_same), np.broadcast_to([0.0, 1.0], u_same.shape))  # along the line
    np.testing.assert_allclose(np.abs(u_other), np.broadcast_to([1.0, 0.0], u_other.shape))  # across the gap
    W = np.diag([stretch, 1.0])
    J = all_jacobians(LinearEncoder(W), torch.from_numpy(X))
    summary = geometry_summary(local_geometry(J, u_same, u_other), y)
    for group in ("0", "1", "all"):
        assert summary[group]["stretch_ratio"] == pytest.approx(stretch, rel=1e-12)
        assert summary[group]["stretch_same"] == pytest.approx(1.0) and summary[group]["stretch_other"] == pytest.approx(stretch)
        assert summary[group]["stretch_ratio_low"] == pytest.approx(stretch) == summary[group]["stretch_ratio_high"]
    assert summary["all"]["log_volume"] == pytest.approx(np.log(stretch))
    assert summary["0"]["n"] == 10 and summary["all"]["n"] == 20


def test_paired_ratio_change_of_two_linear_maps():
    X, y = grid_two_classes()
    u_same, u_other = neighbour_directions(X, y, np.arange(len(X)))
    stretched = local_geometry(np.diag([2.0, 1.0]), u_same, u_other)
    identity = local_geometry(np.eye(2), u_same, u_other)
    assert paired_ratio_change(stretched, identity) == pytest.approx((2.0, 2.0, 2.0))


def test_ratio_interval_is_the_t_interval_of_the_log_ratios():
    rng = np.random.default_rng(5)
    geometry = {"stretch_same": rng.uniform(0.5, 1.5, 40), "stretch_other": rng.uniform(0.5, 3.0, 40),
                "log_volume": np.zeros(40)}
    summary = geometry_summary(geometry, np.zeros(40, dtype=int))["all"]
    logs = np.log(geometry["stretch_other"] / geometry["stretch_same"])
    half = 2.0226909117347285 * logs.std(ddof=1) / np.sqrt(40)  # t(0.975, 39)
    assert summary["stretch_ratio"] == pytest.approx(np.exp(logs.mean()))
    assert summary["stretch_ratio_low"] == pytest.approx(np.exp(logs.mean() - half))
    assert summary["stretch_ratio_high"] == pytest.approx(np.exp(logs.mean() + half))


def test_neighbour_directions_match_a_brute_force_search():
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(120, 4)), rng.integers(0, 3, 120)
    X[7] = X[3]  # a duplicate is skipped, never a zero direction
    rows = np.array([0, 3, 7, 50, 119])
    u_same, u_other = neighbour_directions(X, y, rows)
    D = cdist(X[rows], X)
    for i, row in enumerate(rows):
        same = np.where((y == y[row]) & (D[i] > 0), D[i], np.inf)
        other = np.where(y != y[row], D[i], np.inf)
        for u, distances in ((u_same[i], same), (u_other[i], other)):
            step = X[np.argmin(distances)] - X[row]
            np.testing.assert_allclose(u, step / np.linalg.norm(step), atol=1e-12)


@pytest.mark.parametrize("name, shape, options", [("mlp", (12,), {"hidden": [9]}), ("conv", (1, 6, 6), {"channels": [3]}),
                                                  ("vae", (12,), {"hidden": [9]})])
def test_jacobian_matches_central_finite_differences(name, shape, options):
    torch.manual_seed(0)
    model = build_model({"name": name, **options}, shape, 3).double().eval()
    x = torch.rand(4, *shape, dtype=torch.float64)
    J = all_jacobians(model, x, batch_size=3)
    eps, flat = 1e-6, x.reshape(4, -1)
    numeric = np.zeros_like(J)
    for k in range(flat.shape[1]):
        step = torch.zeros_like(flat)
        step[:, k] = eps
        with torch.no_grad():
            plus = model.encode((flat + step).reshape(x.shape))
            minus = model.encode((flat - step).reshape(x.shape))
        numeric[:, :, k] = ((plus - minus) / (2 * eps)).numpy()
    np.testing.assert_allclose(J, numeric, rtol=1e-5, atol=1e-7)


def test_one_class_or_a_lonely_point_is_refused():
    with pytest.raises(DataError, match="one class"):
        neighbour_directions(np.zeros((4, 2)), np.zeros(4, dtype=int), np.arange(2))
    with pytest.raises(DataError, match="class 1 has a single point"):
        neighbour_directions(np.random.default_rng(0).normal(size=(4, 2)), np.array([0, 0, 0, 1]), np.array([3]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_jacobians_on_cuda_match_the_cpu():
    torch.manual_seed(0)
    model = build_model({"name": "conv", "channels": [4, 8]}, (1, 8, 8), 3)
    x = torch.rand(10, 1, 8, 8)
    on_cpu = all_jacobians(model, x)
    on_gpu = all_jacobians(model.cuda(), x.cuda())
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-4, atol=1e-5)
