"""The distribution Q = g#P of a representation: class geometry, Gaussianity, dimension, sliced W2.

Every function takes a representation ``Z`` of shape (n, d) (any real dtype) and, where classes
matter, integer labels ``y`` of shape (n,). Methods whose cost grows faster than n·d work on seeded
subsamples whose sizes are arguments, so a 70000 × 784 input stays within a few seconds and no
n × n matrix is ever formed. The same ``seed`` gives identical results; each function seeds its own
generator, so :func:`distribution_metrics` returns exactly what the individual functions return.

Written by hand (no installed, maintained library has them): TwoNN and the Levina–Bickel estimator
(scikit-dimension and DADApy are not dependencies), the exact 1-D Wasserstein-2 distance between
empirical distributions of different sizes (``scipy.stats.wasserstein_distance`` is W1 only) and its
sliced version, and the MMD² statistic. Neighbour search, pairwise distances, the permutation
test and the pivoted Cholesky factorisation come from scikit-learn and SciPy.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.linalg import lapack, solve_triangular
from scipy.stats import permutation_test
from sklearn.metrics import euclidean_distances, pairwise_distances
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from aelat.errors import ConfigError, DataError
from aelat.metrics.checks import check_labels, check_points

logger = logging.getLogger(__name__)

# Conditional variances below this fraction of the largest variance count as zero when whitening:
# far above the float64 round-off of a covariance (~d·eps relative), far below any real direction.
RANK_RTOL = 1e-9
# Kernel bandwidth of the Gaussianity MMD as a fraction of the median pairwise distance (see
# gaussianity_mmd for why a quarter rather than the plain median).
BANDWIDTH_FRACTION = 0.25


# --------------------------------------------------------------------------- input checks


def _check_Z(Z: np.ndarray, name: str = "Z") -> np.ndarray:
    """Return ``Z`` as a finite 2-D float array of at least 2 points."""
    return check_points(Z, name, min_points=2)


def _check_Z_y(Z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (Z, y, classes) after checking labels match the points and give at least two classes."""
    Z = _check_Z(Z)
    y = check_labels(y, len(Z))
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"y has dtype {y.dtype}; expected integer class labels")
    classes = np.unique(y)
    if len(classes) < 2:
        raise DataError(f"y holds {len(classes)} class; class metrics need at least 2")
    return Z, y, classes


def _check_count(value: int, name: str, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name}={value!r} is invalid; it must be an integer >= {minimum}")


def _subsample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of a uniform random subset of ``min(size, n)`` of ``range(n)``, in random order."""
    return rng.permutation(n)[:size]


# --------------------------------------------------------------------------- 1. class geometry


def class_moments(Z: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class and pooled means and covariances.

    Covariances are the maximum-likelihood ones (divided by the count, not count − 1), so that
    ``covariance = sum_c w_c (covariances[c] + (means[c] - mean)(means[c] - mean)^T)`` holds exactly
    with ``w_c = counts[c] / n``: total = within + between.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels.

    Returns
    -------
    dict
        ``classes`` (k,) sorted labels; ``counts`` (k,); ``means`` (k, d); ``covariances`` (k, d, d);
        ``mean`` (d,) and ``covariance`` (d, d) of the pooled data. All float64. Costs O(n·d²),
        about half a second at 60000 × 784 on 2 cores.
    """
    Z, y, classes = _check_Z_y(Z, y)
    members = [np.flatnonzero(y == c) for c in classes]
    counts, means, covs, mean, covariance = _moments(Z, members)
    return {"classes": classes, "counts": counts, "means": means, "covariances": covs,
            "mean": mean, "covariance": covariance}


def _mean_cov(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and maximum-likelihood covariance (d, d) of the rows of ``M``, in float64."""
    M = M.astype(np.float64)
    mean = M.mean(axis=0)
    M -= mean
    return mean, M.T @ M / len(M)


def _moments(Z: np.ndarray, members: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Counts, means, covariances of ``Z[members[j]]`` for each j, and mean, covariance of their union.

    The union's moments follow from the parts (total = within + between), one class in memory at
    a time.
    """
    counts = np.array([len(m) for m in members])
    parts = [_mean_cov(Z[m]) for m in members]
    means = np.array([p[0] for p in parts])
    covs = np.array([p[1] for p in parts])
    w = counts / counts.sum()
    mean = w @ means
    offsets = means - mean
    covariance = np.einsum("k,kij->ij", w, covs) + (offsets * w[:, None]).T @ offsets
    return counts, means, covs, mean, covariance


def _variance_traces(Z: np.ndarray, y: np.ndarray, classes: np.ndarray) -> tuple[float, float]:
    """(trace of S_within, trace of S_between) in O(n·d) memory-light passes, one class at a time."""
    n = Z.shape[0]
    means, within = [], 0.0
    for c in classes:
        Zc = Z[y == c]
        means.append(Zc.mean(axis=0, dtype=np.float64))
        within += Zc.var(axis=0, dtype=np.float64).sum() * len(Zc) / n
    w = np.array([np.count_nonzero(y == c) for c in classes]) / n
    means = np.array(means)
    between = float(w @ ((means - w @ means) ** 2).sum(axis=1))
    return float(within), between


def between_class_variance_share(Z: np.ndarray, y: np.ndarray) -> float:
    """Share of the total variance that lies between classes.

    ``trace(S_between) / trace(S_total) = 1 - trace(S_within) / trace(S_total)`` with
    ``S_between = sum_c w_c (mu_c - mu)(mu_c - mu)^T``, ``S_within = sum_c w_c S_c`` and ``w_c`` the
    class frequencies. Computed from per-class means and variances in O(n·d), without covariances.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels.

    Returns
    -------
    float
        In [0, 1]: 0 when all class means coincide, 1 when every class is a single point. Invariant
        to translation, rotation and scale, so comparable across representations of any dimension.
    """
    Z, y, classes = _check_Z_y(Z, y)
    within, between = _variance_traces(Z, y, classes)
    if within + between == 0:
        raise DataError("Z is constant: its total variance is 0, so variance shares are undefined")
    return between / (within + between)


def pairwise_distance_ratio(Z: np.ndarray, y: np.ndarray, *, n_samples: int = 1000,
                            seed: int = 0) -> dict[str, float]:
    """Mean between-class over mean within-class pairwise Euclidean distance, on a seeded sample.

    Draw ``min(n_samples, n)`` points uniformly without replacement. Over all unordered pairs
    {i, j} of distinct sampled points, ``mean_within`` is the mean of ``||z_i - z_j||`` over pairs
    with ``y_i == y_j`` and ``mean_between`` over pairs with ``y_i != y_j``; each pair counts once,
    so classes weigh in proportion to their number of pairs.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels.
    n_samples : int
        Sample size; the cost is O(n_samples² · d) time and O(n_samples²) memory.
    seed : int
        Seeds the sample.

    Returns
    -------
    dict
        ``mean_within`` and ``mean_between`` (in the units of Z) and ``ratio`` = between / within:
        1 when labels are unrelated to position, larger when classes are compact and apart.
        The ratio is scale-free and comparable across representations.
    """
    Z, y, _ = _check_Z_y(Z, y)
    _check_count(n_samples, "n_samples", 2)
    idx = _subsample(len(Z), n_samples, np.random.default_rng(seed))
    D = pairwise_distances(Z[idx].astype(np.float64))
    same = y[idx][:, None] == y[idx][None, :]
    n_same_pairs = same.sum() - len(idx)  # the diagonal is "same" but is no pair
    if n_same_pairs == 0 or same.all():
        raise DataError(f"the sample of {len(idx)} points lacks within- or between-class pairs; "
                        "raise n_samples")
    within = float(D[same].sum() / n_same_pairs)
    between = float(D[~same].mean())
    return {"mean_within": within, "mean_between": between, "ratio": between / within}


# --------------------------------------------------------------------------- 2. Gaussianity


def _whitened(T: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, int]:
    """Points ``T`` (n, d) whitened by ``mean`` and ``cov``: (n, r) coordinates and the rank r.

    A pivoted Cholesky factorisation ``P^T cov P = L L^T`` stops at the numerical rank r, so a
    singular covariance (constant pixels) is handled: if y ~ N(mean, cov) then
    ``L11^-1 (y - mean)[pivots]`` ~ N(0, I_r), the Gaussian with that mean and covariance in these
    coordinates. It differs from PCA whitening by a rotation, which neither N(0, I_r) nor the
    isotropic kernel can tell, and costs d³/3 instead of an eigendecomposition.
    """
    top = cov.diagonal().max()
    if top <= 0:
        raise DataError("the points are all identical; Gaussianity needs some variance")
    # Multithreaded OpenBLAS stalls for seconds on these mid-sized factorisations when other
    # thread pools (scikit-learn's OpenMP, NumPy's own OpenBLAS) are spinning; one thread is fast.
    with threadpool_limits(limits=1, user_api="blas"):
        L, piv, rank, _ = lapack.dpstrf(cov, tol=RANK_RTOL * top, lower=1)
        pivots = piv[:rank] - 1  # LAPACK is 1-based
        centred = T[:, pivots].astype(np.float64) - mean[pivots]
        W = solve_triangular(L[:rank, :rank], centred.T, lower=True, check_finite=False)
    return W.T, int(rank)


def _mmd2_from_indicators(K: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for each row of the 0/1 indicator ``A`` (batch, 2n) marking one half of ``K``."""
    n = A.shape[-1] // 2
    KA = A @ K
    sxx = (KA * A).sum(axis=-1)
    sxy = KA.sum(axis=-1) - sxx
    syy = K.sum() - sxx - 2 * sxy
    # the kernel's diagonal is exp(0) = 1: n self-pairs drop out of each within-sample sum
    return (sxx - n) / (n * (n - 1)) + (syy - n) / (n * (n - 1)) - 2 * sxy / n**2


def _mmd_test(T: np.ndarray, mean: np.ndarray, cov: np.ndarray, rng: np.random.Generator,
              n_permutations: int) -> dict[str, float | int]:
    """MMD² test of the points ``T`` against as many draws from N(mean, cov); see gaussianity_mmd."""
    n = len(T)
    if n < 2:
        raise DataError(f"a distribution with {n} point(s) cannot be tested; need at least 2")
    w_data, rank = _whitened(T, mean, cov)
    w_ref = rng.standard_normal((n, rank))
    D2 = euclidean_distances(np.vstack([w_data, w_ref]), squared=True)
    h2 = (BANDWIDTH_FRACTION**2) * np.median(D2[np.triu_indices(2 * n, k=1)])
    K = np.exp(-D2 / (2 * h2))

    def statistic(ix, iy, axis):
        # permutation_test permutes the indices; the kernel matrix is computed once
        A = np.zeros(ix.shape[:-1] + (2 * n,))
        np.put_along_axis(A, ix.astype(np.intp), 1.0, axis=-1)
        return _mmd2_from_indicators(K, A)

    # random_state, not rng: the keyword every SciPy >= 1.10 (the declared floor) accepts
    test = permutation_test((np.arange(n), np.arange(n, 2 * n)), statistic, vectorized=True,
                            n_resamples=n_permutations, alternative="greater", random_state=rng)
    # E k(Y, Y') for Y, Y' ~ N(0, I_r): the squared norm of the Gaussian's kernel mean embedding
    gaussian_norm2 = (h2 / (h2 + 2)) ** (rank / 2)
    return {"mmd2": float(test.statistic) / gaussian_norm2, "p_value": float(test.pvalue),
            "rank": rank, "n_samples": n}


def _check_gaussianity_args(n_samples: int, n_moments: int, n_permutations: int) -> None:
    _check_count(n_samples, "n_samples", 2)
    _check_count(n_moments, "n_moments", 2)
    _check_count(n_permutations, "n_permutations", 1)


def gaussianity_mmd(X: np.ndarray, *, n_samples: int = 500, n_moments: int = 6000,
                    n_permutations: int = 200, seed: int = 0) -> dict[str, float | int]:
    """How far a distribution is from the Gaussian with its own mean and covariance (MMD² test).

    1. Draw a seeded set M of ``m = min(n_moments, n)`` points of ``X``; its mean and covariance
       define "the Gaussian with the same mean and covariance". Whiten by them (pivoted Cholesky:
       a singular covariance, e.g. from constant border pixels, is handled by keeping its
       r = rank non-degenerate directions), so that Gaussian becomes N(0, I_r).
    2. Compare ``min(n_samples, m)`` points of M with as many draws from N(0, I_r) by the unbiased
       MMD² with a Gaussian kernel ``exp(-|u - v|² / (2 h²))``, and get a p-value from
       ``n_permutations`` label permutations (``scipy.stats.permutation_test``).

    Comparability across dimensions (a 2-D map against 784 raw pixels) comes from three choices.
    Whitening makes the statistic affine-invariant, like Gaussianity itself: location, scale and
    correlations drop out, only shape is left. The bandwidth ``h`` is a quarter of the median
    pairwise distance of the pooled 2·n_samples points: it follows the typical whitened distance
    (≈ sqrt(2r)); in 2–10 dimensions it is close to the Henze–Zirkler smoothing for 500 points,
    and it kept more power against moment-matched departures (two-cluster mixtures, cubes, heavy
    tails) than the plain median, which after whitening sees little beyond the matched first two
    moments. Finally MMD² is divided by E k(Y, Y') for Y, Y' ~ N(0, I_r), the squared norm of the
    Gaussian's kernel mean embedding: it depends on r (≈ 0.08 in 2-D, falling towards
    e^-8 ≈ 3e-4 in high dimension at this bandwidth), and would make raw values incomparable.

    Limits: the null hypothesis is that M, as an empirical distribution, looks like its Gaussian.
    When r is not small compared with m (raw MNIST pixels per class: r ≈ 550 of m ≈ 6000) the
    whitened points of M are more regular than Gaussian draws, so the test is conservative
    (p-values too large, MMD² a little below 0 for Gaussian data); a "not Gaussian" verdict then
    still stands. Power falls with r: a given departure is harder to see in high dimension (two
    unit Gaussians 6 standard deviations apart along one axis of 16 go unseen at 500 points).

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Points of one distribution (a class, or the pooled data).
    n_samples : int
        Points per side in the MMD; the kernel matrix is (2·n_samples)².
    n_moments : int
        Size of M; cost O(n_moments · d²). Keep it well above the rank.
    n_permutations : int
        Permutations for the p-value.
    seed : int
        Seeds every draw.

    Returns
    -------
    dict
        ``mmd2``: unbiased MMD² relative to the Gaussian's embedding norm, i.e.
        |mu_P - mu_G|² / |mu_G|² in the kernel's feature space. ≈ 0 with a large ``p_value``:
        indistinguishable from its Gaussian at this sample size (Gaussian data at 500 points:
        |mmd2| < 0.05, standard deviation 0.01–0.02 in 2 to 64 dimensions). Clearly positive with
        ``p_value`` at its floor 1/(n_permutations + 1): not Gaussian, and the larger the further;
        at 500 points a uniform square or cube gives ≈ 0.1, a 16-D cube ≈ 0.05, two unit
        Gaussians 6 standard deviations apart ≈ 0.4, Student t(3) in 5-D ≈ 0.6, raw MNIST pixels
        10 to 1000.
        Unbounded above: the ratio grows when the data are much more clustered than a Gaussian.
        ``p_value``: (1 + #{permuted MMD² ≥ observed}) / (1 + n_permutations).
        ``rank``: r, the dimension the comparison ran in. ``n_samples``: points per side used.
    """
    X = _check_Z(X, "X")
    _check_gaussianity_args(n_samples, n_moments, n_permutations)
    rng = np.random.default_rng(seed)
    M = X[_subsample(len(X), n_moments, rng)]
    mean, cov = _mean_cov(M)
    # M is in random order, so its first rows are a uniform sample of it
    return _mmd_test(M[:n_samples], mean, cov, rng, n_permutations)


def class_gaussianity(Z: np.ndarray, y: np.ndarray, *, n_samples: int = 500, n_moments: int = 6000,
                      n_permutations: int = 200, seed: int = 0) -> dict:
    """:func:`gaussianity_mmd` for each class-conditional distribution and for the pooled one.

    Each class c draws its set M_c of ``min(n_moments, n_c)`` points; the pooled distribution is
    the union of the M_c (all the data when no class exceeds ``n_moments``), with its mean and
    covariance obtained from the class moments, so the covariances cost O(n·d²) once.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels.
    n_samples, n_moments, n_permutations : int
        As in :func:`gaussianity_mmd`, for each distribution.
    seed : int
        Seeds the sets M_c and the pooled sample; the pooled test then draws from the generator
        seeded ``[seed, 0]``, the j-th class from ``[seed, j + 1]``.

    Returns
    -------
    dict
        ``pooled``: the dict of :func:`gaussianity_mmd`; ``per_class``: label -> that dict.
    """
    Z, y, classes = _check_Z_y(Z, y)
    _check_gaussianity_args(n_samples, n_moments, n_permutations)
    rng = np.random.default_rng(seed)
    # each M_c is in random order, so its first rows are a uniform sample of it
    members = [rng.permutation(np.flatnonzero(y == c))[:n_moments] for c in classes]
    _, means, covs, mean, cov = _moments(Z, members)
    union = np.concatenate(members)
    pooled = Z[union[_subsample(len(union), n_samples, rng)]]
    return {
        "pooled": _mmd_test(pooled, mean, cov, np.random.default_rng([seed, 0]), n_permutations),
        "per_class": {
            int(c): _mmd_test(Z[members[j][:n_samples]], means[j], covs[j],
                                 np.random.default_rng([seed, j + 1]), n_permutations)
            for j, c in enumerate(classes)
        },
    }


# --------------------------------------------------------------------------- 3. intrinsic dimension


def _neighbour_distances(X: np.ndarray, k: int) -> np.ndarray:
    """Distances (m, k) from each point to its k nearest other points, sorted, all positive.

    Duplicate points are merged first, since a zero distance makes every log-ratio infinite;
    points whose nearest distance still rounds to 0 (near-duplicates) are dropped.
    """
    X = np.unique(X.astype(np.float64), axis=0)
    if len(X) < 3:
        raise DataError(f"only {len(X)} distinct point(s); intrinsic dimension needs at least 3 "
                        "(raise n_samples if a class is this small in the sample)")
    if k > len(X) - 1:
        logger.warning("k=%d exceeds the %d distinct points - 1; using k=%d", k, len(X), len(X) - 1)
        k = len(X) - 1
    # centring keeps the |x|² + |y|² - 2x·y expansion of the distances accurate
    X -= X.mean(axis=0)
    dist, _ = NearestNeighbors(n_neighbors=k).fit(X).kneighbors()
    return dist[dist[:, 0] > 0]


def _twonn(dist: np.ndarray, discard_fraction: float) -> float:
    """TwoNN estimate from the first two neighbour distances ``dist`` (m, >= 2)."""
    mu = np.sort(dist[:, 1] / dist[:, 0])
    n_keep = int(len(mu) * (1 - discard_fraction))
    x = np.log(mu[:n_keep])
    # empirical CDF F(mu_(i)) = i / N; the law is F(mu) = 1 - mu^-d, so -log(1 - F) = d log(mu)
    y = -np.log1p(-np.arange(1, n_keep + 1) / len(mu))
    return float(x @ y / (x @ x))


def _levina_bickel(dist: np.ndarray) -> float:
    """Levina–Bickel estimate, inverse estimates averaged, from neighbour distances (m, k)."""
    log_t = np.log(dist)
    inverse = log_t[:, -1] - log_t[:, :-1].mean(axis=1)
    return float(1 / inverse.mean())


def _check_discard_fraction(discard_fraction: float) -> None:
    # 0 would put F_emp = 1 into the fit, and -log(1 - 1) is infinite
    if not 0 < discard_fraction < 1:
        raise ConfigError(f"discard_fraction={discard_fraction!r} is invalid; it must lie in (0, 1)")


def twonn_dimension(X: np.ndarray, *, discard_fraction: float = 0.1, n_samples: int = 3000,
                    seed: int = 0) -> float:
    """TwoNN intrinsic dimension (Facco, d'Errico, Rodriguez & Laio 2017, Sci. Rep. 7:12140).

    With r1, r2 the distances to the first and second neighbour, mu = r2/r1 follows the Pareto law
    F(mu) = 1 - mu^-d on a locally uniform d-dimensional manifold. Sort mu, drop the largest
    ``discard_fraction`` (noise and curvature inflate them), and fit -log(1 - F_emp) = d · log(mu)
    through the origin by least squares, F_emp(mu_(i)) = i/N.

    Parameters
    ----------
    X : ndarray, shape (n, D)
        Points.
    discard_fraction : float
        Share of the largest ratios left out of the fit, in (0, 1); 0.1 as in the paper.
    n_samples : int
        Seeded subsample size (cost O(n_samples² · D)); duplicates are merged before the fit.
    seed : int
        Seeds the subsample.

    Returns
    -------
    float
        Estimated dimension: the number of directions the data locally spread in, at the scale
        of the nearest-neighbour distances of this sample size.
    """
    X = _check_Z(X, "X")
    _check_discard_fraction(discard_fraction)
    _check_count(n_samples, "n_samples", 3)
    sample = X[_subsample(len(X), n_samples, np.random.default_rng(seed))]
    return _twonn(_neighbour_distances(sample, 2), discard_fraction)


def levina_bickel_dimension(X: np.ndarray, *, k: int = 20, n_samples: int = 3000,
                            seed: int = 0) -> float:
    """Levina–Bickel MLE of intrinsic dimension with the MacKay–Ghahramani correction.

    For each point with neighbour distances T_1 ≤ … ≤ T_k, the inverse dimension is estimated by
    (1/(k-1)) · sum_{j<k} log(T_k / T_j) (Levina & Bickel 2004); following MacKay & Ghahramani
    (2005) these inverse estimates, not the per-point dimensions, are averaged over points, and
    the dimension is the reciprocal of that mean.

    Parameters
    ----------
    X : ndarray, shape (n, D)
        Points.
    k : int
        Neighbours per point (>= 2); larger k looks at a coarser scale.
    n_samples : int
        Seeded subsample size (cost O(n_samples² · D)); duplicates are merged before the fit.
    seed : int
        Seeds the subsample.

    Returns
    -------
    float
        Estimated dimension at the scale of the k-th neighbour distance.
    """
    X = _check_Z(X, "X")
    _check_count(k, "k", 2)
    _check_count(n_samples, "n_samples", 3)
    sample = X[_subsample(len(X), n_samples, np.random.default_rng(seed))]
    return _levina_bickel(_neighbour_distances(sample, k))


def intrinsic_dimension(Z: np.ndarray, y: np.ndarray, *, k: int = 20, discard_fraction: float = 0.1,
                        n_samples: int = 3000, seed: int = 0) -> dict:
    """TwoNN and Levina–Bickel dimensions of the pooled data and of each class.

    One seeded sample of ``min(n_samples, n)`` points is drawn; the pooled estimates use all of it
    and each class the sample's members of that class. Every class is then sampled at the same
    density as in the pooled sample, so per-class and pooled estimates look at comparable
    neighbourhood scales (and the per-class searches add little cost).

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels.
    k : int
        Neighbours for the Levina–Bickel estimate (clamped, with a warning, for tiny classes).
    discard_fraction : float
        TwoNN's share of discarded largest ratios.
    n_samples : int
        Size of the pooled sample.
    seed : int
        Seeds the sample.

    Returns
    -------
    dict
        ``pooled``: {``twonn``, ``mle``}; ``per_class``: label -> {``twonn``, ``mle``}.
    """
    Z, y, classes = _check_Z_y(Z, y)
    _check_count(k, "k", 2)
    _check_discard_fraction(discard_fraction)
    _check_count(n_samples, "n_samples", 3)
    idx = _subsample(len(Z), n_samples, np.random.default_rng(seed))
    sample, labels = Z[idx], y[idx]

    def estimates(points):
        dist = _neighbour_distances(points, k)
        return {"twonn": _twonn(dist[:, :2], discard_fraction), "mle": _levina_bickel(dist)}

    return {"pooled": estimates(sample),
            "per_class": {int(c): estimates(sample[labels == c]) for c in classes}}


# --------------------------------------------------------------------------- 4. sliced Wasserstein


def random_directions(d: int, n_directions: int, seed: int = 0) -> np.ndarray:
    """Seeded directions drawn uniformly on the unit sphere S^(d-1).

    Returns
    -------
    ndarray, shape (n_directions, d)
        Unit rows (normalised standard normal vectors).
    """
    _check_count(d, "d", 1)
    _check_count(n_directions, "n_directions", 1)
    theta = np.random.default_rng(seed).standard_normal((n_directions, d))
    return theta / np.linalg.norm(theta, axis=1, keepdims=True)


def _w2_squared_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared W2 between the columns of ``a`` (n, L) and ``b`` (m, L), each sorted along axis 0.

    W2² = ∫_0^1 (F⁻¹(t) - G⁻¹(t))² dt with step quantile functions: both are constant between
    consecutive points of {i/n} ∪ {j/m}, so the integral is an exact finite sum.
    """
    n, m = len(a), len(b)
    t = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    width = np.diff(t, prepend=0.0)
    mid = t - width / 2  # a midpoint avoids asking which side of a breakpoint round-off fell on
    ia = np.minimum((mid * n).astype(np.intp), n - 1)
    ib = np.minimum((mid * m).astype(np.intp), m - 1)
    return width @ (a[ia] - b[ib]) ** 2


def wasserstein2_1d(u: np.ndarray, v: np.ndarray) -> float | np.ndarray:
    """Exact Wasserstein-2 distance between two 1-D empirical distributions (uniform weights).

    Parameters
    ----------
    u : ndarray, shape (n,) or (n, L)
        Sample of the first distribution (or L of them, one per column).
    v : ndarray, shape (m,) or (m, L)
        Sample of the second; m may differ from n.

    Returns
    -------
    float or ndarray, shape (L,)
        ``sqrt(∫_0^1 (F_u⁻¹(t) - F_v⁻¹(t))² dt)``, in the units of the data.
    """
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    w2 = np.sqrt(_w2_squared_sorted(np.sort(u, axis=0), np.sort(v, axis=0)))
    return float(w2) if w2.ndim == 0 else w2


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """Sliced Wasserstein-2 distance, averaged over the given directions.

    ``SW2(a, b) = sqrt(mean_theta W2²(theta·a, theta·b))``.

    Parameters
    ----------
    a : ndarray, shape (n, d)
        Sample of the first distribution.
    b : ndarray, shape (m, d)
        Sample of the second; m may differ from n.
    directions : ndarray, shape (L, d)
        Unit vectors, e.g. from :func:`random_directions`.

    Returns
    -------
    float
        SW2 in the units of the data; 0 for identical samples.
    """
    pa = np.sort(np.asarray(a, dtype=np.float64) @ directions.T, axis=0)
    pb = np.sort(np.asarray(b, dtype=np.float64) @ directions.T, axis=0)
    return float(np.sqrt(_w2_squared_sorted(pa, pb).mean()))


def sliced_wasserstein_matrix(Z: np.ndarray, y: np.ndarray, *, n_directions: int = 100,
                              n_per_class: int = 2000, seed: int = 0) -> dict:
    """Normalised sliced W2 distances between all pairs of class-conditional distributions.

    Each class is represented by a seeded subsample of ``min(n_per_class, n_c)`` points (classes
    may differ in size; the 1-D distances are exact for any sizes), all classes are projected on
    the same ``n_directions`` seeded uniform directions, and
    ``matrix[i, j] = SW2(class_i, class_j) / scale`` with ``scale = sqrt(trace(Cov_pooled) / d)``.

    Why this scale: for a direction theta uniform on the sphere, E[theta^T C theta] = trace(C)/d,
    so ``scale²`` is the expected variance of the pooled data along a random direction, the same
    kind of direction the numerator averages over. Both shrink like 1/d as d grows (a mean gap
    delta contributes E[(theta·delta)²] = |delta|²/d), so the ratio is dimension-free: for classes
    that differ only by their means, ``matrix[i, j]`` ≈ |mu_i - mu_j| / sqrt(trace(Cov_pooled)).
    The ratio is also invariant to translation, rotation and scaling of Z.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels.
    n_directions : int
        Number of random directions.
    n_per_class : int
        Subsample size per class; cost O(k · n_per_class · d · n_directions) to project plus
        O(k² · n_per_class · n_directions) for the pairs.
    seed : int
        The directions are ``random_directions(d, n_directions, seed)``; the class subsamples
        use the generator seeded ``[seed, 1]``.

    Returns
    -------
    dict
        ``classes`` (k,) labels; ``matrix`` (k, k) symmetric, zero diagonal, in units of the pooled
        spread: 0 for the same distribution along every sampled direction (two samples of one
        distribution give a small positive floor, shrinking like n_per_class^-1/2); for a pure
        mean shift, the gap over the pooled root total variance (10 balanced classes shrunk to
        the vertices of a regular simplex give sqrt(20/9) ≈ 1.49); ``scale``: the normaliser, in
        the units of Z.
    """
    Z, y, classes = _check_Z_y(Z, y)
    _check_count(n_per_class, "n_per_class", 1)
    within, between = _variance_traces(Z, y, classes)
    scale = float(np.sqrt((within + between) / Z.shape[1]))
    if scale == 0:
        raise DataError("Z is constant: its total variance is 0, so the scale is undefined")
    directions = random_directions(Z.shape[1], n_directions, seed)
    rng = np.random.default_rng([seed, 1])
    projected = []
    for c in classes:
        Zc = Z[y == c]
        sample = Zc[_subsample(len(Zc), n_per_class, rng)].astype(np.float64)
        projected.append(np.sort(sample @ directions.T, axis=0))
    k = len(classes)
    matrix = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            sw2 = np.sqrt(_w2_squared_sorted(projected[i], projected[j]).mean())
            matrix[i, j] = matrix[j, i] = sw2 / scale
    return {"classes": classes, "matrix": matrix, "scale": scale}


# --------------------------------------------------------------------------- 5. everything


def distribution_metrics(Z: np.ndarray, y: np.ndarray, *, seed: int = 0, n_pair_samples: int = 1000,
                         n_gaussianity_samples: int = 500, n_moments: int = 6000,
                         n_permutations: int = 200, n_id_samples: int = 3000, k: int = 20,
                         discard_fraction: float = 0.1, n_directions: int = 100,
                         n_per_class: int = 2000) -> dict:
    """All distribution metrics of one representation, as plain Python values ready for JSON.

    Each part calls the public function of this module with the same ``seed``, so every value
    equals what that function returns on its own.

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        The representation.
    y : ndarray of int, shape (n,)
        Class labels.
    seed : int
        Seeds every subsample, reference sample, permutation and direction.
    n_pair_samples : int
        ``n_samples`` of :func:`pairwise_distance_ratio`.
    n_gaussianity_samples, n_moments, n_permutations : int
        ``n_samples``, ``n_moments``, ``n_permutations`` of :func:`class_gaussianity`.
    n_id_samples, k, discard_fraction
        ``n_samples``, ``k``, ``discard_fraction`` of :func:`intrinsic_dimension`.
    n_directions, n_per_class : int
        As in :func:`sliced_wasserstein_matrix`.

    Returns
    -------
    dict
        ``n_points``, ``dim``, ``classes`` (list), ``class_counts`` (list);
        ``between_class_variance_share`` (float);
        ``pairwise_distance``: {``mean_within``, ``mean_between``, ``ratio``};
        ``gaussianity``: {``pooled``: {``mmd2``, ``p_value``, ``rank``, ``n_samples``},
        ``per_class``: {str(label): same}};
        ``intrinsic_dimension``: {``pooled``: {``twonn``, ``mle``}, ``per_class``: {str(label): same}};
        ``sliced_wasserstein``: {``classes``, ``matrix`` (list of lists), ``scale``};
        ``settings``: the arguments, seed included.
    """
    Z, y, classes = _check_Z_y(Z, y)
    gauss = class_gaussianity(Z, y, n_samples=n_gaussianity_samples, n_moments=n_moments,
                              n_permutations=n_permutations, seed=seed)
    ids = intrinsic_dimension(Z, y, k=k, discard_fraction=discard_fraction, n_samples=n_id_samples,
                              seed=seed)
    sw = sliced_wasserstein_matrix(Z, y, n_directions=n_directions, n_per_class=n_per_class,
                                   seed=seed)
    return {
        "n_points": int(Z.shape[0]),
        "dim": int(Z.shape[1]),
        "classes": [int(c) for c in classes],
        "class_counts": [int(np.count_nonzero(y == c)) for c in classes],
        "between_class_variance_share": between_class_variance_share(Z, y),
        "pairwise_distance": pairwise_distance_ratio(Z, y, n_samples=n_pair_samples, seed=seed),
        "gaussianity": {"pooled": gauss["pooled"],
                        "per_class": {str(c): v for c, v in gauss["per_class"].items()}},
        "intrinsic_dimension": {"pooled": ids["pooled"],
                                "per_class": {str(c): v for c, v in ids["per_class"].items()}},
        "sliced_wasserstein": {"classes": [int(c) for c in sw["classes"]],
                               "matrix": sw["matrix"].tolist(), "scale": sw["scale"]},
        "settings": {"seed": seed, "n_pair_samples": n_pair_samples,
                     "n_gaussianity_samples": n_gaussianity_samples, "n_moments": n_moments,
                     "n_permutations": n_permutations, "n_id_samples": n_id_samples, "k": k,
                     "discard_fraction": discard_fraction, "n_directions": n_directions,
                     "n_per_class": n_per_class},
    }
