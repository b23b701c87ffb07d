"""Interrupted training resumes from checkpoint.pt and ends with the weights of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from aelat import artifacts
from aelat.artifacts import Run, run_dir_for
from aelat.cli import app
from aelat.config import compose
from aelat.data import dataset_digest
from aelat.errors import StaleArtifactError, TrainingError
from aelat.stages import train as train_stage

AELAT = Path(sys.executable).with_name("aelat")
SMALL = ["model.hidden=[64]", "latent_dim=4"]


def make_run(out: Path, *overrides: str) -> Run:
    cfg = compose([*SMALL, f"output_dir={out}", *overrides])
    return Run(run_dir_for(cfg), cfg, dataset_digest)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / artifacts.MODEL, weights_only=True)["state_dict"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert not different, different


def losses(run_dir: Path) -> list[list[str]]:
    """train_log.csv without the seconds column."""
    return [line.split(",")[:-1] for line in (run_dir / artifacts.TRAIN_LOG).read_text().splitlines()]


def interrupt_at(monkeypatch, epoch: int, error: BaseException) -> None:
    """Make ``_train_epoch`` raise ``error`` when it starts ``epoch``."""
    real = train_stage._train_epoch

    def train_epoch(model, loss_of, optimizer, x, batch_size, order, at):
        if at == epoch:
            raise error
        return real(model, loss_of, optimizer, x, batch_size, order, at)

    monkeypatch.setattr(train_stage, "_train_epoch", train_epoch)


@pytest.mark.parametrize("model", ["mlp", "vae", "dae"])  # vae and dae draw noise from torch's generator
def test_resumed_training_ends_with_the_uninterrupted_weights(model, tmp_path, monkeypatch):
    overrides = [f"model={model}", "train.epochs=5", "train.checkpoint_every=2"]
    whole = make_run(tmp_path / "whole", *overrides)
    train_stage.run(whole)
    assert not whole.file(artifacts.CHECKPOINT).exists()  # removed once model.pt is recorded

    resumed = make_run(tmp_path / "resumed", *overrides)
    interrupt_at(monkeypatch, 4, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        train_stage.run(resumed)
    assert resumed.file(artifacts.CHECKPOINT).is_file() and not resumed.file(artifacts.MODEL).exists()
    monkeypatch.undo()
    train_stage.run(resumed)

    assert_same_weights(weights(resumed.path), weights(whole.path))
    assert losses(resumed.path) == losses(whole.path)
    assert not resumed.file(artifacts.CHECKPOINT).exists()


def test_checkpoint_every_does_not_name_another_run(tmp_path):
    assert make_run(tmp_path, "train.checkpoint_every=1").path == make_run(tmp_path, "train.checkpoint_every=7").path
    assert make_run(tmp_path, "train.compile=true").path != make_run(tmp_path).path


def test_sigkilled_train_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "outputs"
    args = [str(AELAT), "train", *SMALL, "train.epochs=200", "train.checkpoint_every=1", f"output_dir={out}"]
    run_dir = make_run(out, "train.epochs=200").path
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (run_dir / artifacts.CHECKPOINT).is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (run_dir / artifacts.CHECKPOINT).is_file() and not (run_dir / artifacts.MODEL).exists(), "killed too late"

    resumed = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resume: training from checkpoint.pt after epoch" in resumed.stderr
    whole = make_run(tmp_path / "whole", "train.epochs=200")
    train_stage.run(whole)
    assert_same_weights(weights(run_dir), weights(whole.path))


def test_diverged_training_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    run = make_run(tmp_path, "train.epochs=5", "train.checkpoint_every=2")
    real = train_stage._train_epoch

    def poisoned(model, loss_of, optimizer, x, batch_size, order, epoch):
        if epoch == 4:  # a weight turned NaN: the real loss check must catch it in the first batch
            next(model.parameters()).data.fill_(float("nan"))
        return real(model, loss_of, optimizer, x, batch_size, order, epoch)

    monkeypatch.setattr(train_stage, "_train_epoch", poisoned)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 4, batch 0; lower train.lr \(the last good "
                                            r"checkpoint, after epoch 2, is kept in .*checkpoint.pt"):
        train_stage.run(run)
    saved = torch.load(run.file(artifacts.CHECKPOINT), weights_only=True)
    assert saved["epoch"] == 2 and all(torch.isfinite(v).all() for v in saved["model"].values())
    assert not run.file(artifacts.MODEL).exists()


def test_checkpoint_of_another_training_config_is_refused(tmp_path, monkeypatch):
    run = make_run(tmp_path, "train.epochs=3", "train.checkpoint_every=1")
    interrupt_at(monkeypatch, 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        train_stage.run(run)
    monkeypatch.undo()
    other = make_run(tmp_path, "train.epochs=4")
    other.path.mkdir(parents=True)
    run.file(artifacts.CHECKPOINT).rename(other.file(artifacts.CHECKPOINT))
    with pytest.raises(StaleArtifactError, match="saved under another training config or from other data; delete it"):
        train_stage.run(other)


def test_checkpoint_of_data_changed_since_is_refused(tmp_path, monkeypatch):
    """The dataset file rewritten between the interruption and the resume: the epochs trained so far saw
    other data, so they are not resumed."""
    import numpy as np

    from conftest import write_npz

    data = write_npz(tmp_path / "data.npz")
    overrides = ("dataset=npz", f"dataset.path={data}", "train.epochs=3", "train.checkpoint_every=1", "train.batch_size=8")
    run = make_run(tmp_path, *overrides)
    interrupt_at(monkeypatch, 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        train_stage.run(run)
    monkeypatch.undo()
    assert run.file(artifacts.CHECKPOINT).is_file()
    write_npz(data, Xtr=np.random.default_rng(1).integers(0, 256, size=(40, 6, 6), dtype=np.uint8))
    with pytest.raises(StaleArtifactError, match="saved under another training config or from other data; delete it"):
        train_stage.run(make_run(tmp_path, *overrides))


def test_compiled_training_step_matches_eager(tmp_path):
    eager, compiled = make_run(tmp_path, "train.epochs=2"), make_run(tmp_path, "train.epochs=2", "train.compile=true")
    train_stage.run(eager)
    train_stage.run(compiled)
    a, b = weights(eager.path), weights(compiled.path)
    assert a.keys() == b.keys()  # the saved model is the plain module, not the compiled wrapper
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5)


def test_ctrl_c_is_one_line_that_says_how_to_resume(tmp_path, monkeypatch):
    interrupt_at(monkeypatch, 3, KeyboardInterrupt())
    args = ["train", *SMALL, "train.epochs=4", "train.checkpoint_every=2", f"output_dir={tmp_path}"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines()[-1] == (
        "aelat: interrupted; finished artifacts are kept (training also in checkpoint.pt): "
        "run the same command again to resume"
    )
    assert make_run(tmp_path, "train.epochs=4").file(artifacts.CHECKPOINT).is_file()

