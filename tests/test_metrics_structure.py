"""aelat.metrics.structure against independent computations on small data."""

import itertools

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aelat.errors import ConfigError, DataError
from aelat.metrics.structure import (
    cluster_scores,
    clustering_fits,
    clustering_scores,
    gmm_clusters,
    knn_accuracy,
    knn_predictions,
    linear_probe_accuracy,
    matched_accuracy,
    silhouette,
)

KS = (1, 2, 4, 5, 10)


def _integer_points(seed, d, high=4):
    """Integer points in [0, high)^d and labels: many equal distances and tied votes."""
    rng = np.random.default_rng(seed)
    Z_train = rng.integers(0, high, (400, d)).astype(np.float64)
    Z_test = rng.integers(0, high, (300, d)).astype(np.float64)
    return Z_train, rng.integers(0, 4, 400), Z_test, rng.integers(0, 4, 300)


def _sorted_square_distances(Z_test, Z_train):
    """Exact squared distances (small integers), each row sorted by (distance, train row)."""
    sq = ((Z_test[:, None, :] - Z_train[None, :, :]) ** 2).sum(-1)
    order = np.lexsort((np.broadcast_to(np.arange(len(Z_train)), sq.shape), sq), axis=1)
    return np.take_along_axis(sq, order, axis=1), order


def _vote(neighbour_labels):
    """Uniform vote per row; equal counts go to the smallest label."""
    labels = np.unique(neighbour_labels)
    counts = (neighbour_labels[:, :, None] == labels).sum(1)
    return labels[counts.argmax(1)]


# scikit-learn searches a k-d tree for d <= 15 and by brute force above.
@pytest.mark.parametrize(("d", "high"), [(2, 30), (20, 4)])
def test_knn_accuracy_equals_sklearn_with_tied_distances_and_votes(d, high):
    Z_train, y_train, Z_test, y_test = _integer_points(seed=d, d=d, high=high)
    sq, order = _sorted_square_distances(Z_test, Z_train)
    for k in KS:
        # scikit-learn's neighbour set is defined only where the k-th and (k+1)-th distances differ.
        defined = sq[:, k - 1] < sq[:, k]
        assert defined.sum() >= 30, defined.sum()
        if k >= 4:
            assert (sq[defined, 1:k] == sq[defined, : k - 1]).any(), "no equal distances among the k nearest"
        if k % 2 == 0:
            votes = np.sort((y_train[order[defined, :k]][:, :, None] == np.arange(4)).sum(1), axis=1)
            assert (votes[:, -1] == votes[:, -2]).sum() >= 5, "too few tied votes"
        ours = knn_accuracy(Z_train, y_train, Z_test[defined], y_test[defined], ks=KS)
        for algorithm in ("auto", "brute", "kd_tree"):
            classifier = KNeighborsClassifier(k, algorithm=algorithm).fit(Z_train, y_train)
            assert ours[k] == classifier.score(Z_test[defined], y_test[defined]), (k, algorithm)


def test_knn_accuracy_vote_ties_occur_and_go_to_smallest_label():
    Z_train, y_train, Z_test, y_test = _integer_points(seed=0, d=20)
    _, order = _sorted_square_distances(Z_test, Z_train)
    labels = y_train[order[:, :2]]
    tied = labels[:, 0] != labels[:, 1]
    assert tied.sum() > 50
    # With k = 2 a split vote predicts min of the two labels; score it on exactly those points.
    expected = np.mean(np.minimum(labels[tied, 0], labels[tied, 1]) == y_test[tied])
    assert knn_accuracy(Z_train, y_train, Z_test[tied], y_test[tied], ks=(2,))[2] == expected


@pytest.mark.parametrize("d", [2, 20])
def test_knn_accuracy_breaks_boundary_ties_by_train_row(d):
    Z_train, y_train, Z_test, y_test = _integer_points(seed=10 + d, d=d)
    _, order = _sorted_square_distances(Z_test, Z_train)
    expected = {k: float(np.mean(_vote(y_train[order[:, :k]]) == y_test)) for k in KS}
    assert knn_accuracy(Z_train, y_train, Z_test, y_test, ks=KS) == expected


def test_knn_accuracy_toy_equidistant_train_points():
    # Four train points at distance 1 from the test point: their rows decide who is nearest.
    Z_train = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1], [5, 5]])
    y_train = np.array([3, 2, 1, 0, 0])
    Z_test = np.zeros((1, 2))
    accuracy = {
        label: knn_accuracy(Z_train, y_train, Z_test, np.array([label]), ks=(1, 2, 4)) for label in range(4)
    }
    # k=1: row 0 (label 3); k=2: labels 3, 2 tie -> 2; k=4: labels 3, 2, 1, 0 tie -> 0.
    assert accuracy[3][1] == 1.0 and accuracy[2][2] == 1.0 and accuracy[0][4] == 1.0
    assert accuracy[2][1] == 0.0 and accuracy[3][2] == 0.0 and accuracy[1][4] == 0.0


def test_knn_accuracy_continuous_data_equals_sklearn_default():
    rng = np.random.default_rng(1)
    Z_train, Z_test = rng.standard_normal((500, 5)), rng.standard_normal((200, 5))
    y_train = (Z_train[:, 0] > 0).astype(int) + (Z_train[:, 1] > 0.5)
    y_test = (Z_test[:, 0] > 0).astype(int) + (Z_test[:, 1] > 0.5)
    ours = knn_accuracy(Z_train, y_train, Z_test, y_test)
    assert set(ours) == {1, 5, 10}
    for k, value in ours.items():
        assert value == KNeighborsClassifier(k).fit(Z_train, y_train).score(Z_test, y_test)
    assert ours[10] > 0.8, ours


def test_knn_accuracy_rejects_k_above_n_train():
    Z = np.zeros((3, 2))
    with pytest.raises(ConfigError, match="n_train = 3"):
        knn_accuracy(Z, np.arange(3), Z, np.arange(3), ks=(1, 4))


def test_knn_accuracy_rejects_mismatched_widths():
    with pytest.raises(DataError, match="same model"):
        knn_accuracy(np.zeros((3, 2)), np.arange(3), np.zeros((3, 4)), np.arange(3))


def _blobs(seed, n_per_class=60, d=5, labels=(0, 1, 2)):
    rng = np.random.default_rng(seed)
    centres = 20.0 * rng.standard_normal((len(labels), d))
    Z = np.vstack([c + rng.standard_normal((n_per_class, d)) for c in centres])
    return Z, np.repeat(labels, n_per_class)


def test_linear_probe_equals_sklearn_pipeline_on_all_points():
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((400, 6))
    y = (Z @ rng.standard_normal(6) + 0.5 * rng.standard_normal(400) > 0).astype(int)
    expected = (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        .fit(Z[:300], y[:300])
        .score(Z[300:], y[300:])
    )
    ours = linear_probe_accuracy(Z[:300], y[:300], Z[300:], y[300:])  # by default on every train point
    assert ours == expected
    assert 0.8 < ours < 1.0, ours


def test_linear_probe_separable_classes_and_seeded_cap():
    Z, y = _blobs(seed=3)
    train, test = np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1
    assert linear_probe_accuracy(Z[train], y[train], Z[test], y[test], max_train=30, seed=4) == 1.0
    # The cap draws a seeded subsample: the same seed gives the same fit.
    noisy = Z + 15 * np.random.default_rng(5).standard_normal(Z.shape)
    first = linear_probe_accuracy(noisy[train], y[train], noisy[test], y[test], max_train=20, seed=6)
    again = linear_probe_accuracy(noisy[train], y[train], noisy[test], y[test], max_train=20, seed=6)
    full = linear_probe_accuracy(noisy[train], y[train], noisy[test], y[test], max_train=None)
    assert first == again
    assert first != full


def test_linear_probe_rejects_single_class():
    Z = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(DataError, match="single class"):
        linear_probe_accuracy(Z, np.zeros(10, int), Z, np.zeros(10, int))


def test_matched_accuracy_equals_brute_force_over_matchings():
    rng = np.random.default_rng(7)
    for n_labels, n_clusters in [(3, 3), (3, 5), (4, 2)]:
        y_true = rng.integers(0, n_labels, 40)
        y_pred = rng.integers(0, n_clusters, 40) + 10  # cluster ids need not look like labels
        labels, clusters = np.unique(y_true), np.unique(y_pred)
        best = 0
        if len(clusters) >= len(labels):
            for chosen in itertools.permutations(clusters, len(labels)):
                best = max(best, sum(np.sum((y_true == a) & (y_pred == c)) for a, c in zip(labels, chosen)))
        else:
            for chosen in itertools.permutations(labels, len(clusters)):
                best = max(best, sum(np.sum((y_true == a) & (y_pred == c)) for a, c in zip(chosen, clusters)))
        assert matched_accuracy(y_true, y_pred) == best / 40


def test_matched_accuracy_toy():
    # Cluster 5 <-> label 0 (2 points), cluster 7 <-> label 1 (2 points); label 2 unmatched.
    assert matched_accuracy([0, 0, 0, 1, 1, 2], [5, 5, 7, 7, 7, 7]) == pytest.approx(4 / 6)


def test_cluster_scores_are_one_for_renamed_labels():
    y = np.repeat([0, 1, 2, 3], 5)
    renamed = np.array([9, 4, 7, 1])[y]
    assert cluster_scores(y, renamed) == {"accuracy": 1.0, "nmi": 1.0, "ari": 1.0}


@pytest.mark.parametrize("d", [5, 80])  # full mixture covariances, then diagonal (d > 64)
def test_clustering_scores_recover_separated_blobs_with_permuted_labels(d):
    Z, y = _blobs(seed=8, d=d, labels=(7, 3, 9))
    scores = clustering_scores(Z, y, fit_size=120, seed=0)
    for key in (f"{m}_{s}" for m in ("kmeans", "gmm") for s in ("accuracy", "nmi", "ari")):
        assert scores[key] == 1.0 and scores[f"{key}_sd"] == 0.0 and scores["clustering_runs"][key] == [1.0] * 5


def test_clustering_scores_with_fewer_clusters_than_labels():
    Z, y = _blobs(seed=9)
    scores = clustering_scores(Z, y, n_clusters=2, seed=0)
    # Two of three equal blobs share a cluster: one of them is matched, the other is wrong.
    assert scores["kmeans_accuracy"] == pytest.approx(2 / 3)
    assert scores["gmm_accuracy"] == pytest.approx(2 / 3)
    assert scores["kmeans_nmi"] < 1.0 and scores["kmeans_ari"] < 1.0


def test_clustering_mean_and_spread_equal_separate_float64_fits_per_seed():
    """Against scikit-learn fitted by hand, one seed at a time, on float64 copies of each seed's subsample."""
    rng = np.random.default_rng(12)
    Z = np.vstack([rng.normal(c, 1.2, size=(150, 6)) for c in range(4)]).astype(np.float32)
    y = np.repeat([0, 1, 2, 3], 150)
    scores = clustering_scores(Z, y, fit_size=400, seed=3, n_seeds=4)
    runs = {key: [] for key in scores["clustering_runs"]}
    for s in range(3, 7):
        rows = np.sort(np.random.default_rng(s).choice(600, size=400, replace=False))
        X = Z[rows].astype(np.float64)
        fits = {"kmeans": KMeans(4, n_init=1, random_state=s).fit(X).labels_,
                "gmm": GaussianMixture(4, covariance_type="full", random_state=s).fit(X).predict(X)}
        for name, labels in fits.items():
            runs[f"{name}_accuracy"].append(matched_accuracy(y[rows], labels))
            runs[f"{name}_nmi"].append(normalized_mutual_info_score(y[rows], labels))
            runs[f"{name}_ari"].append(adjusted_rand_score(y[rows], labels))
    for key, values in runs.items():
        np.testing.assert_allclose(scores["clustering_runs"][key], values, rtol=1e-12)
        assert scores[key] == pytest.approx(np.mean(values), rel=1e-12)
        assert scores[f"{key}_sd"] == pytest.approx(np.std(values, ddof=1), rel=1e-9, abs=1e-15)
    assert len(set(scores["clustering_runs"]["gmm_accuracy"])) > 1  # overlapping blobs: the seeds differ
    # float64 inside: a float32 or float64 input gives the same fits
    assert clustering_scores(Z.astype(np.float64), y, fit_size=400, seed=3, n_seeds=4) == scores
    with pytest.raises(ConfigError, match="n_seeds=0"):
        clustering_scores(Z, y, n_seeds=0)


def test_clustering_fits_assign_every_point_and_score_each_seeds_fitted_rows():
    """The clusters `clustering_fits` returns are the ones its scores count, seed by seed, on the fitted rows."""
    rng = np.random.default_rng(14)
    y = np.arange(500) % 3
    Z = rng.normal(size=(500, 4)) + 2.5 * np.eye(4)[y]
    scores, clusters = clustering_fits(Z, y, fit_size=200, seed=5, n_seeds=3)
    assert scores == clustering_scores(Z, y, fit_size=200, seed=5, n_seeds=3)
    for model in ("kmeans", "gmm"):
        assert clusters[model].shape == (3, 500)
        for i, s in enumerate(range(5, 8)):
            rows = np.sort(np.random.default_rng(s).choice(500, size=200, replace=False))
            expected = {f"{model}_{k}": v for k, v in cluster_scores(y[rows], clusters[model][i, rows]).items()}
            assert expected == {key: scores["clustering_runs"][key][i] for key in expected}
    fitted = KMeans(3, n_init=1, random_state=6).fit(Z[np.sort(np.random.default_rng(6).choice(500, 200, replace=False))])
    np.testing.assert_array_equal(clusters["kmeans"][1], fitted.predict(Z))


def test_clustering_fits_at_the_largest_seed_wrap_the_later_seeds_around():
    """seed = 2**32 - 1 (the largest the config takes) with 3 fits: seeds 2**32 - 1, 0 and 1."""
    rng = np.random.default_rng(15)
    y = np.arange(300) % 3
    Z = rng.normal(size=(300, 4)) + 2.5 * np.eye(4)[y]
    scores, clusters = clustering_fits(Z, y, fit_size=100, seed=2**32 - 1, n_seeds=3)
    later, _ = clustering_fits(Z, y, fit_size=100, seed=0, n_seeds=2)
    assert scores["clustering_runs"]["kmeans_nmi"][1:] == later["clustering_runs"]["kmeans_nmi"]


def test_clustering_scores_are_seeded():
    Z = np.random.default_rng(10).standard_normal((300, 4))
    y = np.arange(300) % 3
    assert clustering_scores(Z, y, fit_size=100, seed=1) == clustering_scores(Z, y, fit_size=100, seed=1)


def _silhouette_by_hand(Z, y):
    distance = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    values = []
    for i in range(len(Z)):
        own = (y == y[i]) & (np.arange(len(Z)) != i)
        a = distance[i, own].mean()
        b = min(distance[i, y == c].mean() for c in np.unique(y) if c != y[i])
        values.append((b - a) / max(a, b))
    return np.mean(values)


def test_silhouette_equals_definition_on_all_points():
    rng = np.random.default_rng(11)
    Z, y = rng.standard_normal((90, 3)), np.arange(90) % 3
    Z[y == 1] += 2.0
    assert silhouette(Z, y, sample_size=None) == pytest.approx(_silhouette_by_hand(Z, y), rel=1e-12)
    assert silhouette(Z, y, sample_size=500) == silhouette(Z, y, sample_size=None)


def test_silhouette_sample_is_seeded_and_close_to_full():
    Z, y = _blobs(seed=12, n_per_class=300)
    Z = Z + 8 * np.random.default_rng(13).standard_normal(Z.shape)
    sampled = silhouette(Z, y, sample_size=300, seed=3)
    assert sampled == silhouette_score(Z, y, sample_size=300, random_state=3)
    assert sampled == pytest.approx(silhouette(Z, y, sample_size=None), abs=0.05)


def test_knn_predictions_are_sklearn_predictions_and_what_knn_accuracy_scores():
    rng = np.random.default_rng(3)
    Z_train, Z_test = rng.normal(size=(300, 5)), rng.normal(size=(120, 5))
    y_train, y_test = rng.integers(0, 4, 300), rng.integers(0, 4, 120)
    for k in (1, 5, 10):
        predicted = knn_predictions(Z_train, y_train, Z_test, k)
        expected = KNeighborsClassifier(n_neighbors=k).fit(Z_train, y_train).predict(Z_test)
        np.testing.assert_array_equal(predicted, expected)
        assert np.mean(predicted == y_test) == knn_accuracy(Z_train, y_train, Z_test, y_test, ks=(k,))[k]


def test_gmm_clusters_are_the_clusters_clustering_scores_scores_for_its_first_seed():
    rng = np.random.default_rng(4)
    y = np.arange(900) % 3
    Z = rng.normal(size=(900, 3)) + 4 * np.eye(3)[y]
    for fit_size, full_max in ((None, 64), (300, 2)):
        clusters = gmm_clusters(Z, 3, fit_size=fit_size, gmm_full_max_dim=full_max, seed=7)
        assert clusters.shape == (900,) and set(clusters) == {0, 1, 2}
        runs = clustering_scores(Z, y, fit_size=fit_size, gmm_full_max_dim=full_max, seed=7,
                                 n_seeds=2)["clustering_runs"]
        rows = np.arange(900) if fit_size is None else np.sort(np.random.default_rng(7).choice(900, 300, replace=False))
        assert {f"gmm_{k}": v for k, v in cluster_scores(y[rows], clusters[rows]).items()} == {
            k: values[0] for k, values in runs.items() if k.startswith("gmm_")}
