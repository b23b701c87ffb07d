"""train.snapshots: the codes of a fixed sample over training, resumable, and harmless to training itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelat import artifacts
from aelat.artifacts import Run, run_dir_for
from aelat.config import compose, config_hash
from aelat.data import dataset_digest, load_dataset
from aelat.data.sample import draw_sample
from aelat.models import build_model, load_checkpoint
from aelat.models.inference import encode, reconstruction_mse
from aelat.models.snapshots import snapshot_epochs
from aelat.runtime import seed_everything
from aelat.stages import analyse as analyse_stage
from aelat.stages import encode as encode_stage
from aelat.stages import train as train_stage
from test_train_resume import assert_same_weights, interrupt_at, weights

SMALL = ["model.hidden=[32]", "latent_dim=3", "train.snapshot_train=300", "train.snapshot_test=120",
         "analyse.geometry_points=100", "analyse.holes.n_prior=500"]


def make_run(out, *overrides: str) -> Run:
    cfg = compose([*SMALL, f"output_dir={out}", *overrides])
    return Run(run_dir_for(cfg), cfg, dataset_digest)


@pytest.mark.parametrize("epochs, expected", [(1, [0, 1]), (8, [0, 1, 2, 4, 8]), (10, [0, 1, 2, 4, 8, 10]),
                                              (30, [0, 1, 2, 4, 8, 16, 30])])
def test_default_snapshots_double_and_end_at_the_last_epoch(epochs, expected):
    assert snapshot_epochs(None, epochs) == expected
    assert snapshot_epochs([5, 0, 5, 2], epochs) == [0, 2, 5] and snapshot_epochs([], epochs) == []


def test_snapshots_hold_the_sample_codes_at_each_epoch(tmp_path):
    run = make_run(tmp_path, "train.epochs=3")
    train_stage.run(run)
    snaps = artifacts.read_npz(run.file(artifacts.SNAPSHOTS))
    data = load_dataset(run.cfg)
    sample = draw_sample(run.cfg, len(data.x_train), len(data.x_test))
    assert snaps["epochs"].tolist() == [0, 1, 2, 3]
    assert snaps["train"].shape == (4, 300, 3) and snaps["test"].shape == (4, 120, 3)
    np.testing.assert_array_equal(snaps["train_index"], sample.train)
    np.testing.assert_array_equal(snaps["y_test"], data.y_test[sample.test].numpy())
    assert len(set(sample.train.tolist())) == 300 and np.all(np.diff(sample.train) > 0)

    seed_everything(run.cfg.seed)  # an independently built untrained network: epoch 0
    untrained = build_model(run.cfg.model, data.sample_shape, run.cfg.latent_dim)
    np.testing.assert_allclose(snaps["train"][0], encode(untrained, data.x_train[sample.train]), rtol=1e-6, atol=1e-7)
    trained = load_checkpoint(run.file(artifacts.MODEL), torch.device("cpu"))  # the last epoch: model.pt
    np.testing.assert_allclose(snaps["test"][-1], encode(trained, data.x_test[sample.test]), rtol=1e-6, atol=1e-7)
    assert snaps["recon_mse"][-1] == pytest.approx(reconstruction_mse(trained, data.x_test[sample.test]))
    assert snaps["recon_mse"][-1] < snaps["recon_mse"][0]
    assert artifacts.SNAPSHOTS in run.manifest()["stages"]["train"]["outputs"]


@pytest.mark.parametrize("model", ["mlp", "vae", "dae"])  # vae and dae draw noise from torch's generator
def test_snapshots_do_not_change_training(model, tmp_path):
    with_snapshots = make_run(tmp_path / "with", f"model={model}", "train.epochs=3", "train.snapshots=[0,1,2,3]")
    without = make_run(tmp_path / "without", f"model={model}", "train.epochs=3", "train.snapshots=[]")
    train_stage.run(with_snapshots)
    train_stage.run(without)
    assert_same_weights(weights(with_snapshots.path), weights(without.path))
    assert not without.file(artifacts.SNAPSHOTS).exists()


def test_resumed_training_gives_the_uninterrupted_dynamics(tmp_path, monkeypatch):
    overrides = ["train.epochs=5", "train.checkpoint_every=2"]
    whole = make_run(tmp_path / "whole", *overrides)
    for stage in (train_stage, encode_stage, analyse_stage):
        stage.run(whole)

    resumed = make_run(tmp_path / "resumed", *overrides)
    interrupt_at(monkeypatch, 4, KeyboardInterrupt())  # after the checkpoint of epoch 2, past the snapshot at 4
    with pytest.raises(KeyboardInterrupt):
        train_stage.run(resumed)
    monkeypatch.undo()
    for stage in (train_stage, encode_stage, analyse_stage):
        stage.run(resumed)

    a, b = (artifacts.read_npz(run.file(artifacts.SNAPSHOTS)) for run in (whole, resumed))
    assert a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)
    assert a["epochs"].tolist() == [0, 1, 2, 4, 5]
    assert resumed.file(artifacts.DYNAMICS).read_bytes() == whole.file(artifacts.DYNAMICS).read_bytes()
    assert resumed.file(artifacts.DYNAMICS_MAPS).read_bytes() == whole.file(artifacts.DYNAMICS_MAPS).read_bytes()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train.snapshots=[0,2,9]"], "train.snapshots has epoch 9 but training stops after train.epochs=3; "
                                      "drop it or raise train.epochs"),
        (["train.snapshots=[-1]"], "train.snapshots entries=-1 is too small; it must be >= 0"),
        (["train.snapshots=5"], "train.snapshots=5 is not a list"),
        (["train.snapshot_train=0"], "train.snapshot_train=0 is too small; it must be >= 1"),
        (["train.snapshot_test=0"], "train.snapshot_test=0 is too small"),
        (["analyse.geometry_points=0"], "analyse.geometry_points=0 is too small"),
        (["analyse.holes.quantile=1"], "analyse.holes.quantile=1 must be in (0, 1)"),
        (["train.snapshot_train=2000"], "train.snapshot_train=2000 exceeds the 1347 training samples; lower it"),
        (["train.snapshot_test=451"], "train.snapshot_test=451 exceeds the 450 test samples"),
        (["train.snapshot_train=500", "analyse.geometry_points=501"],
         "analyse.geometry_points=501 exceeds the 500 train points of the sample"),
    ],
)
def test_bad_snapshot_settings_are_one_line_and_write_nothing(aelat, out, args, message):
    code, _, stderr = aelat("run", "train.epochs=3", "model.hidden=[16]", "latent_dim=2", *args)
    assert code == 1 and message in stderr, stderr
    assert "Traceback" not in stderr and len([line for line in stderr.splitlines() if "error" in line]) == 1
    assert [path for path in out.rglob("*") if path.is_file()] == []


def test_snapshot_settings_name_another_run_and_analyse_settings_do_not():
    base = compose()
    assert config_hash(compose(["train.snapshots=[]"]), "train") != config_hash(base, "train")
    assert config_hash(compose(["train.snapshot_test=100"]), "train") != config_hash(base, "train")
    other = compose(["analyse.profile.knn_k=5"])
    assert config_hash(other, "train") == config_hash(base, "train")
    assert config_hash(other, "analyse") != config_hash(base, "analyse")
    assert config_hash(other, "report") != config_hash(base, "report")  # the report shows the analyses
