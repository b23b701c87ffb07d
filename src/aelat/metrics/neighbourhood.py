"""How well a low-dimensional map E keeps the neighbourhoods of the representation X it was made from.

Trustworthiness (Venna & Kaski 2001) penalises points that are near in E but far in X, continuity
penalises points that are near in X but far in E, and kNN preservation is the share of each point's
k nearest neighbours in X that are also among its k nearest in E.

``sklearn.manifold.trustworthiness`` builds three n x n arrays (the distances, their argsort and an
inverted index), 39 GB each at n = 70000. The estimate here is written by hand because no
maintained library computes it in bounded memory: for a seeded sample of query points it computes
their distance rows to all n points, a chunk of rows at a time (scikit-learn's
``euclidean_distances``), and reads each query's neighbours and the ranks it needs off those rows.
Time is O(sample x n x (d_X + d_E)), memory O(chunk x n). With the sample set to all points the
result equals scikit-learn's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sklearn
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils.extmath import row_norms

from aelat.errors import ConfigError, DataError
from aelat.metrics.checks import check_points
from aelat.sampling import seeded_subset

__all__ = [
    "continuity",
    "knn_preservation",
    "neighbourhood_scores",
    "neighbourhood_scores_of_maps",
    "smallest_k",
    "trustworthiness",
]

# Float64 arrays of chunk x n alive at once in the chunk loop: the two distance blocks,
# euclidean_distances' temporary and argpartition's index block.
_BLOCKS_PER_CHUNK = 4
# Largest distance block (about 120 rows at n = 70000). Measured at n = 70000: with d_X = 16,
# 16-64 MiB blocks ran 25% faster than 256 MiB ones (numpy's passes over a block stay nearer the
# cache); with d_X = 784, 16 MiB blocks ran twice as slow as 64 MiB ones (the matrix product
# wants many rows).
_BLOCK_BYTES = 64 * 2**20


def neighbourhood_scores(
    X: np.ndarray,
    E: np.ndarray,
    *,
    ks: Sequence[int] = (5, 10),
    sample_size: int | None = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """Trustworthiness, continuity and kNN preservation of a map, for several k from one pass.

    For a query point i with k nearest neighbours N_X(i) in X and N_E(i) in E, and r_X(i, j) the
    rank of j among i's neighbours in X (1 for the nearest),

        T(k) = 1 - 2 / (m k (2n - 3k - 1)) * sum_i sum_{j in N_E(i)} max(0, r_X(i, j) - k),

    which penalises each j in N_E(i) but not in N_X(i) by how far it is beyond the k-th place;
    continuity C(k) is T(k) with X and E swapped, and kNN preservation is
    mean_i |N_X(i) & N_E(i)| / k. The sums run over m query points, ranks against all n points; the
    normalisation is scikit-learn's (with m = n it is exactly ``trustworthiness(X, E, n_neighbors=k)``
    and C(k) is ``trustworthiness(E, X, n_neighbors=k)``), so a sampled value is an unbiased
    estimate of the exact one.

    Distances are Euclidean. A point is not its own neighbour; duplicates of it are. Ties:
    r_X(i, j) is 1 + the number of points strictly closer to i than j (scikit-learn instead takes
    j's place in ``np.argsort``, whose order among equal distances is unspecified); neighbour sets
    with a tie at the k-th distance take the lower row numbers.

    Parameters
    ----------
    X : ndarray of shape (n, d_X)
        The representation the map was made from.
    E : ndarray of shape (n, d_E)
        The map (usually d_E = 2), row i the image of X's row i.
    ks : sequence of int, default=(5, 10)
        Neighbourhood sizes, each with 1 <= k < n / 2 (scikit-learn's limit).
    sample_size : int or None, default=5000
        Number of query points, drawn without replacement with ``seed``. None, or a value >= n,
        uses every point (exact).
    seed : int, default=0
        Seed of the query sample.

    Returns
    -------
    dict of str to float
        ``trustworthiness_{k}``, ``continuity_{k}`` and ``knn_preservation_{k}`` for each k in ks.

    Notes
    -----
    X and E are copied to float64 (440 MB for 70000 x 784): float32 distances would tie far more
    often. Beyond that, memory is a few blocks of distance rows, at most 64 MiB each and within
    scikit-learn's ``working_memory`` setting (``sklearn.set_config``). The neighbour sets and the
    ranks are read from the same distance rows, so a neighbour of i in X always has rank <= k there.
    Measured at n = 70000, d_E = 2 and 5000 query points: 4 s of one core for d_X = 16 and
    16 s for d_X = 784; time is proportional to sample_size. For several maps of one X,
    `neighbourhood_scores_of_maps` computes X's side once for all of them.
    """
    return neighbourhood_scores_of_maps(X, {"E": E}, ks=ks, sample_size=sample_size, seed=seed)["E"]


def neighbourhood_scores_of_maps(
    X: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    ks: Sequence[int] = (5, 10),
    sample_size: int | None = 5000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """`neighbourhood_scores` of several maps of one representation, reading X's distances once.

    X's side of the estimate (the query points' distance rows in X and their nearest neighbours
    there) depends only on X, the query sample and ks, so each chunk of it is computed once and
    scored against every map before the next. Each map's result equals, bit for bit, what
    ``neighbourhood_scores(X, maps[name], ...)`` returns on its own; memory is that of one map.

    Parameters
    ----------
    X : ndarray of shape (n, d_X)
        The representation the maps were made from.
    maps : mapping of str to ndarray of shape (n, d_E)
        The maps by name, row i of each the image of X's row i.
    ks : sequence of int, default=(5, 10)
        Neighbourhood sizes, each with 1 <= k < n / 2.
    sample_size : int or None, default=5000
        Number of query points, drawn without replacement with ``seed``; None or >= n for all.
    seed : int, default=0
        Seed of the query sample.

    Returns
    -------
    dict of str to dict
        For each name in ``maps``, the dict `neighbourhood_scores` returns.
    """
    X = check_points(X, "X", dtype=np.float64)
    maps = {name: check_points(E, name, dtype=np.float64) for name, E in maps.items()}
    for name, E in maps.items():
        if len(X) != len(E):
            raise DataError(f"X has {len(X)} rows but {name} has {len(E)}; {name} must map X's rows one to one.")
    n = len(X)
    ks = _check_ks(ks, n)
    queries = seeded_subset(n, sample_size, seed, "sample_size")

    x_sq = row_norms(X, squared=True)
    e_sq = {name: row_norms(E, squared=True) for name, E in maps.items()}
    sums = {name: np.zeros((3, len(ks))) for name in maps}  # rows: intrusion, extrusion, shared
    working_bytes = sklearn.get_config()["working_memory"] * 2**20
    chunk = max(1, int(min(working_bytes / _BLOCKS_PER_CHUNK, _BLOCK_BYTES) // (8 * n)))
    for start in range(0, len(queries), chunk):
        rows = queries[start : start + chunk]
        d_x = _squared_distance_rows(X, x_sq, rows)
        near_x = smallest_k(d_x, max(ks))
        for name, E in maps.items():
            # The map's block is an argument, so it is freed before the next map's is computed.
            sums[name] += _chunk_sums(d_x, near_x, _squared_distance_rows(E, e_sq[name], rows), ks)

    m = len(queries)
    return {name: _scores(total, ks, n, m) for name, total in sums.items()}


def _squared_distance_rows(A: np.ndarray, a_sq: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Squared distances (len(rows), n) from A's listed rows to all of A's, inf for a row to itself."""
    # Squared distances: same order as distances, and one square root fewer.
    D = euclidean_distances(A[rows], A, X_norm_squared=a_sq[rows, None], Y_norm_squared=a_sq[None, :], squared=True)
    D[np.arange(len(rows)), rows] = np.inf
    return D


def _chunk_sums(d_x: np.ndarray, near_x: np.ndarray, d_e: np.ndarray, ks: list[int]) -> np.ndarray:
    """(3, len(ks)): sums of r_X - k over E's neighbours not X's, of r_E - k over X's not E's, shared count."""
    near_e = smallest_k(d_e, max(ks))
    # The k nearest are a prefix of the k_max nearest, so one rank per neighbour serves every k.
    rank_x = _ranks(d_x, near_e)
    rank_e = _ranks(d_e, near_x)
    sums = np.zeros((3, len(ks)))
    for a, k in enumerate(ks):
        sums[0, a] = np.maximum(rank_x[:, :k] - k, 0).sum()
        sums[1, a] = np.maximum(rank_e[:, :k] - k, 0).sum()
        sums[2, a] = np.count_nonzero(near_x[:, :k, None] == near_e[:, None, :k])
    return sums


def _scores(sums: np.ndarray, ks: list[int], n: int, m: int) -> dict[str, float]:
    """Trustworthiness, continuity and kNN preservation from `_chunk_sums` totals over m queries."""
    scores = {}
    for a, k in enumerate(ks):
        norm = 2.0 / (m * k * (2.0 * n - 3.0 * k - 1.0))
        scores[f"trustworthiness_{k}"] = float(1.0 - norm * sums[0, a])
        scores[f"continuity_{k}"] = float(1.0 - norm * sums[1, a])
        scores[f"knn_preservation_{k}"] = float(sums[2, a] / (m * k))
    return scores


def trustworthiness(
    X: np.ndarray, E: np.ndarray, *, k: int = 5, sample_size: int | None = 5000, seed: int = 0
) -> float:
    """Trustworthiness T(k) of map E of X; see `neighbourhood_scores` for the definition.

    Parameters
    ----------
    X : ndarray of shape (n, d_X)
        The representation the map was made from.
    E : ndarray of shape (n, d_E)
        The map, row i the image of X's row i.
    k : int, default=5
        Neighbourhood size, 1 <= k < n / 2.
    sample_size : int or None, default=5000
        Number of seeded query points; None or >= n for the exact value.
    seed : int, default=0
        Seed of the query sample.

    Returns
    -------
    float
        T(k) in [0, 1]; 1 when every neighbour in E is a neighbour in X.
    """
    return neighbourhood_scores(X, E, ks=(k,), sample_size=sample_size, seed=seed)[f"trustworthiness_{k}"]


def continuity(
    X: np.ndarray, E: np.ndarray, *, k: int = 5, sample_size: int | None = 5000, seed: int = 0
) -> float:
    """Continuity C(k) of map E of X: trustworthiness with the roles of X and E swapped.

    Parameters
    ----------
    X : ndarray of shape (n, d_X)
        The representation the map was made from.
    E : ndarray of shape (n, d_E)
        The map, row i the image of X's row i.
    k : int, default=5
        Neighbourhood size, 1 <= k < n / 2.
    sample_size : int or None, default=5000
        Number of seeded query points; None or >= n for the exact value.
    seed : int, default=0
        Seed of the query sample.

    Returns
    -------
    float
        C(k) in [0, 1]; 1 when every neighbour in X stays a neighbour in E.
    """
    return neighbourhood_scores(X, E, ks=(k,), sample_size=sample_size, seed=seed)[f"continuity_{k}"]


def knn_preservation(
    X: np.ndarray, E: np.ndarray, *, k: int = 10, sample_size: int | None = 5000, seed: int = 0
) -> float:
    """Mean share of each point's k nearest neighbours in X that are among its k nearest in E.

    Parameters
    ----------
    X : ndarray of shape (n, d_X)
        The representation the map was made from.
    E : ndarray of shape (n, d_E)
        The map, row i the image of X's row i.
    k : int, default=10
        Neighbourhood size, 1 <= k < n / 2.
    sample_size : int or None, default=5000
        Number of seeded query points; None or >= n for every point.
    seed : int, default=0
        Seed of the query sample.

    Returns
    -------
    float
        Value in [0, 1]; about k / n for a random map.
    """
    return neighbourhood_scores(X, E, ks=(k,), sample_size=sample_size, seed=seed)[f"knn_preservation_{k}"]


def smallest_k(D: np.ndarray, k: int) -> np.ndarray:
    """Column numbers of the k smallest entries of each row, ordered by (value, column number).

    Ordering equal values by column number (the lower wins) makes neighbour sets well defined
    when distances tie. Cost O(n_rows x n_cols), plus a full sort of the rows where the k-th
    and (k+1)-th smallest values are equal.

    Parameters
    ----------
    D : ndarray of shape (n_rows, n_cols)
        Distances (or any values to rank), no NaN.
    k : int
        Number of columns to return, 1 <= k <= n_cols.

    Returns
    -------
    ndarray of shape (n_rows, k)
        Column numbers, nearest first.
    """
    n_cols = D.shape[1]
    # One candidate beyond k shows whether a tie crosses the cut.
    n_cand = min(k + 1, n_cols)
    if n_cand < n_cols:
        cand = np.argpartition(D, n_cand - 1, axis=1)[:, :n_cand]
    else:
        cand = np.broadcast_to(np.arange(n_cols), D.shape)
    values = np.take_along_axis(D, cand, axis=1)
    order = np.lexsort((cand, values), axis=1)
    cand = np.take_along_axis(cand, order, axis=1)
    if n_cand > k:
        values = np.take_along_axis(values, order, axis=1)
        # Where the k-th and (k+1)-th values are equal, other columns outside the candidates may
        # hold the same value with a lower column number: sort those rows in full.
        tied = np.flatnonzero(values[:, k - 1] == values[:, k])
        if tied.size:
            cand[tied] = np.argsort(D[tied], axis=1, kind="stable")[:, :n_cand]
    return cand[:, :k]


def _ranks(D: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """1 + the number of entries of each row of D strictly below D[row, col], for each col listed."""
    thresholds = np.take_along_axis(D, cols, axis=1)
    counts = np.empty(cols.shape, dtype=np.intp)
    # Row by row: the row stays in cache across its thresholds, and count_nonzero without an axis
    # is several times faster than the 2-D comparison summed along axis 1.
    for i, row in enumerate(D):
        for q, t in enumerate(thresholds[i]):
            counts[i, q] = np.count_nonzero(row < t)
    return counts + 1


def _check_ks(ks: Sequence[int], n: int) -> list[int]:
    """Sorted distinct neighbourhood sizes, each 1 <= k < n / 2."""
    ks = sorted({int(k) for k in ks})
    if not ks:
        raise ConfigError("ks is empty; give at least one neighbourhood size, e.g. ks=(5, 10).")
    for k in ks:
        if not 1 <= k < n / 2:
            raise ConfigError(f"k={k} must satisfy 1 <= k < n / 2 = {n / 2} (n = {n} points); lower k.")
    return ks
