"""The whole pipeline through the CLI, and its error paths."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import cdist

import aelat as aelat_api
from aelat import artifacts
from aelat.metrics.structure import knn_accuracy
from conftest import FAST


def brute_force_knn_accuracy(train, y_train, test, y_test, k):
    """Independent kNN: full distance matrix, stable sort, majority vote (ties to the smallest label)."""
    nearest = np.argsort(cdist(test, train), axis=1, kind="stable")[:, :k]
    votes = np.apply_along_axis(np.bincount, 1, y_train[nearest], minlength=y_train.max() + 1)
    return float(np.mean(votes.argmax(axis=1) == y_test))


def test_aelat_run_end_to_end_on_digits(tmp_path):
    """The installed console script runs every stage; the trained latent beats the untrained encoder."""
    out = tmp_path / "outputs"
    env = {**os.environ, "COLUMNS": "120"}
    command = [Path(sys.executable).with_name("aelat"), "run", f"output_dir={out}", "seed=0"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "class structure" in result.stdout and "tsne(latent)" in result.stdout

    run_dir = (out / "latest").resolve()
    assert run_dir.name.startswith("digits-mlp-d16-s0-")
    maps = {f"embedding_{m}{s}.{ext}" for m in ("tsne", "pca") for s in ("", "_raw", "_pca", "_untrained")
            for ext in ("npz", "png")} - {"embedding_pca_pca.npz", "embedding_pca_pca.png"}  # pca(pca) is pca(raw)
    report = {"report.md", "report.html", "report_maps_tsne.png", "report_maps_pca.png", "report_sliced_wasserstein.png",
              "report_training.png", "report_reconstructions.png", "report_latent_marginals.png",
              "report_latent_corner.png", "report_gaussianity.png", "report_dynamics.png", "report_dynamics_maps.png",
              "report_layers.png", "report_geometry.png", "report_dynamics_maps.gif"}
    analyses = {"snapshots.npz", "dynamics.csv", "dynamics_maps.npz", "dynamics_points.npz", "layers.csv",
                "layers_points.npz", "geometry.csv", "geometry.npz"}
    assert {p.name for p in run_dir.iterdir()} == {
        "config.yaml", "run.json", "model.pt", "train_log.csv", "latents.npz", "metrics.json", "moments.npz",
        "predictions.npz", "findings.json", *maps, *report, *analyses,
    }
    log = np.genfromtxt(run_dir / "train_log.csv", delimiter=",", names=True)
    assert len(log) == 30 and log["test_loss"][-1] < log["test_loss"][0]

    latents = artifacts.read_npz(run_dir / "latents.npz")
    assert latents["z_train"].shape == (1347, 16) and latents["z_test"].shape == (450, 16)
    assert latents["raw_train"].shape == (1347, 64) and latents["pca_train"].shape == (1347, 16)
    assert latents["untrained_test"].shape == (450, 16)
    assert latents["z_train"].dtype == np.float32 and latents["y_train"].dtype == np.int64

    scores = json.loads((run_dir / "metrics.json").read_text())["representations"]
    assert len(scores) == 11  # 4 representations + 7 maps (pca of pca would repeat pca of raw)
    for name, key in artifacts.REPRESENTATIONS.items():
        expected = brute_force_knn_accuracy(
            latents[f"{key}_train"], latents["y_train"], latents[f"{key}_test"], latents["y_test"], 10
        )
        assert scores[name]["structure"]["knn_accuracy_10"] == pytest.approx(expected), name
    latent, untrained = scores["latent"]["structure"], scores["untrained"]["structure"]
    assert latent["knn_accuracy_10"] > untrained["knn_accuracy_10"] + 0.03, (latent, untrained)
    # PCA's reconstruction error is the variance its discarded components carry
    raw_test = latents["raw_test"]
    assert scores["pca"]["recon_mse"] < np.mean((raw_test - raw_test.mean(0)) ** 2)
    assert scores["latent"]["recon_mse"] < scores["untrained"]["recon_mse"]

    with Image.open(run_dir / "embedding_tsne.png") as png:
        assert png.size[0] > 600 and png.size[1] > 300


def test_stages_one_by_one_and_rerun_lands_in_same_folder(aelat, out):
    assert aelat("train", *FAST)[0] == 0
    first = sorted(out.iterdir())
    assert aelat("encode")[0] == 0 and aelat("embed", "--method", "pca")[0] == 0  # defaults to outputs/latest
    code, stdout, _ = aelat("evaluate", *FAST)  # overrides name the same run
    assert code == 0 and "pca(latent)" in stdout
    assert aelat("train", *FAST)[0] == 0
    assert sorted(p for p in out.iterdir() if p.name != ".cache") == first  # .cache: evaluate's score cache


def test_run_given_as_the_latest_link_keeps_the_link_pointing_at_the_run(aelat, out):
    assert aelat("train", *FAST)[0] == 0 and aelat("encode")[0] == 0
    run_dir = (out / "latest").resolve()
    code, _, stderr = aelat("embed", "--method", "pca", "--run", str(out / "latest"))
    assert code == 0, stderr
    assert (out / "latest").resolve() == run_dir and (out / "latest" / "embedding_pca.npz").is_file()


def test_tsne_map_is_reproducible(aelat, out):
    assert aelat("train", *FAST)[0] == 0 and aelat("encode")[0] == 0
    maps = []
    for _ in range(2):
        assert aelat("embed", "--method", "tsne", "embed.max_points=300")[0] == 0
        maps.append(artifacts.read_npz(out / "latest" / "embedding_tsne.npz"))
    np.testing.assert_array_equal(maps[0]["train"], maps[1]["train"])
    np.testing.assert_array_equal(maps[0]["test"], maps[1]["test"])
    assert maps[0]["train"].shape == (300, 2) and len(maps[0]["train_index"]) == 300


def test_missing_artifact_names_the_command(aelat, out):
    assert aelat("train", *FAST)[0] == 0
    code, _, stderr = aelat("evaluate", *FAST)
    assert code == 1
    assert "latents.npz is missing; make it with `aelat encode`" in stderr
    assert "Traceback" not in stderr


def test_stale_artifact_is_refused(aelat, out):
    assert aelat("train", *FAST)[0] == 0 and aelat("encode")[0] == 0
    run_dir = (out / "latest").resolve()
    code, _, stderr = aelat("evaluate", "--run", str(run_dir), "train.lr=0.01", overrides=False)
    assert code == 1 and "was made under another config" in stderr and "aelat encode" in stderr
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "dataset=imagenet"], "unknown dataset 'imagenet'; choose one of:"),
        (["train", "latent_dim=0"], "latent_dim=0 is too small"),
        (["embed", "--method", "isomap"], "unknown embed method 'isomap'; choose one of: tsne, pca"),
        (["embed", "--method", "pca", "--of", "pca"], "the pca map of pca is the pca map of raw (the same points); use --of raw"),
        (["train", "train.batch_size=5000"], "train.batch_size=5000 exceeds the 1347 training samples"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(aelat, out, args, message):
    if args[0] == "embed":
        assert aelat("train", *FAST)[0] == 0 and aelat("encode")[0] == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")} if out.exists() else {}
    code, _, stderr = aelat(*args)
    assert code == 1 and message in stderr
    assert stderr.strip().count("\n") == 0 or stderr.startswith("run:")
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*")} if out.exists() else {}
    assert after == before


def test_run_dir_that_is_not_a_run(aelat, tmp_path):
    code, _, stderr = aelat("encode", "--run", str(tmp_path), overrides=False)
    assert code == 1 and "is not an aelat run" in stderr


@pytest.mark.slow
def test_mnist_latent_clusters_by_class(aelat, out, mnist_npz):
    """Issue's acceptance run: MNIST, latent 16, 10 epochs; kNN-10 on the latent >= 0.96 (evaluate's kNN
    function on the encoded arrays: the whole evaluate of 70,000 points costs minutes and is tested on digits)."""
    for stage in ("train", "encode"):
        code, _, stderr = aelat(stage, "dataset=npz", f"dataset.path={mnist_npz}", "latent_dim=16", "train.epochs=10")
        assert code == 0, stderr
    results = aelat_api.load_run(out / "latest")
    accuracy = {}
    for name in ("latent", "untrained"):
        z = results.representation(name)
        accuracy[name] = knn_accuracy(z.train, z.y_train, z.test, z.y_test, ks=(10,))[10]
    assert accuracy["latent"] >= 0.96, accuracy
    assert accuracy["untrained"] < accuracy["latent"] - 0.02, accuracy


def test_nan_loss_stops_with_epoch_and_batch_and_keeps_the_old_model(aelat, out, monkeypatch):
    assert aelat("train", *FAST)[0] == 0
    model_pt = out / "latest" / "model.pt"
    before = model_pt.read_bytes()
    from aelat.models.mlp import MLPAutoencoder

    calls = {"n": 0}
    real_loss = MLPAutoencoder.loss

    def diverging(self, x):
        calls["n"] += 1
        return real_loss(self, x) * (float("nan") if calls["n"] == 13 else 1.0)

    monkeypatch.setattr(MLPAutoencoder, "loss", diverging)
    code, _, stderr = aelat("train", *FAST)
    # digits: 1347 training images in batches of 128 -> 11 calls an epoch (the held-out pass uses
    # held_out_losses): call 13 is epoch 2, batch 1 (batches count from 0)
    assert code == 1 and "loss became nan at epoch 2, batch 1" in stderr, stderr
    assert model_pt.read_bytes() == before


def test_cuda_asked_for_without_a_device(aelat):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, stderr = aelat("train", "device=cuda")
    assert code == 1 and "device=cuda but torch sees no CUDA device; use device=auto or device=cpu" in stderr


def test_unwritable_output_dir(aelat, tmp_path):
    """/sys refuses new folders even to root, so this runs as any user."""
    code, _, stderr = aelat("train", *FAST, "output_dir=/sys/aelat-test", overrides=False)
    assert code == 1
    assert "cannot write /sys/aelat-test: permission denied; choose a writable output_dir=DIR" in stderr


@pytest.mark.parametrize(
    "family", [["model=conv", "model.channels=[8]"], ["model=vae", "model.hidden=[64]"], ["model=dae", "model.hidden=[64]"]]
)
def test_every_model_family_runs_end_to_end(aelat, out, family):
    code, stdout, stderr = aelat("run", *family, "train.epochs=2", "latent_dim=4", "--method", "pca", "--of", "latent")
    assert code == 0, stderr
    run_dir = (out / "latest").resolve()
    assert run_dir.name.startswith(f"digits-{family[0].split('=')[1]}-d4-")
    latents = artifacts.read_npz(run_dir / "latents.npz")
    assert latents["z_train"].shape == (1347, 4) and latents["untrained_train"].shape == (1347, 4)
    assert ("z_logvar_train" in latents) == (family[0] == "model=vae")
    if family[0] == "model=vae":
        assert latents["z_logvar_test"].shape == (450, 4)
    metrics = json.loads((run_dir / "metrics.json").read_text())["representations"]
    assert set(metrics) == {"raw", "pca", "untrained", "latent", "pca(latent)"}
    assert (run_dir / "report.md").is_file()


def test_conv_on_flat_data_is_one_clear_error(aelat, out, tmp_path):
    from conftest import write_npz

    path = write_npz(tmp_path / "flat.npz", shape=(20,))
    code, _, stderr = aelat("train", "model=conv", "dataset=npz", f"dataset.path={path}", "train.batch_size=16")
    assert code == 1 and "model=conv needs images of shape (C, H, W)" in stderr and "use model=mlp" in stderr


def test_umap_map_through_the_cli(aelat, out):
    assert aelat("train", *FAST)[0] == 0 and aelat("encode")[0] == 0
    code, _, stderr = aelat("embed", "--method", "umap", "--of", "all", "embed.max_points=400")
    assert code == 0, stderr
    code, stdout, _ = aelat("evaluate")
    assert code == 0 and "umap(latent)" in stdout and "umap(raw)" in stdout
    emb = artifacts.read_npz(out / "latest" / "embedding_umap.npz")
    assert emb["train"].shape == (400, 2) and emb["test"].shape == (450, 2)
