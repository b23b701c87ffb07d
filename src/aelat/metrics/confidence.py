"""Confidence intervals and paired tests for the numbers aelat compares.

Three kinds of uncertainty, three tools:

* A test accuracy (kNN, linear probe) is a share of n test points classified right: its 95%
  interval is Wilson's score interval (:func:`wilson_interval`, SciPy's ``binomtest``).
* Whether a classifier's votes carry class information at all: its balanced accuracy (the mean of the
  classes' recalls, scikit-learn's) against 1 / the number of classes, which any vote made without
  looking at the point scores on average whatever the class sizes; plain accuracy against the
  commonest class's share misses a small class told apart (:func:`balanced_accuracy_vs_chance`).
* Two representations classify the *same* test points: McNemar's test on the points where exactly
  one of them is right (:func:`mcnemar`, exact binomial and mid-p) and Newcombe's square-and-add
  interval for the difference of the two accuracies (:func:`paired_accuracy_difference`).
* Metrics of the whole point set (clustering NMI/ARI/accuracy, silhouette, between-class variance
  share) are compared by a paired bootstrap over the points: every representation is scored on
  the *same* resampled points (:func:`resamples`, shared draws), so the difference of two
  representations' replicates is a replicate of their difference. The interval is the normal one
  from the replicates' standard error, the p-value its two-sided z-test, so "the interval excludes
  0" and "p < 1 - level" are one statement. For the variance share, a smooth function of means,
  the delta method (:func:`variance_share_influence`) gives the same standard error without
  resampling (checked against a brute-force bootstrap in the tests).

Written by hand where no installed, maintained library does it: the weighted (resampled)
contingency-table scores and silhouette that make the bootstrap affordable at 70,000 points,
Newcombe's interval, Holm's step-down adjustment (statsmodels has it, but is no dependency of
aelat) and McNemar's mid-p value (statsmodels gives the exact one only).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from scipy import stats
from scipy.optimize import linear_sum_assignment
from sklearn.metrics.pairwise import euclidean_distances

from aelat.errors import ConfigError, DataError

__all__ = [
    "balanced_accuracy_vs_chance",
    "bootstrap_comparison",
    "bootstrap_interval",
    "paired_clustering_replicates",
    "holm",
    "mcnemar",
    "paired_accuracy_difference",
    "resamples",
    "silhouette_replicates",
    "silhouette_sample_rows",
    "t_interval",
    "table_scores",
    "variance_share_comparison",
    "variance_share_influence",
    "wilson_interval",
]

# Replicates drawn per block: a block of index rows is (chunk, n) int64, 28 MB at n = 70000.
_CHUNK = 50
# Working memory of the silhouette replicates' blocks of distance rows and class sums.
_BLOCK_BYTES = 64 * 2**20


def _check_level(level: float) -> None:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ConfigError(f"level={level!r} must lie in (0, 1), e.g. 0.95")


def _z(level: float) -> float:
    """The standard normal quantile of a two-sided interval of ``level``."""
    return float(stats.norm.ppf(0.5 + level / 2))


# --------------------------------------------------------------------------- one proportion


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (SciPy's ``binomtest(...).proportion_ci``).

    Parameters
    ----------
    successes : int
        Points classified right, 0 <= successes <= n.
    n : int
        Points classified, >= 1.
    level : float, default=0.95
        Confidence level.

    Returns
    -------
    (float, float)
        Lower and upper bound, within [0, 1].
    """
    _check_level(level)
    n, successes = int(n), int(successes)
    if n < 1 or not 0 <= successes <= n:
        raise DataError(f"a proportion needs 0 <= successes ({successes}) <= n ({n}) and n >= 1")
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


# --------------------------------------------------------------------------- paired accuracies


def _correct_pair(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0:
        raise DataError(f"paired correctness must be two 1-D arrays of one non-zero length; got {a.shape}, {b.shape}")
    return a, b


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float | int]:
    """McNemar's test of equal accuracy for two classifiers of the same points.

    Only the discordant points count: ``a_only`` (A right, B wrong) and ``b_only``. Under equal
    accuracy a_only ~ Binomial(a_only + b_only, 1/2). The exact p-value is SciPy's two-sided
    binomial test; the mid-p value subtracts the probability of the observed count once,
    ``mid_p = 2 P(X <= min) - P(X = min)`` (capped at 1): Fagerland, Lydersen & Laake (2013)
    recommend it, as its size stays close to, and rarely above, the nominal level, where the exact
    test is conservative.

    Parameters
    ----------
    correct_a, correct_b : ndarray of bool, shape (n,)
        Whether each point was classified right by A and by B.

    Returns
    -------
    dict
        ``a_only``, ``b_only`` (int), ``p_exact``, ``p_mid`` (float; 1 when no point is discordant).
    """
    a, b = _correct_pair(correct_a, correct_b)
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = a_only + b_only
    if discordant == 0:
        return {"a_only": 0, "b_only": 0, "p_exact": 1.0, "p_mid": 1.0}
    low = min(a_only, b_only)
    p_exact = float(stats.binomtest(a_only, discordant, 0.5).pvalue)
    p_mid = min(1.0, float(2 * stats.binom.cdf(low, discordant, 0.5) - stats.binom.pmf(low, discordant, 0.5)))
    return {"a_only": a_only, "b_only": b_only, "p_exact": p_exact, "p_mid": p_mid}


def paired_accuracy_difference(correct_a: np.ndarray, correct_b: np.ndarray, level: float = 0.95) -> dict:
    """Accuracy of A minus accuracy of B on the same points: estimate, interval and McNemar test.

    The interval is Newcombe's (1998) square-and-add ("method 10") interval for paired proportions:
    each accuracy's Wilson interval, combined with the correlation of the two estimates (the
    phi coefficient of the paired 2 × 2 table, with Newcombe's continuity correction of
    ``ad - bc``), as in Fagerland, Lydersen & Laake, *Statistical Analysis of Contingency Tables*
    (2017), ch. 8. It keeps its coverage close to nominal even for accuracies near 1.

    Parameters
    ----------
    correct_a, correct_b : ndarray of bool, shape (n,)
        Whether each point was classified right by A and by B.
    level : float, default=0.95
        Confidence level.

    Returns
    -------
    dict
        ``a``, ``b`` (accuracies), ``difference`` (a - b), ``ci_low``, ``ci_high``, ``p_value``
        (McNemar mid-p), ``p_exact``, ``a_only``, ``b_only``, ``n`` and ``test``.
    """
    a, b = _correct_pair(correct_a, correct_b)
    n = len(a)
    both, a_only, b_only = int(np.sum(a & b)), int(np.sum(a & ~b)), int(np.sum(~a & b))
    neither = n - both - a_only - b_only
    p1, p2 = (both + a_only) / n, (both + b_only) / n
    l1, u1 = wilson_interval(both + a_only, n, level)
    l2, u2 = wilson_interval(both + b_only, n, level)
    margins = (both + a_only) * (b_only + neither) * (both + b_only) * (a_only + neither)
    phi = 0.0
    if margins > 0:
        cross = both * neither - a_only * b_only
        # Newcombe's continuity correction: a positive association shrinks by n/2, to no less than 0
        corrected = max(cross - n / 2, 0.0) if cross > 0 else cross
        phi = corrected / np.sqrt(float(margins))
    difference = p1 - p2
    low = difference - np.sqrt(max((p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2), 0.0))
    high = difference + np.sqrt(max((p2 - l2) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1), 0.0))
    test = mcnemar(a, b)
    return {
        "a": p1, "b": p2, "difference": difference, "ci_low": float(max(low, -1.0)), "ci_high": float(min(high, 1.0)),
        "p_value": test["p_mid"], "p_exact": test["p_exact"], "a_only": a_only, "b_only": b_only, "n": n,
        "test": "McNemar mid-p; Newcombe interval",
    }


# --------------------------------------------------------------------------- paired bootstrap


def resamples(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap draws of ``n`` point indices, ``n_resamples`` of them, in blocks of rows.

    The draws depend only on ``(n, n_resamples, seed)``: every representation of the same n points
    scored on them is scored on the same resampled points, which makes replicates paired.

    Yields
    ------
    ndarray of int, shape (block, n)
        One resample per row; the blocks together have ``n_resamples`` rows.
    """
    if n < 2:
        raise DataError(f"a bootstrap needs at least 2 points; got {n}")
    _check_resamples(n_resamples)
    rng = np.random.default_rng([seed, n, n_resamples])
    for start in range(0, n_resamples, _CHUNK):
        yield rng.integers(0, n, size=(min(_CHUNK, n_resamples - start), n))


def _check_resamples(n_resamples: int) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 2:
        raise ConfigError(f"n_resamples={n_resamples!r} must be an integer >= 2")


def _codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.reshape(-1), len(uniques)


def _entropy(counts: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of counts (..., k)."""
    total = counts.sum(axis=-1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)
    return -(p * np.log(p, out=np.zeros(p.shape), where=p > 0)).sum(axis=-1)


def _comb2(x: np.ndarray) -> np.ndarray:
    return x * (x - 1) / 2


def table_scores(tables: np.ndarray) -> dict[str, np.ndarray]:
    """NMI (arithmetic), ARI and matched accuracy of contingency tables (..., classes, clusters).

    The values scikit-learn's ``normalized_mutual_info_score``, ``adjusted_rand_score`` and
    aelat's ``matched_accuracy`` give for the labels the tables count, including their
    conventions for degenerate tables (both partitions a single block: NMI and ARI 1).
    """
    tables = np.asarray(tables, dtype=np.float64)
    n = tables.sum(axis=(-2, -1))
    rows, cols = tables.sum(axis=-1), tables.sum(axis=-2)
    h_rows, h_cols = _entropy(rows), _entropy(cols)
    joint = tables.reshape(*tables.shape[:-2], -1)
    mutual = np.maximum(h_rows + h_cols - _entropy(joint), 0.0)
    mean_h = (h_rows + h_cols) / 2
    nmi = np.where(mean_h > 0, mutual / np.where(mean_h > 0, mean_h, 1), 1.0)
    nmi = np.where((h_rows == 0) & (h_cols == 0), 1.0, np.minimum(nmi, 1.0))
    sum_cells, sum_rows, sum_cols = _comb2(joint).sum(-1), _comb2(rows).sum(-1), _comb2(cols).sum(-1)
    expected = sum_rows * sum_cols / np.maximum(_comb2(n), 1)
    maximum = (sum_rows + sum_cols) / 2
    ari = np.where(maximum - expected != 0, (sum_cells - expected) / np.where(maximum - expected != 0,
                                                                              maximum - expected, 1), 1.0)
    flat = tables.reshape(-1, *tables.shape[-2:])
    matched = np.array([t[linear_sum_assignment(t, maximize=True)].sum() for t in flat]).reshape(n.shape)
    return {"nmi": nmi, "ari": ari, "accuracy": matched / n}


def paired_clustering_replicates(y: np.ndarray, clusters_a: np.ndarray, clusters_b: np.ndarray, *,
                                 n_resamples: int = 200, seed: int = 0) -> tuple[dict, dict]:
    """Paired bootstrap replicates of two clusterings' NMI, ARI and matched accuracy against the labels.

    The clusterings stay fixed (one fit each) and the points are resampled. All three scores
    depend on a clustering only through its contingency table with the labels, so a resample is
    a multinomial draw of n points over the cells (label, cluster in A, cluster in B) with the
    observed shares: the same distribution as drawing n point indices with replacement, at the
    cost of the number of cells instead of n.

    Parameters
    ----------
    y : ndarray of int, shape (n,)
        Labels.
    clusters_a, clusters_b : ndarray of int, shape (n,)
        Two clusterings of the same points.
    n_resamples : int
        Bootstrap replicates.
    seed : int
        Seeds the draws.

    Returns
    -------
    (dict, dict)
        For A and for B: ``nmi``, ``ari``, ``accuracy``, each ndarray (n_resamples,).
    """
    y, clusters_a, clusters_b = np.asarray(y), np.asarray(clusters_a), np.asarray(clusters_b)
    if not (y.ndim == 1 and clusters_a.shape == y.shape == clusters_b.shape):
        raise DataError(f"labels {y.shape} and clusterings {clusters_a.shape}, {clusters_b.shape} must be 1-D of one length")
    _check_resamples(n_resamples)
    label_codes, n_labels = _codes(y)
    codes_a, n_a = _codes(clusters_a)
    codes_b, n_b = _codes(clusters_b)
    joint = np.bincount((label_codes * n_a + codes_a) * n_b + codes_b, minlength=n_labels * n_a * n_b)
    rng = np.random.default_rng([seed, len(y), n_resamples])
    draws = rng.multinomial(len(y), joint / joint.sum(), size=n_resamples).reshape(n_resamples, n_labels, n_a, n_b)
    return table_scores(draws.sum(axis=3)), table_scores(draws.sum(axis=2))


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """How often each of n points is drawn in each row of ``draws`` (rows, n), as float64."""
    offsets = np.arange(len(draws))[:, None] * n
    return np.bincount((draws + offsets).ravel(), minlength=len(draws) * n).reshape(len(draws), n).astype(np.float64)


def silhouette_sample_rows(n: int, sample_size: int | None, seed: int) -> np.ndarray:
    """The rows scikit-learn's ``silhouette_score(..., sample_size, random_state=seed)`` scores."""
    if sample_size is None or sample_size >= n:
        return np.arange(n)
    return np.random.RandomState(seed).permutation(n)[:sample_size]


def silhouette_replicates(Z: np.ndarray, y: np.ndarray, *, n_resamples: int = 500, seed: int = 0) -> np.ndarray:
    """Bootstrap replicates of the mean silhouette of the classes, on the given points.

    Each replicate equals ``silhouette_score(Z[rows], y[rows])`` for that resample's rows (a point
    drawn twice counts as two points at distance 0), computed from the distance rows of the m
    points: per class c and replicate, ``S[j, c] = sum_i w_i D[j, i]`` over the class's points with
    the resample's counts w, so the cost is O(m² · n_resamples) multiply-adds in a few matrix
    products instead of a silhouette per replicate. Memory stays near 64 MiB (blocks of rows).

    Parameters
    ----------
    Z : ndarray, shape (m, d)
        The points (e.g. the silhouette's seeded sample, :func:`silhouette_sample_rows`).
    y : ndarray of int, shape (m,)
        Labels, at least two classes.
    n_resamples : int
        Bootstrap replicates (draws from :func:`resamples` over the m points).
    seed : int
        Seeds the draws.

    Returns
    -------
    ndarray, shape (n_resamples,)
    """
    Z = np.asarray(Z, dtype=np.float64)
    label_codes, n_labels = _codes(np.asarray(y))
    if n_labels < 2:
        raise DataError("the silhouette needs two or more classes")
    m = len(Z)
    weights = np.concatenate([_counts(draws, m) for draws in resamples(m, n_resamples, seed)])  # (B, m)
    members = [np.flatnonzero(label_codes == c) for c in range(n_labels)]
    class_weight = np.stack([weights[:, idx].sum(axis=1) for idx in members])  # (C, B)
    step = max(1, _BLOCK_BYTES // (8 * len(weights) * (n_labels + 2) + 8 * m))
    numerator = np.zeros(len(weights))
    for start in range(0, m, step):
        rows = np.arange(start, min(start + step, m))
        D = euclidean_distances(Z[rows], Z)
        sums = np.stack([D[:, idx] @ weights[:, idx].T for idx in members])  # (C, rows, B)
        own = label_codes[rows]
        own_count = class_weight[own] - 1  # the point's other copies and its class mates
        a = np.divide(sums[own, np.arange(len(rows))], own_count, out=np.zeros(own_count.shape),
                      where=own_count > 0)
        mean_to = np.divide(sums, class_weight[:, None, :], out=np.full(sums.shape, np.inf),
                            where=class_weight[:, None, :] > 0)  # classes a resample lacks: never nearest
        mean_to[own, np.arange(len(rows))] = np.inf
        b = mean_to.min(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (b - a) / np.maximum(a, b)
        s = np.where((own_count > 0) & np.isfinite(s), s, 0.0)  # a class of one point: 0, as scikit-learn
        numerator += (s * weights[:, rows].T).sum(axis=0)
    return numerator / weights.sum(axis=1)


def bootstrap_comparison(a: float, b: float, replicates_a: np.ndarray, replicates_b: np.ndarray, *,
                         fit_values_a: Sequence[float] | None = None, fit_values_b: Sequence[float] | None = None,
                         level: float = 0.95) -> dict:
    """Difference ``a - b`` of two estimates with paired bootstrap replicates: interval and p-value.

    The standard error is that of the replicates' differences. When the estimates are means over
    several random fits (clustering restarts), the fits' own spread is independent of the points
    drawn, so ``var(fit_values) / fits`` of each side is added to the variance; as those variances
    are estimated from a few fits, the interval and test then use Student's t with the
    Welch–Satterthwaite degrees of freedom instead of the normal. The interval is
    ``difference ± q · se`` and the p-value the two-sided test of 0 with the same quantiles, so the
    interval excludes 0 exactly when ``p < 1 - level``.

    Parameters
    ----------
    a, b : float
        The estimates on all points.
    replicates_a, replicates_b : ndarray, shape (n_resamples,)
        Their replicates on the same resamples (:func:`resamples`).
    fit_values_a, fit_values_b : sequence of float, optional
        Each fit's value on all points, when the estimate averages several fits.
    level : float
        Confidence level.

    Returns
    -------
    dict
        ``a``, ``b``, ``difference``, ``se``, ``ci_low``, ``ci_high``, ``p_value``, ``test``.
    """
    _check_level(level)
    ra, rb = np.asarray(replicates_a, dtype=float), np.asarray(replicates_b, dtype=float)
    if ra.shape != rb.shape or ra.ndim != 1 or len(ra) < 2:
        raise DataError(f"paired replicates must be two 1-D arrays of one length >= 2; got {ra.shape}, {rb.shape}")
    parts = [(float(np.var(ra - rb, ddof=1)), len(ra) - 1)]  # (variance, its degrees of freedom)
    for values in (fit_values_a, fit_values_b):
        if values is not None and len(values) > 1:
            parts.append((float(np.var(values, ddof=1)) / len(values), len(values) - 1))
    variance = sum(v for v, _ in parts)
    if len(parts) == 1:
        return _normal_comparison(a, b, np.sqrt(variance), level,
                                  f"paired bootstrap over points ({len(ra)} resamples), normal interval")
    dof = variance**2 / sum(v**2 / df for v, df in parts) if variance > 0 else np.inf
    return _normal_comparison(a, b, np.sqrt(variance), level,
                              f"paired bootstrap over points ({len(ra)} resamples) plus the spread of the fits, "
                              f"t interval ({dof:.1f} df)", dof=dof)


def balanced_accuracy_vs_chance(y_true: np.ndarray, y_pred: np.ndarray, level: float = 0.95) -> dict:
    """Balanced accuracy of ``y_pred`` and its test against chance, 1 / K for the K classes of ``y_true``.

    The null hypothesis is that the votes are unrelated to the labels: every pairing of the test labels
    with the votes is equally likely. Its mean is exactly 1 / K (when every vote names one of the K
    classes) and its variance is exact (each class's hits are hypergeometric, two classes' hits
    covary through the shared points); the p-value is the two-sided normal one from them. Written by
    hand because a permutation test would put a floor of 1 / (permutations + 1) under p, which
    Holm's adjustment over a run's claims turns into "no evidence" whatever the data. The interval
    is the normal one for the mean of the K recalls, each recall's variance taken with one hit and
    one miss added (Agresti-Coull) so that a recall of 0 or 1 still has some spread.

    Returns
    -------
    dict
        ``balanced_accuracy``, ``ci`` ([low, high]), ``chance`` (the null mean: 1 / K, less where votes
        name classes the test set lacks), ``null_se`` (its standard deviation under the null), ``p_value``,
        ``test``.
    """
    _check_level(level)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes, true_codes = np.unique(y_true, return_inverse=True)
    k, n = len(classes), len(y_true)
    vote_codes = np.minimum(np.searchsorted(classes, y_pred), k - 1)
    named = classes[vote_codes] == y_pred  # votes for a class with test points (the others never hit)
    true_counts = np.bincount(true_codes, minlength=k).astype(float)
    vote_counts = np.bincount(vote_codes[named], minlength=k).astype(float)
    hits = np.bincount(true_codes[named & (vote_codes == true_codes)], minlength=k).astype(float)
    value = float(np.mean(hits / true_counts))
    chance = float(vote_counts.sum() / n / k)  # the null mean: 1 / K when every vote names a test class
    share = vote_counts / n
    covariance = np.outer(true_counts * vote_counts, true_counts * vote_counts) / (n**2 * max(n - 1, 1))
    np.fill_diagonal(covariance, true_counts * share * (1 - share) * (n - true_counts) / max(n - 1, 1))
    null_se = float(np.sqrt(max((covariance / np.outer(true_counts, true_counts)).sum(), 0.0))) / k
    if null_se > 0:
        p_value = float(2 * stats.norm.sf(abs(value - chance) / null_se))
    else:
        p_value = 1.0 if value == chance else 0.0
    smoothed = (hits + 1) / (true_counts + 2)
    spread = _z(level) * float(np.sqrt(np.sum(smoothed * (1 - smoothed) / true_counts))) / k
    return {"balanced_accuracy": value, "ci": [max(0.0, value - spread), min(1.0, value + spread)],
            "chance": chance, "null_se": null_se, "p_value": p_value,
            "test": "balanced accuracy against 1 / the number of classes: two-sided normal test with the exact "
                    "variance of votes unrelated to the labels"}


def bootstrap_interval(estimate: float, replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Normal interval ``estimate ± z · sd(replicates)`` of one estimate from its bootstrap replicates."""
    _check_level(level)
    spread = _z(level) * float(np.std(np.asarray(replicates, dtype=float), ddof=1))
    return float(estimate - spread), float(estimate + spread)


def _normal_comparison(a: float, b: float, se: float, level: float, test: str, dof: float = np.inf) -> dict:
    """The comparison entry for a difference with standard error ``se`` (Student's t with ``dof``
    degrees of freedom; the normal for infinitely many)."""
    difference = float(a - b)
    law = stats.norm if np.isinf(dof) else stats.t(dof)
    z = float(law.ppf(0.5 + level / 2))
    if se > 0:
        p_value = float(2 * law.sf(abs(difference) / se))
    else:
        p_value = 1.0 if difference == 0 else 0.0
    return {"a": float(a), "b": float(b), "difference": difference, "se": float(se),
            "ci_low": difference - z * se, "ci_high": difference + z * se, "p_value": p_value, "test": test}


# --------------------------------------------------------------------------- variance share


def variance_share_influence(Z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The between-class variance share and each point's influence on it (delta method).

    The share is ``R = 1 - W / T`` with ``W = mean_i |z_i - mu_(y_i)|²`` and
    ``T = mean_i |z_i - mu|²``. Both are means of per-point terms w_i, t_i whose derivatives in the
    means vanish at the means, so to first order ``R`` moves like the mean of the influence values
    ``(W t_i - T w_i) / T²``; the variance of R is var(influence) / n, and for two representations
    of the same points that of the difference is var(influence_A - influence_B) / n.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
    y : ndarray of int, shape (n,)

    Returns
    -------
    (float, ndarray of shape (n,))
        The share and the influence values (mean 0).
    """
    Z = np.asarray(Z)
    label_codes, n_labels = _codes(np.asarray(y))
    n = len(Z)
    mean = Z.mean(axis=0, dtype=np.float64)
    t = np.empty(n)
    w = np.empty(n)
    for c in range(n_labels):
        idx = np.flatnonzero(label_codes == c)
        block = Z[idx].astype(np.float64)
        w[idx] = ((block - block.mean(axis=0)) ** 2).sum(axis=1)
        t[idx] = ((block - mean) ** 2).sum(axis=1)
    total, within = t.mean(), w.mean()
    if total == 0:
        raise DataError("Z is constant: its total variance is 0, so variance shares are undefined")
    return float(1 - within / total), (within * t - total * w) / total**2


def variance_share_comparison(share_a: float, influence_a: np.ndarray, share_b: float, influence_b: np.ndarray,
                              level: float = 0.95) -> dict:
    """Difference of two variance shares of the same points, with its delta-method interval and p-value."""
    _check_level(level)
    ia, ib = np.asarray(influence_a, dtype=float), np.asarray(influence_b, dtype=float)
    if ia.shape != ib.shape or ia.ndim != 1:
        raise DataError(f"influence values must be two 1-D arrays of one length; got {ia.shape}, {ib.shape}")
    se = float(np.std(ia - ib, ddof=1) / np.sqrt(len(ia)))
    return _normal_comparison(share_a, share_b, se, level, "paired delta method over points, normal interval")


# --------------------------------------------------------------------------- many comparisons, many seeds


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: rejecting where adjusted p < alpha keeps the family-wise
    error rate of all the comparisons at alpha, whatever their dependence."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise DataError(f"p_values must be 1-D; got shape {p.shape}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def t_interval(values: Sequence[float], level: float = 0.95) -> dict:
    """Mean of independent values (e.g. one per seed) with Student's t interval.

    Returns
    -------
    dict
        ``n``, ``mean``, ``std`` (ddof=1), ``ci_low``, ``ci_high``, and ``p_value`` of the two-sided
        one-sample t-test of mean 0 (for differences); the interval and p are None below 2 values
        and the interval is the mean itself when all values agree.
    """
    _check_level(level)
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    out = {"n": int(len(x)), "mean": float(x.mean()) if len(x) else None, "std": None, "ci_low": None,
           "ci_high": None, "p_value": None}
    if len(x) < 2:
        return out
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * std / np.sqrt(len(x)))
    if std > 0:
        p_value = float(2 * stats.t.sf(abs(out["mean"]) / (std / np.sqrt(len(x))), len(x) - 1))
    else:
        p_value = 1.0 if out["mean"] == 0 else 0.0
    return out | {"std": std, "ci_low": out["mean"] - half, "ci_high": out["mean"] + half, "p_value": p_value}
