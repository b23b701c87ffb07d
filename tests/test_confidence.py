"""Intervals and paired tests (aelat.metrics.confidence, aelat.metrics.paired) against independent computations:
statsmodels, SciPy, scikit-learn, brute-force bootstraps, coverage and calibration by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score
from statsmodels.stats.contingency_tables import mcnemar as statsmodels_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from aelat.errors import ConfigError, DataError
from aelat.metrics import confidence
from aelat.metrics.distribution import between_class_variance_share
from aelat.metrics.paired import PointSummary, HeldOutPredictions, compare, summarize_points
from aelat.metrics.structure import matched_accuracy


@pytest.mark.parametrize("successes, n", [(0, 10), (3, 10), (9694, 10000), (450, 450), (17, 360)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_interval_matches_statsmodels(successes, n, level):
    expected = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    assert confidence.wilson_interval(successes, n, level) == pytest.approx(expected, abs=1e-12)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(DataError, match="0 <= successes"):
        confidence.wilson_interval(11, 10)
    with pytest.raises(ConfigError, match="level"):
        confidence.wilson_interval(1, 10, level=1.5)


def _paired_correct(rng, n, p_both, p_a_only, p_b_only):
    """Correctness of two classifiers on n points, drawn from the four cells' probabilities."""
    cell = rng.choice(4, size=n, p=[p_both, p_a_only, p_b_only, 1 - p_both - p_a_only - p_b_only])
    return np.isin(cell, (0, 1)), np.isin(cell, (0, 2))


@pytest.mark.parametrize("a_only, b_only", [(0, 0), (5, 1), (40, 55), (12, 12), (0, 9)])
def test_mcnemar_exact_matches_statsmodels_and_mid_p_its_definition(a_only, b_only):
    a = np.array([True] * 30 + [True] * a_only + [False] * b_only + [False] * 20)
    b = np.array([True] * 30 + [False] * a_only + [True] * b_only + [False] * 20)
    result = confidence.mcnemar(a, b)
    assert (result["a_only"], result["b_only"]) == (a_only, b_only)
    table = [[30, a_only], [b_only, 20]]
    assert result["p_exact"] == pytest.approx(statsmodels_mcnemar(table, exact=True).pvalue, abs=1e-12)
    # mid-p by enumeration (Fagerland et al. 2013): 2 * (P(X < x) + P(X = x) / 2) for x = min, capped at 1
    n, x = a_only + b_only, min(a_only, b_only)
    pmf = stats.binom.pmf(np.arange(n + 1), n, 0.5)
    mid = min(1.0, 2 * (pmf[:x].sum() + pmf[x] / 2)) if n else 1.0
    assert result["p_mid"] == pytest.approx(mid, abs=1e-12)
    assert result["p_mid"] <= result["p_exact"]


def test_paired_accuracy_interval_covers_the_true_difference_at_its_level():
    """Newcombe's interval by simulation: 95% coverage (within 3 standard errors of 1000 draws)."""
    rng = np.random.default_rng(0)
    for cells in ((0.80, 0.06, 0.03), (0.90, 0.02, 0.02), (0.5, 0.2, 0.1)):
        truth = cells[1] - cells[2]
        covered = 0
        for _ in range(1000):
            a, b = _paired_correct(rng, 150, *cells)
            result = confidence.paired_accuracy_difference(a, b)
            covered += result["ci_low"] <= truth <= result["ci_high"]
        assert covered / 1000 >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / 1000), (cells, covered)


def test_paired_accuracy_interval_agrees_with_a_brute_force_paired_bootstrap():
    rng = np.random.default_rng(1)
    a, b = _paired_correct(rng, 4000, 0.85, 0.05, 0.03)
    result = confidence.paired_accuracy_difference(a, b)
    assert result["difference"] == pytest.approx(a.mean() - b.mean())
    rows = rng.integers(0, len(a), size=(2000, len(a)))
    boot = a[rows].mean(axis=1) - b[rows].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    assert result["ci_low"] == pytest.approx(low, abs=0.002) and result["ci_high"] == pytest.approx(high, abs=0.002)


def test_table_scores_match_scikit_learn_on_the_same_labels():
    rng = np.random.default_rng(2)
    for n_labels, n_clusters in ((3, 3), (4, 6), (5, 2), (1, 3), (2, 1)):
        y = rng.integers(0, n_labels, 300)
        clusters = np.where(rng.random(300) < 0.6, y, rng.integers(0, n_clusters, 300)) % n_clusters
        table = np.zeros((y.max() + 1, clusters.max() + 1))
        np.add.at(table, (y, clusters), 1)
        scores = confidence.table_scores(table)
        assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(y, clusters), abs=1e-12)
        assert scores["ari"] == pytest.approx(adjusted_rand_score(y, clusters), abs=1e-12)
        assert scores["accuracy"] == pytest.approx(matched_accuracy(y, clusters), abs=1e-12)


def test_paired_clustering_replicates_have_the_spread_of_a_brute_force_bootstrap():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 1500)
    fit_a = np.where(rng.random(1500) < 0.7, y, rng.integers(0, 4, 1500))
    fit_b = np.where(rng.random(1500) < 0.6, y, rng.integers(0, 4, 1500))
    replicates_a, replicates_b = confidence.paired_clustering_replicates(y, fit_a, fit_b, n_resamples=600, seed=0)
    brute = []
    for rows in rng.integers(0, len(y), size=(600, len(y))):
        brute.append(normalized_mutual_info_score(y[rows], fit_a[rows]) - normalized_mutual_info_score(y[rows], fit_b[rows]))
    spread = np.std(replicates_a["nmi"] - replicates_b["nmi"], ddof=1)
    # two estimates of one standard deviation from 600 replicates each agree within ~3 x 4%
    assert spread == pytest.approx(np.std(brute, ddof=1), rel=0.15)
    assert np.mean(replicates_a["nmi"]) == pytest.approx(normalized_mutual_info_score(y, fit_a), abs=0.01)


def test_silhouette_replicates_equal_scikit_learn_on_each_resample():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 120)
    Z = rng.normal(size=(120, 5)) + y[:, None]
    replicates = confidence.silhouette_replicates(Z, y, n_resamples=30, seed=7)
    draws = np.concatenate(list(confidence.resamples(120, 30, 7)))
    for b in (0, 13, 29):
        assert replicates[b] == pytest.approx(silhouette_score(Z[draws[b]], y[draws[b]]), abs=1e-9)


def test_variance_share_delta_method_agrees_with_a_brute_force_paired_bootstrap():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 800)
    Z_a = rng.normal(size=(800, 6)) + 0.8 * y[:, None]
    Z_b = Z_a[:, :3] + rng.normal(scale=0.8, size=(800, 3))
    share_a, influence_a = confidence.variance_share_influence(Z_a, y)
    share_b, influence_b = confidence.variance_share_influence(Z_b, y)
    assert share_a == pytest.approx(between_class_variance_share(Z_a, y))
    result = confidence.variance_share_comparison(share_a, influence_a, share_b, influence_b)
    brute = [between_class_variance_share(Z_a[rows], y[rows]) - between_class_variance_share(Z_b[rows], y[rows])
             for rows in rng.integers(0, 800, size=(800, 800))]
    assert result["se"] == pytest.approx(np.std(brute, ddof=1), rel=0.15)
    assert result["difference"] == pytest.approx(share_a - share_b)


def test_bootstrap_comparison_interval_excludes_zero_exactly_when_p_is_below_its_level():
    rng = np.random.default_rng(6)
    for shift in np.linspace(0, 0.05, 21):
        ra = rng.normal(0.5 + shift, 0.01, 200)
        rb = ra - shift + rng.normal(0, 0.01, 200)
        c = confidence.bootstrap_comparison(0.5 + shift, 0.5, ra, rb)
        assert (c["ci_low"] > 0 or c["ci_high"] < 0) == (c["p_value"] < 0.05)


def test_bootstrap_comparison_adds_the_spread_of_several_fits():
    ra, rb = np.linspace(0, 1, 50), np.linspace(0, 1, 50)[::-1]
    one = confidence.bootstrap_comparison(0.6, 0.5, ra, rb)
    several = confidence.bootstrap_comparison(0.6, 0.5, ra, rb, fit_values_a=[0.5, 0.7, 0.6], fit_values_b=[0.5] * 3)
    assert several["se"] ** 2 == pytest.approx(one["se"] ** 2 + np.var([0.5, 0.7, 0.6], ddof=1) / 3)


@pytest.mark.parametrize("p", [[0.01, 0.04, 0.03, 0.005], [0.2, 0.001, 0.5, 0.049, 0.049], [0.9]])
def test_holm_matches_statsmodels(p):
    assert confidence.holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-12)


def test_t_interval_matches_scipy():
    values = [0.12, 0.08, 0.15, 0.11]
    result = confidence.t_interval(values)
    test = stats.ttest_1samp(values, 0)
    ci = test.confidence_interval(0.95)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert result["p_value"] == pytest.approx(test.pvalue)
    assert confidence.t_interval([0.3])["ci_low"] is None


# --------------------------------------------------------------------------- calibration under a null


def _noisy_pair(seed: int):
    """Two representations of the same labelled points: one base plus independent noise of one size."""
    rng = np.random.default_rng(seed)
    n_train, n_test = 400, 300
    y = rng.integers(0, 3, n_train + n_test)
    base = rng.normal(size=(n_train + n_test, 4)) + 1.2 * np.eye(4)[y]
    return y, n_train, base + rng.normal(scale=0.7, size=base.shape), base + rng.normal(scale=0.7, size=base.shape)


def _evidence(Z, y, n_train, seed):
    from sklearn.cluster import KMeans
    from sklearn.neighbors import KNeighborsClassifier

    predicted = KNeighborsClassifier(10).fit(Z[:n_train], y[:n_train]).predict(Z[n_train:])
    # Each fit on its own resample of the points (as aelat's fits on seeded subsamples): the fits' spread
    # then carries the partition's dependence on the data, which resampling fixed clusters cannot see.
    rng = np.random.default_rng(seed)
    fits = np.stack([KMeans(3, n_init=1, random_state=seed * 10 + r).fit(Z[rng.integers(0, len(Z), len(Z))]).predict(Z)
                     for r in range(4)])
    tests = HeldOutPredictions(y[n_train:], {"knn_accuracy_10": predicted})
    points = summarize_points(Z, y, {"kmeans": fits}, silhouette_sample=None, n_resamples=200, seed=seed)
    return tests, points


def test_null_comparisons_are_significant_at_most_at_the_nominal_rate():
    """40 seeded repetitions of two exchangeable noisy copies of one representation: for each metric the
    share of p < 0.05 stays within what a 5% test gives 40 times (the binomial's 99th percentile, 6)."""
    metrics = ("knn_accuracy_10", "kmeans_nmi", "kmeans_accuracy", "silhouette", "between_class_variance_share")
    significant = {metric: 0 for metric in metrics}
    for seed in range(40):
        y, n_train, Z_a, Z_b = _noisy_pair(seed)
        (tests_a, points_a), (tests_b, points_b) = _evidence(Z_a, y, n_train, seed), _evidence(Z_b, y, n_train, seed)
        result = compare(tests_a, tests_b, points_a, points_b, n_resamples=200, seed=seed)
        for metric in metrics:
            significant[metric] += result[metric]["p_value"] < 0.05
            assert (result[metric]["ci_low"] > 0 or result[metric]["ci_high"] < 0) <= (result[metric]["p_value"] < 0.06)
    limit = stats.binom.ppf(0.99, 40, 0.05)
    assert all(count <= limit for count in significant.values()), significant


def test_compare_refuses_different_points():
    y = np.array([0, 1, 0, 1])
    summary = PointSummary(y, {}, 0.0, np.zeros(2), 0.0, np.zeros(4))
    with pytest.raises(DataError, match="same points"):
        compare(HeldOutPredictions(y, {}), HeldOutPredictions(y[::-1], {}), summary, summary)


@pytest.mark.parametrize("n, k, concentration, stray", [(60, 3, 2.0, 0), (300, 4, 2.0, 0), (200, 5, 0.3, 0),
                                                         (500, 10, 2.0, 1)])
def test_balanced_accuracy_against_chance_matches_scikit_learn_and_a_permutation_null(n, k, concentration, stray):
    """The value is scikit-learn's balanced accuracy; the null's mean and spread are those of the votes
    paired with shuffled labels (4,000 shuffles), also with unequal classes and votes for a class the
    test set lacks (``stray``)."""
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(n + k)
    y = rng.choice(k, n, p=rng.dirichlet(np.full(k, concentration)))
    votes = np.where(rng.random(n) < 0.3, y, rng.choice(k + stray, n))
    found = confidence.balanced_accuracy_vs_chance(y, votes)
    present = np.unique(y)

    def balanced(labels):
        return np.mean([np.mean(votes[labels == c] == c) for c in present])

    assert found["balanced_accuracy"] == pytest.approx(balanced(y), abs=1e-12)
    if not stray:
        assert found["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, votes), abs=1e-12)
        assert found["chance"] == pytest.approx(1 / len(present))
    shuffled = np.array([balanced(rng.permutation(y)) for _ in range(4000)])
    assert found["chance"] == pytest.approx(shuffled.mean(), abs=3 * shuffled.std() / np.sqrt(4000))
    assert found["null_se"] == pytest.approx(shuffled.std(), rel=0.06)
    assert found["ci"][0] < found["balanced_accuracy"] < found["ci"][1]


def test_a_small_class_told_apart_is_structure_beyond_chance_where_plain_accuracy_sees_none():
    """95 % of the points in one class, the rest found a third of the time with a few false alarms: plain
    accuracy is within noise of always guessing the big class, the balanced accuracy is far above 1/2."""
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.05).astype(int)
    votes = np.where((y == 1) & (rng.random(2000) < 0.3), 1, 0)
    votes[np.flatnonzero(y == 0)[:40]] = 1  # false alarms
    accuracy = np.mean(votes == y)
    majority = np.mean(y == 0)
    assert stats.binomtest(int(accuracy * 2000), 2000, majority).pvalue > 0.05
    found = confidence.balanced_accuracy_vs_chance(y, votes)
    assert found["balanced_accuracy"] > 0.6 and found["ci"][0] > 0.5 and found["p_value"] < 1e-6
    # votes unrelated to the labels stay within chance
    unrelated = confidence.balanced_accuracy_vs_chance(y, rng.permutation(votes))
    assert unrelated["ci"][0] < 0.5 < unrelated["ci"][1] and unrelated["p_value"] > 0.01
