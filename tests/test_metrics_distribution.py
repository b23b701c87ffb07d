"""Distribution metrics against closed forms and independent brute-force computations."""

import itertools
import json
from math import lcm

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from aelat.errors import ConfigError, DataError
from aelat.metrics import distribution as dm


def gaussian(rng, n, d, cov_root=None, mean=0.0):
    """n draws of N(mean, cov_root^T cov_root) in d dimensions."""
    z = rng.standard_normal((n, d))
    return (z if cov_root is None else z @ cov_root) + mean


def two_gaussian_classes(rng, n=3000, d=2, gap=6.0):
    """Two unit Gaussians ``gap`` standard deviations apart along the first axis."""
    shift = np.zeros(d)
    shift[0] = gap / 2
    Z = np.vstack([gaussian(rng, n, d) - shift, gaussian(rng, n, d) + shift])
    return Z, np.repeat([0, 1], n)


# --------------------------------------------------------------------------- class geometry


def test_between_class_share_matches_brute_force_scatter_matrices():
    rng = np.random.default_rng(0)
    sizes = [50, 120, 80]
    Z = np.vstack([gaussian(rng, m, 4, rng.standard_normal((4, 4)), rng.normal(0, 2, 4)) for m in sizes])
    y = np.repeat([5, 2, 9], sizes)
    mu = Z.mean(axis=0)
    S_total = (Z - mu).T @ (Z - mu) / len(Z)
    S_between = sum((y == c).mean() * np.outer(Z[y == c].mean(0) - mu, Z[y == c].mean(0) - mu) for c in (2, 5, 9))
    share = dm.between_class_variance_share(Z, y)
    assert share == pytest.approx(np.trace(S_between) / np.trace(S_total), rel=1e-12)

    moments = dm.class_moments(Z, y)
    assert moments["classes"].tolist() == [2, 5, 9] and moments["counts"].tolist() == [120, 50, 80]
    np.testing.assert_allclose(moments["covariance"], np.cov(Z.T, bias=True), atol=1e-12)
    np.testing.assert_allclose(moments["covariances"][0], np.cov(Z[y == 2].T, bias=True), atol=1e-12)
    np.testing.assert_allclose(moments["means"][2], Z[y == 9].mean(0), atol=1e-12)
    S_within = np.einsum("k,kij->ij", moments["counts"] / len(Z), moments["covariances"])
    assert 1 - np.trace(S_within) / np.trace(moments["covariance"]) == pytest.approx(share, rel=1e-10)


def test_between_class_share_of_a_constructed_case_is_exact():
    # class means at -3·e1 and +3·e1, each class the 6 points mean ± e_i: within trace 1, between 9
    offsets = np.vstack([np.eye(3), -np.eye(3)])
    Z = np.vstack([offsets - [3, 0, 0], offsets + [3, 0, 0]])
    y = np.repeat([0, 1], 6)
    assert dm.between_class_variance_share(Z, y) == pytest.approx(9 / 10, abs=1e-12)
    assert dm.between_class_variance_share(Z * 7 + 11, y) == pytest.approx(0.9, abs=1e-12)


def test_pairwise_distance_ratio_matches_all_pairs():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(70, 5))
    y = rng.integers(0, 3, 70)
    within, between = [], []
    for i, j in itertools.combinations(range(70), 2):
        (within if y[i] == y[j] else between).append(np.linalg.norm(Z[i] - Z[j]))
    # n_samples above n: the whole set, so the result no longer depends on the seed
    result = dm.pairwise_distance_ratio(Z, y, n_samples=100, seed=3)
    assert result["mean_within"] == pytest.approx(np.mean(within), rel=1e-12)
    assert result["mean_between"] == pytest.approx(np.mean(between), rel=1e-12)
    assert result["ratio"] == pytest.approx(np.mean(between) / np.mean(within), rel=1e-12)
    assert np.mean(pdist(Z)) == pytest.approx((np.sum(within) + np.sum(between)) / (70 * 69 / 2))


# --------------------------------------------------------------------------- intrinsic dimension


@pytest.mark.parametrize("true_dim", [3, 5])
def test_intrinsic_dimension_of_a_gaussian_embedded_in_20d(true_dim):
    rng = np.random.default_rng(true_dim)
    X = gaussian(rng, 2000, true_dim) @ rng.standard_normal((true_dim, 20))
    twonn = dm.twonn_dimension(X, n_samples=2000)
    mle = dm.levina_bickel_dimension(X, k=20, n_samples=2000)
    # Over 10 seeds at n = 2000: TwoNN 3.06 ± 0.07 (3-D) and 5.02 ± 0.17 (5-D); the MLE 3.05 ± 0.02
    # and 4.93 ± 0.03 (a Gaussian's thinning tails bias it slightly at k = 20). A 10% tolerance is
    # over 3 s.d. from the measured mean in every case.
    assert twonn == pytest.approx(true_dim, rel=0.1), f"TwoNN gave {twonn:.3f}"
    assert mle == pytest.approx(true_dim, rel=0.1), f"Levina-Bickel gave {mle:.3f}"


def test_intrinsic_dimension_ignores_duplicate_points():
    rng = np.random.default_rng(2)
    X = gaussian(rng, 800, 3)
    with_duplicates = np.vstack([X, X[:300], X[:50]])
    # n_samples covers every point, so both see the same distinct set
    assert dm.twonn_dimension(with_duplicates, n_samples=2000) == dm.twonn_dimension(X, n_samples=2000)
    assert dm.levina_bickel_dimension(with_duplicates, n_samples=2000) == dm.levina_bickel_dimension(
        X, n_samples=2000
    )
    assert np.isfinite(dm.twonn_dimension(np.vstack([X, X]), n_samples=500))


def test_intrinsic_dimension_per_class_and_pooled():
    rng = np.random.default_rng(4)
    flat = gaussian(rng, 1500, 2) @ rng.standard_normal((2, 12))
    thick = gaussian(rng, 1500, 6) @ rng.standard_normal((6, 12)) + 100
    result = dm.intrinsic_dimension(np.vstack([flat, thick]), np.repeat([0, 1], 1500), n_samples=3000)
    # 1500 points a class: measured 1.89 / 2.03 and 6.31 / 5.72 (TwoNN / MLE); TwoNN's s.d. at
    # this size is about 3% of d, so 15% leaves room without letting 2 pass for 6
    for label, true_dim in [(0, 2), (1, 6)]:
        for name, value in result["per_class"][label].items():
            assert value == pytest.approx(true_dim, rel=0.15), f"class {label} {name}: {value:.2f}"
    # the pooled estimate mixes neighbourhoods of both classes
    assert 2.5 < result["pooled"]["twonn"] < 5.5 and 2.5 < result["pooled"]["mle"] < 5.5


# --------------------------------------------------------------------------- sliced Wasserstein


def test_w2_1d_of_unequal_sizes_equals_the_replicated_equal_size_case():
    rng = np.random.default_rng(5)
    u, v = rng.normal(size=6), rng.exponential(size=10)
    # repeating each point L/n times leaves the distribution unchanged and makes the sizes equal,
    # where W2² is the mean squared difference of sorted values
    L = lcm(6, 10)
    brute = np.sqrt(np.mean((np.sort(np.repeat(u, L // 6)) - np.sort(np.repeat(v, L // 10))) ** 2))
    assert dm.wasserstein2_1d(u, v) == pytest.approx(brute, rel=1e-12)
    assert dm.wasserstein2_1d(v, u) == pytest.approx(brute, rel=1e-12)
    assert dm.wasserstein2_1d(u, u + 2.5) == pytest.approx(2.5, rel=1e-12)
    columns = dm.wasserstein2_1d(np.c_[u, 2 * u], np.c_[v, 2 * v])
    np.testing.assert_allclose(columns, [brute, 2 * brute], rtol=1e-12)


def test_sliced_w2_between_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(6)
    R1, R2 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    m1, m2 = np.array([0.0, 1.0, -1.0]), np.array([2.0, 0.0, 0.5])
    a, b = gaussian(rng, 60000, 3, R1, m1), gaussian(rng, 40000, 3, R2, m2)
    theta = dm.random_directions(3, 50, seed=7)
    np.testing.assert_allclose(np.linalg.norm(theta, axis=1), 1.0)
    S1, S2 = R1.T @ R1, R2.T @ R2
    per_direction = (theta @ (m1 - m2)) ** 2 + (
        np.sqrt(np.einsum("li,ij,lj->l", theta, S1, theta)) - np.sqrt(np.einsum("li,ij,lj->l", theta, S2, theta))
    ) ** 2
    closed = np.sqrt(per_direction.mean())
    # sampling error of 1-D W2 at these sizes is well under 1% of a distance of order 2
    assert dm.sliced_wasserstein(a, b, theta) == pytest.approx(closed, rel=0.01)
    assert dm.sliced_wasserstein(a, a, theta) == 0.0


def test_sliced_w2_matrix_is_a_normalised_symmetric_distance_table():
    rng = np.random.default_rng(8)
    sizes = [300, 500, 200]
    Z = np.vstack([gaussian(rng, m, 4, mean=3 * c) for c, m in enumerate(sizes)])
    y = np.repeat([0, 1, 2], sizes)
    result = dm.sliced_wasserstein_matrix(Z, y, n_directions=40, n_per_class=1000, seed=9)
    M = result["matrix"]
    np.testing.assert_array_equal(M, M.T)
    np.testing.assert_array_equal(np.diag(M), 0.0)
    # n_per_class covers every class, so each entry is SW2 of the whole classes over the scale
    scale = np.sqrt(np.trace(np.cov(Z.T, bias=True)) / 4)
    assert result["scale"] == pytest.approx(scale, rel=1e-12)
    theta = dm.random_directions(4, 40, seed=9)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        expected = dm.sliced_wasserstein(Z[y == i], Z[y == j], theta) / scale
        assert M[i, j] == pytest.approx(expected, rel=1e-12)
    assert M[0, 2] > M[0, 1] > 0
    # the normalisation removes the units: scaling and shifting Z leave the table unchanged
    moved = dm.sliced_wasserstein_matrix(5 * Z - 2, y, n_directions=40, n_per_class=1000, seed=9)
    np.testing.assert_allclose(moved["matrix"], M, rtol=1e-10)


# --------------------------------------------------------------------------- Gaussianity


def test_mmd2_from_indicators_matches_the_textbook_u_statistic():
    rng = np.random.default_rng(10)
    P = rng.normal(size=(12, 2))
    K = np.exp(-((P[:, None] - P[None]) ** 2).sum(-1) / 2)
    x, y = [0, 3, 4, 7, 8, 11], [1, 2, 5, 6, 9, 10]
    n = 6
    Kxx, Kyy, Kxy = K[np.ix_(x, x)], K[np.ix_(y, y)], K[np.ix_(x, y)]
    u_stat = (Kxx.sum() - n) / (n * (n - 1)) + (Kyy.sum() - n) / (n * (n - 1)) - 2 * Kxy.mean()
    a = np.isin(np.arange(12), x).astype(float)
    assert dm._mmd2_from_indicators(K, a) == pytest.approx(u_stat, rel=1e-12)


def test_gaussianity_p_values_of_gaussian_data_are_uniform():
    rng = np.random.default_rng(11)
    results = []
    for seed in range(40):
        # a fresh Gaussian sample each time: with one fixed sample the runs would share its quirks
        X = gaussian(rng, 2000, 3, rng.normal(size=(3, 3)), 5.0)
        results.append(dm.gaussianity_mmd(X, n_samples=150, n_permutations=50, seed=seed))
    p = np.array([r["p_value"] for r in results])
    mmd2 = np.array([r["mmd2"] for r in results])
    # a valid test: p roughly uniform (mean 1/2 ± 3 s.e., about 4% below 0.05), MMD² centred on 0
    assert 0.35 < p.mean() < 0.65 and (p < 0.05).mean() <= 0.15, f"p-values {np.round(p, 2)}"
    assert abs(mmd2.mean()) < 0.02 and np.abs(mmd2).max() < 0.25, f"mmd2 {np.round(mmd2, 3)}"
    assert {r["rank"] for r in results} == {3}


@pytest.mark.parametrize(
    "make, floor",
    [(lambda rng: two_gaussian_classes(rng)[0], 0.2), (lambda rng: rng.uniform(size=(6000, 3)), 0.03)],
    ids=["two-cluster mixture", "uniform cube"],
)
def test_gaussianity_flags_non_gaussian_data(make, floor):
    result = dm.gaussianity_mmd(make(np.random.default_rng(12)), n_permutations=100, seed=0)
    # over 15 seeds: mixture 0.39 (0.27 to 0.52), cube 0.10 (0.04 to 0.15), every p at its floor;
    # Gaussian data give |mmd2| < 0.05 with standard deviation 0.017 at these 500 points
    assert result["mmd2"] > floor, result
    assert result["p_value"] == pytest.approx(1 / 101), result


def test_gaussianity_copes_with_a_singular_covariance():
    rng = np.random.default_rng(13)
    X = np.zeros((4000, 10))
    X[:, [1, 4, 8]] = gaussian(rng, 4000, 3, rng.normal(size=(3, 3)))
    X[:, 0] = 0.5  # a constant "pixel", like MNIST's border
    result = dm.gaussianity_mmd(X, seed=1)
    assert result["rank"] == 3
    assert abs(result["mmd2"]) < 0.05 and result["p_value"] > 0.05, result


def test_class_gaussianity_separates_gaussian_classes_from_their_mixture():
    Z, y = two_gaussian_classes(np.random.default_rng(14))
    result = dm.class_gaussianity(Z, y, n_permutations=100, seed=2)
    assert result["pooled"]["mmd2"] > 0.1 and result["pooled"]["p_value"] == pytest.approx(1 / 101)
    for label in (0, 1):
        per_class = result["per_class"][label]
        assert abs(per_class["mmd2"]) < 0.05 and per_class["p_value"] > 0.05, per_class


# --------------------------------------------------------------------------- all in one


def small_representation():
    rng = np.random.default_rng(15)
    sizes = [150, 250, 200]
    Z = np.vstack([gaussian(rng, m, 5, mean=2 * c) for c, m in enumerate(sizes)]).astype(np.float32)
    return Z, np.repeat([3, 1, 7], sizes)


SMALL = dict(n_pair_samples=300, n_gaussianity_samples=100, n_moments=500, n_permutations=30,
             n_id_samples=400, k=10, n_directions=20, n_per_class=100)


def test_distribution_metrics_is_json_ready_and_matches_the_parts():
    Z, y = small_representation()
    result = dm.distribution_metrics(Z, y, seed=4, **SMALL)
    assert json.loads(json.dumps(result)) == result  # plain Python values only
    assert result["classes"] == [1, 3, 7] and result["class_counts"] == [250, 150, 200]
    assert result["n_points"] == 600 and result["dim"] == 5
    assert set(result["gaussianity"]["per_class"]) == {"1", "3", "7"}
    assert set(result["intrinsic_dimension"]["per_class"]["7"]) == {"twonn", "mle"}
    assert np.shape(result["sliced_wasserstein"]["matrix"]) == (3, 3)
    assert result["between_class_variance_share"] == dm.between_class_variance_share(Z, y)
    ids = dm.intrinsic_dimension(Z, y, k=10, n_samples=400, seed=4)
    assert result["intrinsic_dimension"]["pooled"] == ids["pooled"]
    gauss = dm.class_gaussianity(Z, y, n_samples=100, n_moments=500, n_permutations=30, seed=4)
    assert result["gaussianity"]["per_class"]["3"] == gauss["per_class"][3]


def test_distribution_metrics_same_seed_same_output():
    Z, y = small_representation()
    first = dm.distribution_metrics(Z, y, seed=0, **SMALL)
    assert dm.distribution_metrics(Z, y, seed=0, **SMALL) == first
    other = dm.distribution_metrics(Z, y, seed=1, **SMALL)
    assert other["gaussianity"] != first["gaussianity"]
    assert other["sliced_wasserstein"]["matrix"] != first["sliced_wasserstein"]["matrix"]
    assert other["pairwise_distance"] != first["pairwise_distance"]


# --------------------------------------------------------------------------- input checks


def test_rejects_labels_that_do_not_match_the_points():
    with pytest.raises(DataError, match=r"y has shape \(3,\); expected \(4,\)"):
        dm.between_class_variance_share(np.zeros((4, 2)), np.arange(3))


def test_rejects_non_finite_points():
    Z = np.ones((4, 2))
    Z[1, 1] = np.nan
    with pytest.raises(DataError, match="NaN or inf"):
        dm.twonn_dimension(Z)


def test_rejects_a_single_class():
    with pytest.raises(DataError, match="at least 2"):
        dm.sliced_wasserstein_matrix(np.random.default_rng(0).normal(size=(10, 2)), np.zeros(10, int))


def test_rejects_a_constant_representation():
    with pytest.raises(DataError, match="constant"):
        dm.between_class_variance_share(np.ones((6, 3)), np.repeat([0, 1], 3))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda X: dm.levina_bickel_dimension(X, k=1), r"k=1 is invalid; it must be an integer >= 2"),
        (lambda X: dm.twonn_dimension(X, discard_fraction=0.0), r"discard_fraction=0.0 is invalid"),
        (lambda X: dm.gaussianity_mmd(X, n_permutations=0), r"n_permutations=0 is invalid"),
        (lambda X: dm.gaussianity_mmd(X, n_samples=2.5), r"n_samples=2.5 is invalid"),
    ],
)
def test_rejects_invalid_settings(call, message):
    with pytest.raises(ConfigError, match=message):
        call(np.random.default_rng(0).normal(size=(50, 3)))
