"""aelat.metrics.neighbourhood against scikit-learn and brute-force numpy on small data."""

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as sklearn_trustworthiness

from aelat.errors import ConfigError, DataError
from aelat.metrics.neighbourhood import (
    continuity,
    knn_preservation,
    neighbourhood_scores,
    neighbourhood_scores_of_maps,
    smallest_k,
    trustworthiness,
)


def _map(seed, n=300, d=10, noise=0.5):
    """A 10-d representation and a noisy 2-d projection of it: imperfect but far from random."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(3, 0.5, d)
    E = X[:, :2] + noise * rng.standard_normal((n, 2))
    return X, E


def _brute_force_neighbours(A, k):
    """Each row's k nearest other rows from the full distance matrix."""
    distance = ((A[:, None] - A[None]) ** 2).sum(-1)
    np.fill_diagonal(distance, np.inf)
    return np.argsort(distance, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("k", [5, 10])
def test_exact_values_equal_sklearn(k):
    X, E = _map(seed=0)
    scores = neighbourhood_scores(X, E, ks=(5, 10), sample_size=None)
    expected_t = sklearn_trustworthiness(X, E, n_neighbors=k)
    expected_c = sklearn_trustworthiness(E, X, n_neighbors=k)
    assert scores[f"trustworthiness_{k}"] == pytest.approx(expected_t, abs=1e-12)
    assert scores[f"continuity_{k}"] == pytest.approx(expected_c, abs=1e-12)
    assert 0.6 < scores[f"trustworthiness_{k}"] < 0.99, scores


def test_knn_preservation_equals_brute_force():
    X, E = _map(seed=1)
    near_x, near_e = _brute_force_neighbours(X, 10), _brute_force_neighbours(E, 10)
    for k in (5, 10):
        expected = np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(near_x, near_e)])
        assert knn_preservation(X, E, k=k, sample_size=None) == pytest.approx(expected, abs=1e-12)
        assert 0.1 < expected < 0.9


def test_single_metric_functions_match_the_combined_one():
    X, E = _map(seed=2)
    scores = neighbourhood_scores(X, E, ks=(7,), sample_size=100, seed=3)
    assert trustworthiness(X, E, k=7, sample_size=100, seed=3) == scores["trustworthiness_7"]
    assert continuity(X, E, k=7, sample_size=100, seed=3) == scores["continuity_7"]
    assert knn_preservation(X, E, k=7, sample_size=100, seed=3) == scores["knn_preservation_7"]


def test_sampled_estimate_is_close_to_exact_and_seeded():
    X, E = _map(seed=4, n=2000, noise=1.0)
    exact = neighbourhood_scores(X, E, sample_size=None)
    sampled = neighbourhood_scores(X, E, sample_size=400, seed=5)
    assert sampled == neighbourhood_scores(X, E, sample_size=400, seed=5)
    assert sampled != exact
    # 400 of 2000 points: the standard error is about 0.005 here.
    for name, value in exact.items():
        assert sampled[name] == pytest.approx(value, abs=0.015), (name, sampled[name], value)
    assert exact["trustworthiness_10"] < 0.8 and exact["continuity_10"] < 0.9, exact


def test_chunking_does_not_change_the_result():
    X, E = _map(seed=6)
    default = neighbourhood_scores(X, E, sample_size=None)
    # 1 MiB of working memory holds a few rows of length 300 at a time.
    with sklearn.config_context(working_memory=0.01):
        assert neighbourhood_scores(X, E, sample_size=None) == default


@pytest.mark.parametrize("sample_size", [None, 500])
def test_maps_of_one_source_scored_together_equal_each_scored_alone(sample_size):
    """Digits (1797 x 64) and two of its 2-D maps: the shared pass gives exactly the separate values."""
    X = load_digits().data
    maps = {"pca": PCA(2, random_state=0).fit_transform(X),
            "projection": X @ np.random.default_rng(0).standard_normal((64, 2))}
    # A little working memory makes several chunks of query rows, as at MNIST scale.
    with sklearn.config_context(working_memory=2):
        together = neighbourhood_scores_of_maps(X, maps, ks=(5, 10), sample_size=sample_size, seed=3)
        alone = {name: neighbourhood_scores(X, E, ks=(5, 10), sample_size=sample_size, seed=3)
                 for name, E in maps.items()}
    assert together == alone
    assert together["pca"] != together["projection"]


def test_maps_of_one_source_must_each_match_its_rows():
    X, E = _map(seed=13)
    with pytest.raises(DataError, match="short has 299"):
        neighbourhood_scores_of_maps(X, {"full": E, "short": E[:-1]})


def test_a_similarity_map_scores_one():
    X, _ = _map(seed=7, d=2)
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]])
    scores = neighbourhood_scores(X, 3.0 * X @ rotation + 5.0, sample_size=None)
    names = ("trustworthiness", "continuity", "knn_preservation")
    assert scores == {f"{m}_{k}": 1.0 for k in (5, 10) for m in names}


def test_a_random_map_scores_near_chance():
    X, _ = _map(seed=8, n=1000)
    E = np.random.default_rng(9).standard_normal((1000, 2))
    scores = neighbourhood_scores(X, E, ks=(10,), sample_size=None)
    # A random ranking gives T = C = 0.5 in expectation and k / (n - 1) shared neighbours.
    assert scores["trustworthiness_10"] == pytest.approx(0.5, abs=0.03)
    assert scores["continuity_10"] == pytest.approx(0.5, abs=0.03)
    assert scores["knn_preservation_10"] == pytest.approx(10 / 999, abs=0.01)


def test_tied_distances_toy():
    # Rows 0-3 are copies at the origin of X, rows 4-11 sit at x = 1..8; E spreads the copies
    # to x = 0, 0.1, 0.2, 0.3 and keeps the rest.
    X = np.vstack([np.zeros((4, 2)), np.arange(1, 9)[:, None] * [[1.0, 0.0]]])
    E = X.copy()
    E[1:4, 0] = [0.1, 0.2, 0.3]
    scores = neighbourhood_scores(X, E, ks=(2,), sample_size=None)
    # Trustworthiness: every E-neighbour has no point strictly nearer in X than itself (copies
    # and equidistant points tie), so its rank is 1 and T = 1.
    assert scores["trustworthiness_2"] == 1.0
    # Continuity: X-neighbour sets with ties take the lowest rows. Row 2's are {0, 1} and row 3's
    # {0, 1}: in E row 0 has rank 3 from both (penalty 1 + 1). Row 4's are copies {0, 1} at
    # distance 1, which E puts behind rows 3 and 2 (ranks 3 and 4: penalty 1 + 2). The
    # normalisation is 2 / (n k (2n - 3k - 1)) = 2 / (12 * 2 * 17).
    assert scores["continuity_2"] == pytest.approx(1 - 5 * 2 / (12 * 2 * 17), abs=1e-15)
    # Shared neighbours: rows 2 and 3 keep one of two ({1, 3} and {1, 2} in E), row 4 none
    # ({3, 2} in E), the other nine rows both.
    assert scores["knn_preservation_2"] == pytest.approx((9 * 2 + 2 * 1) / (12 * 2), abs=1e-15)


def test_smallest_k_orders_ties_by_column():
    rng = np.random.default_rng(10)
    D = rng.integers(0, 4, (50, 30)).astype(float)
    expected = np.lexsort((np.broadcast_to(np.arange(30), D.shape), D), axis=1)
    for k in (1, 3, 10, 29, 30):
        np.testing.assert_array_equal(smallest_k(D, k), expected[:, :k])


def test_rejects_k_at_half_of_n():
    X, E = _map(seed=11, n=20)
    with pytest.raises(ConfigError, match="n / 2 = 10.0"):
        neighbourhood_scores(X, E, ks=(10,))


def test_rejects_rows_that_do_not_match():
    X, E = _map(seed=12)
    with pytest.raises(DataError, match="one to one"):
        neighbourhood_scores(X, E[:-1])
