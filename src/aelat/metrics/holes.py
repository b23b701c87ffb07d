"""Where a VAE's aggregate posterior Q misses its prior: the share of prior draws that land in holes.

A draw z ~ N(0, I) is in a hole when it lies farther from every encoded point than the
``quantile`` (e.g. 99th percentile) of the encoded points' own nearest-neighbour distances: no data
point is encoded near it, so the decoder was never trained there (the "holes" of Ghosh et al.
2020, "From variational to deterministic autoencoders"). Both distances shrink as more points are
encoded, so compare shares at one sample size; the held-out share (test codes beyond the same
threshold, ≈ 1 − quantile when train and test codes share a distribution) calibrates it.

Nearest-neighbour search by scikit-learn; the interval is SciPy's Wilson score interval.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest
from sklearn.neighbors import NearestNeighbors

from aelat.errors import ConfigError, DataError

__all__ = ["prior_holes"]


def prior_holes(codes: np.ndarray, *, held_out: np.ndarray | None = None, n_prior: int = 10000,
                quantile: float = 0.99, seed: int = 0) -> dict:
    """Share of standard-normal draws farther from every code than the codes' ``quantile`` neighbour distance.

    Parameters
    ----------
    codes : ndarray, shape (n, d)
        Encoded points (a VAE's posterior means), at least 2.
    held_out : ndarray, shape (m, d), optional
        Codes of other points (e.g. the test set), scored against the same threshold.
    n_prior : int
        Draws from N(0, I_d).
    quantile : float
        In (0, 1): the quantile of the codes' nearest-neighbour distances used as the threshold.
    seed : int
        Seeds the prior draws.

    Returns
    -------
    dict
        ``share`` of prior draws in holes with its 95% Wilson interval ``share_low``, ``share_high``;
        ``threshold`` (the quantile distance); ``held_out_share`` (or None); ``n_prior``, ``n_codes``,
        ``dim``, ``quantile``; and the arrays ``prior`` (n_prior, d) and ``distance`` (n_prior,) of each
        draw to its nearest code, and ``in_hole`` (bool, (n_prior,)).
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < 2 or not np.isfinite(codes).all():
        raise DataError(f"codes of shape {codes.shape}: need a finite 2-D array of at least 2 points")
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile={quantile!r} must lie in (0, 1)")
    if n_prior < 1:
        raise ConfigError(f"n_prior={n_prior} must be >= 1")
    index = NearestNeighbors(n_neighbors=1).fit(codes)
    own = index.kneighbors(n_neighbors=1)[0][:, 0]  # each code's nearest *other* code
    threshold = float(np.quantile(own, quantile))
    prior = np.random.default_rng(seed).standard_normal((n_prior, codes.shape[1]))
    distance = index.kneighbors(prior)[0][:, 0]
    in_hole = distance > threshold
    interval = binomtest(int(in_hole.sum()), n_prior).proportion_ci(0.95, method="wilson")
    held_out_share = None
    if held_out is not None:
        held_out_share = float(np.mean(index.kneighbors(np.asarray(held_out, dtype=np.float64))[0][:, 0] > threshold))
    return {
        "share": float(in_hole.mean()), "share_low": float(interval.low), "share_high": float(interval.high),
        "threshold": threshold, "held_out_share": held_out_share, "n_prior": int(n_prior),
        "n_codes": int(len(codes)), "dim": int(codes.shape[1]), "quantile": float(quantile),
        "prior": prior, "distance": distance, "in_hole": in_hole,
    }
