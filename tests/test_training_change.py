"""When in training the class structure changed: paired changes and the epoch of 90 % of them, with intervals."""

import numpy as np
import pytest

from aelat.metrics.confidence import variance_share_influence
from aelat.metrics.distribution import between_class_variance_share
from aelat.metrics.training_change import accuracy_change, epoch_reaching, share_change

EPOCHS = np.array([0, 1, 2, 4, 8])


@pytest.mark.parametrize("values, expected", [([0, 0.5, 0.95, 1.0], 2), ([1.0, 0.2, 0.1, 0.0], 2), ([1.0, 0.05, 0.1, 0.0], 1),
                                               ([0, 1.2, 1.0, 1.0], 1), ([0.3, 0.3, 0.3, 0.3], None)])
def test_epoch_reaching_ninety_percent_of_the_change(values, expected):
    assert epoch_reaching([0, 1, 2, 4], values) == expected


def test_the_epoch_interval_covers_the_true_epoch_in_most_repetitions():
    """Accuracies 0.5 → 0.9 with 90 % of the rise by epoch 2: over fresh test points, the interval
    holds epoch 2 about as often as its level says, and the paired difference's interval holds 0.4."""
    truth = np.array([0.5, 0.75, 0.87, 0.89, 0.9])
    epochs_held, differences_held = 0, 0
    for seed in range(60):
        u = np.random.default_rng(seed).random(1000)  # one draw per point: snapshots are paired
        found = accuracy_change(EPOCHS, u < truth[:, None], seed=seed)
        epochs_held += found["epoch_low"] <= 2 <= found["epoch_high"]
        differences_held += found["ci_low"] <= 0.4 <= found["ci_high"]
    assert epochs_held >= 51 and differences_held >= 51  # ≥ 85 % of 60 at a 95 % level


def test_share_change_matches_a_bootstrap_of_the_exact_share():
    """The delta method's interval of the change against the spread of the exact shares recomputed on
    bootstrap draws of the points (every snapshot on the same draw)."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 200)
    noise = rng.normal(size=(600, 3))
    centres = rng.normal(size=(3, 3))
    snapshots = [noise + gap * centres[y] for gap in (0.2, 0.8, 1.2, 1.3, 1.3)]
    shares, influence = zip(*(variance_share_influence(Z, y) for Z in snapshots))
    found = share_change(EPOCHS, np.array(shares), np.stack(influence), seed=0)
    assert found["difference"] == pytest.approx(between_class_variance_share(snapshots[-1], y)
                                                - between_class_variance_share(snapshots[0], y))
    draws = [rng.integers(0, 600, 600) for _ in range(400)]
    exact = [between_class_variance_share(snapshots[-1][rows], y[rows]) - between_class_variance_share(snapshots[0][rows], y[rows])
             for rows in draws]
    delta_sd = (found["ci_high"] - found["ci_low"]) / (2 * 1.96)
    assert delta_sd / np.std(exact, ddof=1) == pytest.approx(1, abs=0.2)
    assert found["epoch"] == 2 and found["epoch_low"] <= 2 <= found["epoch_high"]


def test_a_change_within_noise_has_an_interval_around_zero():
    u = np.random.default_rng(3).random((5, 800))
    found = accuracy_change(EPOCHS, u < 0.8, seed=0)
    assert found["ci_low"] < 0 < found["ci_high"]
