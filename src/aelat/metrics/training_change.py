"""When in training the class structure of Q changed: the change from the first snapshot to the
last, paired over the same points, and the epoch by which most of it had come, with intervals.

Works on the per-point evidence analyse keeps for each snapshot
(:func:`aelat.metrics.profile.point_evidence`): whether kNN classified each test point right, and
each point's influence on the between-class variance share.
"""

from __future__ import annotations

import numpy as np

from aelat.errors import DataError
from aelat.metrics.confidence import paired_accuracy_difference, resamples, variance_share_comparison

__all__ = ["accuracy_change", "epoch_reaching", "share_change"]


def epoch_reaching(epochs, values, share: float = 0.9) -> int | None:
    """The first epoch by which ``share`` of the total change (first to last value) is reached; None without change."""
    total = values[-1] - values[0]
    if not np.isfinite(total) or total == 0:
        return None
    for epoch, value in zip(epochs, values):
        if (value - values[0]) / total >= share:
            return int(epoch)
    return int(epochs[-1])


def accuracy_change(epochs: np.ndarray, correct: np.ndarray, *, share: float = 0.9, level: float = 0.95,
                    n_resamples: int = 200, seed: int = 0) -> dict:
    """The last snapshot's accuracy minus the first's on the same test points, and when it came.

    Parameters
    ----------
    epochs : ndarray of int, shape (s,)
        The snapshot epochs, ascending.
    correct : ndarray of bool, shape (s, n)
        Whether each snapshot's classifier got each test point right.
    share : float
        The share of the total change whose epoch is returned.
    level : float
        Confidence level.
    n_resamples : int
        Bootstrap draws of the test points for the epoch's interval.
    seed : int
        Seeds the draws.

    Returns
    -------
    dict
        From :func:`aelat.metrics.confidence.paired_accuracy_difference` (``difference`` = last -
        first, ``ci_low``, ``ci_high``, ``p_value``, ``test``), plus ``epoch`` (:func:`epoch_reaching`
        of the accuracies) and its percentile interval ``epoch_low``, ``epoch_high`` over draws of
        the test points (every snapshot scored on the same draw).
    """
    correct = _per_snapshot(epochs, correct, "correct").astype(float)
    change = paired_accuracy_difference(correct[-1], correct[0], level)
    replicates = np.concatenate([correct[:, rows].mean(axis=2) for rows in resamples(correct.shape[1], n_resamples, seed)],
                                axis=1)
    return change | _epoch(epochs, correct.mean(axis=1), replicates, share, level)


def share_change(epochs: np.ndarray, shares: np.ndarray, influence: np.ndarray, *, share: float = 0.9,
                 level: float = 0.95, n_resamples: int = 200, seed: int = 0) -> dict:
    """The last snapshot's between-class variance share minus the first's, and when it came.

    ``shares`` (s,) are the snapshots' shares, ``influence`` (s, n) their points' influence values
    (:func:`aelat.metrics.confidence.variance_share_influence`); the rest as for
    :func:`accuracy_change`. The difference and its interval are the paired delta method's
    (:func:`aelat.metrics.confidence.variance_share_comparison`); a draw of the points moves each
    share by the mean of the drawn points' influence values (the same linearisation).
    """
    influence = _per_snapshot(epochs, influence, "influence")
    shares = np.asarray(shares, dtype=float)
    if shares.shape != (len(influence),):
        raise DataError(f"shares of shape {shares.shape} for {len(influence)} snapshots")
    change = variance_share_comparison(shares[-1], influence[-1], shares[0], influence[0], level)
    replicates = np.concatenate([shares[:, None] + influence[:, rows].mean(axis=2)
                                 for rows in resamples(influence.shape[1], n_resamples, seed)], axis=1)
    return change | _epoch(epochs, shares, replicates, share, level)


def _per_snapshot(epochs: np.ndarray, values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 2 or len(values) != len(epochs) or len(values) < 2:
        raise DataError(f"{name} of shape {values.shape}: need one row per snapshot ({len(epochs)}), at least 2")
    return values


def _epoch(epochs: np.ndarray, values: np.ndarray, replicates: np.ndarray, share: float, level: float) -> dict:
    """epoch_reaching of ``values`` and its percentile interval over ``replicates`` (s, draws)."""
    reached = [epoch_reaching(epochs, replicate, share) for replicate in replicates.T]
    reached = [epoch for epoch in reached if epoch is not None]
    low = high = None
    if reached:
        low, high = (int(e) for e in np.quantile(reached, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf"))
    return {"epoch": epoch_reaching(epochs, values, share), "epoch_low": low, "epoch_high": high}
