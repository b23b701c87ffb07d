"""Holes of Q under a VAE's prior: calibrated when Q is the prior, large where Q misses half of it, exact."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from aelat.errors import ConfigError, DataError
from aelat.metrics.holes import prior_holes


def test_codes_drawn_from_the_prior_leave_about_one_minus_the_quantile_in_holes():
    codes = np.random.default_rng(11).standard_normal((4000, 2))
    held_out = np.random.default_rng(12).standard_normal((4000, 2))
    found = prior_holes(codes, held_out=held_out, n_prior=20000, quantile=0.99, seed=3)
    assert found["share_low"] <= 0.01 <= found["share_high"], found["share"]
    assert found["held_out_share"] == pytest.approx(0.01, abs=0.006)


def test_codes_covering_half_the_prior_leave_about_half_in_holes():
    codes = np.random.default_rng(1).standard_normal((4000, 2))
    codes[:, 0] = np.abs(codes[:, 0])  # only the half-plane x0 > 0 is covered
    found = prior_holes(codes, n_prior=20000, seed=2)
    assert 0.4 < found["share"] < 0.5, found["share"]  # draws near the boundary are still covered
    assert found["held_out_share"] is None


def test_share_and_threshold_equal_a_brute_force_computation():
    rng = np.random.default_rng(4)
    codes = rng.normal(scale=0.5, size=(300, 3))
    found = prior_holes(codes, n_prior=500, quantile=0.9, seed=8)
    own = cdist(codes, codes)
    np.fill_diagonal(own, np.inf)
    threshold = np.quantile(own.min(axis=1), 0.9)
    prior = np.random.default_rng(8).standard_normal((500, 3))
    distance = cdist(prior, codes).min(axis=1)
    assert found["threshold"] == pytest.approx(threshold, rel=1e-12)
    np.testing.assert_allclose(found["distance"], distance, rtol=1e-10)
    assert found["share"] == np.mean(distance > threshold)
    assert found["share_low"] < found["share"] < found["share_high"]


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError, match="quantile"):
        prior_holes(np.zeros((5, 2)) + np.arange(5)[:, None], quantile=1.0)
    with pytest.raises(DataError, match="at least 2 points"):
        prior_holes(np.zeros((1, 2)))
