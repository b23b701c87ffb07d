"""The computed sentences of the report's analysis sections."""

import numpy as np
import pytest

from aelat.report_analysis import dynamics_sentences, epoch_reaching, geometry_sentences, layers_sentences


@pytest.mark.parametrize("values, expected", [([0, 0.5, 0.95, 1.0], 2), ([1.0, 0.2, 0.1, 0.0], 2), ([1.0, 0.05, 0.1, 0.0], 1),
                                               ([0, 1.2, 1.0, 1.0], 1), ([0.3, 0.3, 0.3, 0.3], None)])
def test_epoch_reaching_ninety_percent_of_the_change(values, expected):
    assert epoch_reaching([0, 1, 2, 4], values) == expected


def dynamics_row(representation, epoch, knn, share, nmi):
    return {"representation": representation, "epoch": epoch, "knn_accuracy": knn,
            "between_class_variance_share": share, "gmm_nmi": nmi}


def test_dynamics_sentences_name_start_end_baselines_and_when():
    rows = [dynamics_row("raw", None, 0.9, 0.2, 0.4), dynamics_row("pca", None, 0.91, 0.3, 0.6),
            dynamics_row("untrained", None, 0.6, 0.18, 0.3), dynamics_row("latent", 0.0, 0.6, 0.18, 0.3),
            dynamics_row("latent", 1.0, 0.9, 0.4, 0.5), dynamics_row("latent", 2.0, 0.95, 0.4, 0.7)]
    text = dynamics_sentences(rows, 10)
    assert "From the untrained network (epoch 0) to epoch 2, kNN@10 from 0.600 to 0.950" in text
    assert "raw: 0.900, 0.200, 0.400; pca: 0.910, 0.300, 0.600" in text
    assert "by epoch 2 for kNN@10, 1 for the between-class variance share, 2 for GMM NMI (of 2)" in text


def layer_row(encoder, name, twonn, knn, share, to_next):
    return {"encoder": encoder, "name": name, "twonn_dimension": twonn, "knn_accuracy": knn,
            "between_class_variance_share": share, "sw_to_next": to_next}


@pytest.mark.parametrize("ids, shape", [([10, 14, 8], "rises to a peak at dense 1 and falls to the latent (a hunchback)"),
                                        ([14, 10, 8], "largest at the input and lower at every later layer"),
                                        ([8, 10, 14], "largest at the latent")])
def test_layers_sentences_describe_the_dimension_profile(ids, shape):
    rows = [layer_row("trained", name, i, 0.9, 0.3, move) for name, i, move in
            zip(["input", "dense 1", "latent"], ids, [0.1, 0.4, None])]
    rows += [layer_row("untrained", name, 12.0, 0.8, 0.2, move) for name, move in
             zip(["input", "dense 1", "latent"], [0.2, 0.3, None])]
    text = layers_sentences(rows, 10)
    assert shape in text
    assert "most between dense 1 and latent (normalised SW₂ 0.40)" in text


def test_geometry_sentences_call_a_difference_only_when_its_interval_excludes_one():
    rng = np.random.default_rng(0)
    same = rng.uniform(0.5, 1.5, 200)
    arrays = {"trained.stretch_same": same, "trained.stretch_other": 2.0 * same * rng.uniform(0.9, 1.1, 200),
              "untrained.stretch_same": same, "untrained.stretch_other": same * rng.uniform(0.9, 1.1, 200),
              "pca.stretch_same": same, "pca.stretch_other": 2.0 * same * rng.uniform(0.9, 1.1, 200)}
    pooled = {"class": "all", "n": 200.0, "log_volume": 0.0, "stretch_ratio": 2.0, "stretch_ratio_low": 1.9,
              "stretch_ratio_high": 2.1}
    rows = [{**pooled, "encoder": name} for name in ("trained", "untrained", "pca")]
    text = geometry_sentences(rows, arrays, ["trained", "untrained", "pca"], [str(c) for c in range(10)])
    assert "times the untrained one's: higher" in text
    assert "times the pca one's: no detectable difference" in text
