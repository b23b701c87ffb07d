"""Data that are not pixels: string labels, class names, feature scaling, vectors in the report."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from aelat import artifacts
from aelat.config import compose
from aelat.data import load_dataset
from aelat.data.npz import load_npz
from aelat.errors import ConfigError, DataError
from aelat.models import build_model

EVAL_FAST = ["evaluate.distribution.n_bootstrap=10", "evaluate.neighbourhood.sample_size=50"]


def features(path, n_train=240, n_test=60, dim=20, rank=4, labels=("cat", "dog", "eel"), offset=50.0, **extra):
    """Low-rank feature vectors far outside [0, 1] (around ``offset``, spread ~10), one cluster per label."""
    rng = np.random.default_rng(0)
    n = n_train + n_test
    y = np.array(labels)[np.arange(n) % len(labels)]
    centres = rng.normal(0, 3, size=(len(labels), rank))
    codes = centres[np.arange(n) % len(labels)] + rng.normal(0, 1, size=(n, rank))
    x = offset + 3 * codes @ rng.normal(size=(rank, dim)) + 0.05 * rng.normal(size=(n, dim))
    arrays = {"Xtr": x[:n_train], "ytr": y[:n_train], "Xte": x[n_train:], "yte": y[n_train:], **extra}
    np.savez(path, **arrays)
    return path


def test_string_labels_become_codes_with_their_names(tmp_path):
    path = features(tmp_path / "f.npz")
    data = load_npz(path, scale="none")
    raw = np.load(path)
    assert data.class_names == ("cat", "dog", "eel")
    assert data.y_train.dtype == torch.int64
    assert [data.class_names[i] for i in data.y_test.tolist()] == raw["yte"].tolist()


def test_class_names_from_the_file_and_from_the_config(tmp_path):
    path = write_labelled(tmp_path / "n.npz", class_names=np.array(["zero", "one", "two"]))
    assert load_npz(path).class_names == ("zero", "one", "two")
    cfg = compose(["dataset=npz", f"dataset.path={path}", "dataset.class_names=[a,b,c]"])
    assert load_dataset(cfg).class_names == ("a", "b", "c")
    with pytest.raises(ConfigError, match=r"^dataset.class_names gives 2 class names but the data has 3 classes"):
        load_dataset(compose(["dataset=npz", f"dataset.path={path}", "dataset.class_names=[a,b]"]))
    with pytest.raises(DataError, match=r"n.npz:class_names gives 4 class names but the data has 3 classes"):
        load_npz(write_labelled(tmp_path / "n.npz", class_names=np.array(["a", "b", "c", "d"])))


def write_labelled(path, **extra):
    rng = np.random.default_rng(1)
    np.savez(path, Xtr=rng.integers(0, 256, (30, 4, 4), dtype=np.uint8), ytr=np.arange(30) % 3,
             Xte=rng.integers(0, 256, (9, 4, 4), dtype=np.uint8), yte=np.arange(9) % 3, **extra)
    return path


def test_labels_of_two_kinds_are_refused(tmp_path):
    path = features(tmp_path / "f.npz")
    mixed = dict(np.load(path))
    mixed["yte"] = np.arange(60) % 3
    np.savez(tmp_path / "mixed.npz", **mixed)
    with pytest.raises(DataError, match="labels of different kinds"):
        load_npz(tmp_path / "mixed.npz", scale="none")


@pytest.mark.parametrize("scale", ["unit", "minmax", "standard", "none"])
def test_scale(tmp_path, scale):
    path = features(tmp_path / "f.npz")
    raw = np.load(path)
    if scale == "unit":
        with pytest.raises(DataError, match=r"pixel values span .* dataset.scale=standard, minmax or none"):
            load_npz(path, scale=scale)
        return
    data = load_npz(path, scale=scale)
    train, test = raw["Xtr"], raw["Xte"]
    if scale == "standard":  # fitted on train only, applied to both
        mean, std = train.mean(0), train.std(0)
    elif scale == "minmax":
        mean, std = train.min(0), train.max(0) - train.min(0)
    else:
        mean, std = 0.0, 1.0
    np.testing.assert_allclose(data.x_train.numpy(), (train - mean) / std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(data.x_test.numpy(), (test - mean) / std, rtol=1e-4, atol=1e-4)
    assert data.unit_range == (scale == "minmax" and bool(data.x_test.min() >= 0 and data.x_test.max() <= 1))


@pytest.mark.parametrize("name", ["mlp", "vae", "dae"])
def test_decoders_are_linear_for_features_outside_the_unit_range(name):
    model = build_model({"name": name, "hidden": [16]}, (20,), 4, unit_range=False)
    with torch.no_grad():
        decoded = model.decode(torch.full((3, 4), 50.0))
    assert float(decoded.abs().max()) > 1, "a sigmoid would squash the output into [0, 1]"
    assert torch.equal(build_model({"name": name, "hidden": [16]}, (20,), 4).output(torch.tensor([9.0])),
                       torch.sigmoid(torch.tensor([9.0])))


def test_standardised_features_run_end_to_end(tmp_path, aelat, out):
    """A sigmoid decoder cannot reconstruct standardised features (MSE >= 0.58 per unit variance); a linear one can."""
    path = features(tmp_path / "f.npz")
    code, _, stderr = aelat("run", "dataset=npz", f"dataset.path={path}", "dataset.scale=standard", "latent_dim=4",
                            "model.hidden=[64]", "train.epochs=60", "train.batch_size=32", *EVAL_FAST,
                            "--method", "pca", "--of", "latent")
    assert code == 0, stderr
    run = (out / "latest").resolve()
    latents = artifacts.read_npz(run / artifacts.LATENTS)
    assert float(latents["recon_mse_latent"]) < 0.3, float(latents["recon_mse_latent"])
    assert latents["class_names"].tolist() == ["cat", "dog", "eel"]
    metrics = json.loads((run / artifacts.METRICS).read_text())
    assert metrics["representations"]["latent"]["structure"]["knn_accuracy_1"] > 0.9
    report = (run / "report.md").read_text()
    assert "report_reconstructions.png" not in report and not (run / "report_reconstructions.png").exists()
    assert "report_training.png" in report
    # analyse's untrained baseline is the network training started from, linear decoder included
    with open(run / artifacts.DYNAMICS, newline="") as fh:
        dynamics = {(row["representation"], row["epoch"]): row for row in csv.DictReader(fh)}
    assert float(dynamics["untrained", ""]["recon_mse"]) == pytest.approx(float(dynamics["latent", "0"]["recon_mse"]),
                                                                          rel=1e-5)


def test_a_latent_as_wide_as_the_input_warns_and_runs(tmp_path, aelat, out):
    path = features(tmp_path / "f.npz", dim=6)
    code, _, stderr = aelat("train", "dataset=npz", f"dataset.path={path}", "dataset.scale=standard", "latent_dim=8",
                            "model.hidden=[16]", "train.epochs=1")
    assert code == 0, stderr
    warning = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert warning == ["warning: latent_dim=8 >= the 6 input dimensions: nothing forces the code to compress, "
                       "and the PCA baseline keeps at most 6 components"]
    code, _, stderr = aelat("encode")
    assert code == 0, stderr
    assert artifacts.read_npz((out / "latest").resolve() / artifacts.LATENTS)["pca_train"].shape == (240, 6)


def test_feature_vectors_are_never_pictures_whatever_their_length():
    """36 features in [0, 1] are no 6 x 6 image (nor 64 an 8 x 8 one); image-shaped samples are."""
    from aelat.plots.images import pictured

    rng = np.random.default_rng(0)
    for length in (36, 64, 784, 20):
        assert not pictured(rng.random((5, length))), length
    assert pictured(rng.random((5, 1, 6, 6))) and pictured(rng.random((5, 3, 8, 8))) and pictured(rng.random((5, 6, 6)))
    assert not pictured(rng.normal(size=(5, 1, 6, 6)))  # standardised: outside [0, 1]


def test_values_whose_squares_overflow_are_refused_unscaled_and_scaled_otherwise(tmp_path):
    """scale=none keeps values as they are, so 1e20 would make every squared distance inf: refused in one
    line naming the fix; standardised, the same data load."""
    path = features(tmp_path / "f.npz")
    arrays = dict(np.load(path))
    arrays["Xtr"] = arrays["Xtr"] * 1e20
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=r"Xtr values reach .*overflow float32.*dataset.scale=standard"):
        load_npz(path, scale="none")
    assert np.isfinite(load_npz(path, scale="standard").x_train.numpy()).all()
