"""The computed sentences of the report's analysis sections."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from aelat.metrics.confidence import variance_share_influence
from aelat.metrics.training_change import epoch_reaching
from aelat.report_analysis import dynamics_sentences, geometry_sentences, layers_sentences

CONFIDENCE = SimpleNamespace(level=0.95, n_resamples=200)


@pytest.mark.parametrize("values, expected", [([0, 0.5, 0.95, 1.0], 2), ([1.0, 0.2, 0.1, 0.0], 2), ([1.0, 0.05, 0.1, 0.0], 1),
                                               ([0, 1.2, 1.0, 1.0], 1), ([0.3, 0.3, 0.3, 0.3], None)])
def test_epoch_reaching_ninety_percent_of_the_change(values, expected):
    assert epoch_reaching([0, 1, 2, 4], values) == expected


def dynamics_row(representation, epoch, knn, share, nmi):
    return {"representation": representation, "epoch": epoch, "knn_accuracy": knn,
            "between_class_variance_share": share, "gmm_nmi": nmi}


def dynamics_case(knn: list[float], separation: list[float], n: int = 600, seed: int = 0):
    """dynamics.csv's rows and dynamics_points.npz's arrays of snapshots at epochs 0, 1, 2, 4 whose
    test points are classified right with the probabilities ``knn`` and whose two classes lie
    ``separation`` apart (the same points, moved)."""
    rng = np.random.default_rng(seed)
    u, noise = rng.random(n), rng.normal(size=(2 * n, 2))
    y = np.repeat([0, 1], n)
    correct = np.stack([u < p for p in knn])
    shares, influence = zip(*(variance_share_influence(noise + np.outer(y, [gap, 0]), y) for gap in separation))
    epochs = np.array([0, 1, 2, 4])
    rows = [dynamics_row("raw", None, 0.9, 0.2, 0.4), dynamics_row("pca", None, 0.91, 0.3, 0.6)]
    rows += [dynamics_row("latent", float(e), float(c.mean()), share, 0.5) for e, c, share in zip(epochs, correct, shares)]
    return rows, {"epochs": epochs, "knn_correct": correct, "share_influence": np.stack(influence)}


def test_dynamics_sentences_name_start_end_baselines_and_when_a_detectable_change_came():
    rows, evidence = dynamics_case([0.5, 0.7, 0.9, 0.9], [0.5, 2.0, 2.1, 2.1])
    text = dynamics_sentences(rows, 10, evidence, CONFIDENCE)
    first, last = rows[2]["knn_accuracy"], rows[-1]["knn_accuracy"]
    assert f"From the untrained network (epoch 0) to epoch 4, kNN@10 from {first:.3f} to {last:.3f}" in text
    assert "raw: 0.900, 0.200, 0.400; pca: 0.910, 0.300, 0.600" in text
    assert f"kNN@10 rose by {last - first:+.3f} (95 % CI +" in text
    assert "The between-class variance share rose by" in text
    assert "90 % of that change had come by epoch 2 (95 % CI epoch 2, of 4)." in text
    assert "90 % of that change had come by epoch 1 (95 % CI epoch 1, of 4)." in text


def test_dynamics_sentences_state_no_time_for_a_change_within_noise():
    rows, evidence = dynamics_case([0.8, 0.82, 0.79, 0.81], [1.0, 1.0, 1.0, 1.0])
    text = dynamics_sentences(rows, 10, evidence, CONFIDENCE)
    assert "kNN@10 changed by no detectable amount over training" in text
    assert "The between-class variance share changed by no detectable amount over training: +0.000" in text
    assert "90 %" not in text


def layer_row(encoder, name, twonn, knn, share, to_next, spread=0.3):
    return {"encoder": encoder, "name": name, "twonn_dimension": twonn, "twonn_dimension_low": twonn - spread,
            "twonn_dimension_high": twonn + spread, "knn_accuracy": knn, "between_class_variance_share": share,
            "sw_to_next": to_next}


def layer_case(ids, knn, spread=0.3, n=500):
    """layers.csv's rows (input, dense 1, latent for each encoder) and layers_points.npz's arrays."""
    rng = np.random.default_rng(1)
    correct = np.stack([rng.random(n) < p for p in [*knn, *knn]])
    names = ["input", "dense 1", "latent"]
    rows = [layer_row("trained", name, i, c.mean(), 0.3, move, spread) for name, i, c, move in
            zip(names, ids, correct, [0.1, 0.4, None])]
    rows += [layer_row("untrained", name, 12.0, c.mean(), 0.2, move) for name, c, move in
             zip(names, correct[3:], [0.2, 0.3, None])]
    return rows, {"knn_correct": correct, "share_influence": np.zeros((6, n))}


@pytest.mark.parametrize("ids, spread, shape", [
    ([10, 14, 8], 0.3, "rises to a peak at dense 1 and falls to the latent (a hunchback: the peak's interval lies above both ends')"),
    ([10, 14, 8], 4.5, "the input's and the latent's intervals overlap: no detectable change from input to latent"),
    ([12, 14, 6], 2.5, "lower at the latent than at the input (their intervals do not overlap)"),
    ([14, 10, 8], 0.3, "lower at the latent than at the input"),
    ([8, 10, 14], 0.3, "higher at the latent than at the input")])
def test_layers_sentences_call_a_dimension_profile_only_where_the_intervals_do(ids, spread, shape):
    rows, evidence = layer_case(ids, [0.8, 0.8, 0.8], spread)
    text = layers_sentences(rows, 10, evidence, 0.95, 0.05)
    assert shape in text
    assert ("hunchback" in text) == (shape.startswith("rises"))
    assert "between dense 1 and latent (0.40; a point estimate on the sample, without an interval)" in text


def test_layers_sentences_compare_each_layer_with_the_input_on_the_same_points():
    rows, evidence = layer_case([10, 14, 8], [0.6, 0.62, 0.9])
    text = layers_sentences(rows, 10, evidence, 0.95, 0.05)
    dense, latent = (rows[i]["knn_accuracy"] - rows[0]["knn_accuracy"] for i in (1, 2))
    assert (f"(McNemar, Holm-corrected over 2 layers, α = 0.05), kNN@10 is higher at latent ({latent:+.3f}); "
            f"not detectably different at dense 1 ({dense:+.3f})") in text


def test_geometry_sentences_call_a_difference_only_when_its_interval_excludes_one():
    rng = np.random.default_rng(0)
    same = rng.uniform(0.5, 1.5, 200)
    arrays = {"trained.stretch_same": same, "trained.stretch_other": 2.0 * same * rng.uniform(0.9, 1.1, 200),
              "untrained.stretch_same": same, "untrained.stretch_other": same * rng.uniform(0.9, 1.1, 200),
              "pca.stretch_same": same, "pca.stretch_other": 2.0 * same * rng.uniform(0.9, 1.1, 200)}
    pooled = {"class": "all", "n": 200.0, "log_volume": 0.0, "stretch_ratio": 2.0, "stretch_ratio_low": 1.9,
              "stretch_ratio_high": 2.1}
    rows = [{**pooled, "encoder": name} for name in ("trained", "untrained", "pca")]
    text = geometry_sentences(rows, arrays, ["trained", "untrained", "pca"], [str(c) for c in range(10)], 0.05)
    assert "times the untrained one's: higher" in text
    assert "times the pca one's: no detectable difference" in text


def test_geometry_sentences_test_the_extreme_classes_against_each_other():
    """The classes' ratios are compared by Welch's t-test on the points' log-ratios, Bonferroni over the pairs."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    same = rng.uniform(0.5, 1.5, 60)
    for gap, verdict in ((0.02, "no detectable difference between classes"),
                         (0.5, "so the encoder pulls some classes apart more than others")):
        log_ratio = rng.normal(0, 0.3, 60) + gap * (y == 1)
        arrays = {"y": y, "trained.stretch_same": same, "trained.stretch_other": same * np.exp(log_ratio),
                  "pca.stretch_same": same, "pca.stretch_other": same}
        rows = [{"encoder": "pca", "class": "all", "n": 60.0, "log_volume": 0.0, "stretch_ratio": 1.0,
                 "stretch_ratio_low": 1.0, "stretch_ratio_high": 1.0}]
        for label in ("all", 0.0, 1.0, 2.0):
            members = log_ratio if label == "all" else log_ratio[y == label]
            half = 2.09 * members.std(ddof=1) / np.sqrt(len(members))
            rows.append({"encoder": "trained", "class": label, "n": float(len(members)), "log_volume": 0.0,
                         "stretch_ratio": np.exp(members.mean()), "stretch_ratio_low": np.exp(members.mean() - half),
                         "stretch_ratio_high": np.exp(members.mean() + half)})
        text = geometry_sentences(rows, arrays, ["trained", "pca"], ["zero", "one", "two"], 0.05)
        by_ratio = sorted(rows[2:], key=lambda row: row["stretch_ratio"])
        lo, hi = by_ratio[0], by_ratio[-1]
        p = min(1, 3 * stats.ttest_ind(log_ratio[y == hi["class"]], log_ratio[y == lo["class"]], equal_var=False).pvalue)
        assert f"(class {['zero', 'one', 'two'][int(hi['class'])]}, 20 points); Welch's t-test" in text
        assert f"Bonferroni-corrected over the 3 pairs of classes: p = {p:.3g}, {verdict}" in text
