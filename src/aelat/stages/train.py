"""Stage 1: train the autoencoder; writes model.pt, train_log.csv and snapshots.npz (the codes of a fixed
sample at the epochs train.snapshots names, epoch 0 being the untrained network)."""

from __future__ import annotations

import io
import time

import numpy as np
import torch

from aelat import artifacts
from aelat.artifacts import Run
from aelat.config import config_hash, resolve_device
from aelat.data import load_dataset
from aelat.data.sample import draw_sample
from aelat.errors import ConfigError, TrainingError
from aelat.models import Autoencoder, checkpoint, initial_model
from aelat.models.inference import held_out_scores
from aelat.models.snapshots import snapshot_epochs, stack_snapshots, take_snapshot
from aelat.runtime import console, denormals_flushed, deterministic_torch, progress_bar, use_threads
from aelat.stages import train_checkpoint


def run(run: Run) -> None:
    with denormals_flushed():  # first: torch's threads copy the setting when they start
        use_threads(run.cfg.get("threads"))  # before deterministic_torch, which runs torch on one thread
        with deterministic_torch(run.cfg.train.get("deterministic", False)):
            _run(run)


def _run(run: Run) -> None:
    cfg = run.cfg
    started = time.perf_counter()
    data = load_dataset(cfg)
    run.dataset_digest()  # of the files just read, for run.json
    if cfg.train.batch_size > len(data.x_train):
        raise ConfigError(
            f"train.batch_size={cfg.train.batch_size} exceeds the {len(data.x_train)} training samples; lower it"
        )
    sample = draw_sample(cfg, len(data.x_train), len(data.x_test))  # refuses sample sizes the data cannot give
    if cfg.latent_dim >= data.n_features:
        console().print(
            f"warning: latent_dim={cfg.latent_dim} >= the {data.n_features} input dimensions: nothing forces the "
            f"code to compress, and the PCA baseline keeps at most {min(data.n_features, len(data.x_train))} "
            "components")
    run.path.mkdir(parents=True, exist_ok=True)  # fail on an unwritable output_dir before training, not after
    device = resolve_device(cfg)
    model = initial_model(cfg, data).to(device)
    # fused: one kernel per parameter instead of about ten, so fewer OpenMP regions whose idle threads
    # must be woken (see aelat/__init__.py); the same update, to round-off
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay,
                                 fused=True)
    x_train, x_test = data.x_train.to(device), data.x_test.to(device)
    order = torch.Generator().manual_seed(cfg.seed)
    # the training config and the data it trains on: epochs trained on other data are never resumed
    checkpoint_path, train_hash = run.file(artifacts.CHECKPOINT), f"{config_hash(cfg, 'train')}/{run.dataset_digest()}"
    progress = train_checkpoint.restore(checkpoint_path, train_hash, model, optimizer, order)
    if progress is None:
        progress = train_checkpoint.Progress(0, ["epoch,train_loss,test_loss,test_recon_mse,seconds"])
    else:
        console().print(f"resume: training from {checkpoint_path.name} after epoch {progress.epoch} of {cfg.train.epochs}")
    loss_of = torch.compile(model.loss) if cfg.train.compile else model.loss
    every = cfg.train.checkpoint_every
    snap_at = snapshot_epochs(cfg.train.snapshots, cfg.train.epochs)
    snap_x = (x_train[torch.from_numpy(sample.train).to(device)], x_test[torch.from_numpy(sample.test).to(device)])
    if 0 in snap_at and progress.epoch == 0:
        progress.snapshots[0] = take_snapshot(model, *snap_x)

    with progress_bar() as bar:
        task = bar.add_task(f"train {run.path.name}", total=cfg.train.epochs, completed=progress.epoch, status="",
                            unit="epoch")
        for epoch in range(progress.epoch + 1, cfg.train.epochs + 1):
            tic = time.perf_counter()
            try:
                train_loss = _train_epoch(model, loss_of, optimizer, x_train, cfg.train.batch_size, order, epoch)
                test_loss, test_mse = held_out_scores(model, x_test)
                if not np.isfinite([test_loss, test_mse]).all():
                    raise TrainingError(f"test loss became {test_loss} after epoch {epoch}; lower train.lr")
            except TrainingError as exc:
                raise TrainingError(f"{exc}{_kept(checkpoint_path)}") from None
            progress.rows.append(
                f"{epoch},{train_loss:.6g},{test_loss:.6g},{test_mse:.6g},{time.perf_counter() - tic:.3f}"
            )
            progress.epoch = epoch
            if epoch in snap_at:
                progress.snapshots[epoch] = take_snapshot(model, *snap_x)
            if every and epoch % every == 0 and epoch < cfg.train.epochs:
                train_checkpoint.save(checkpoint_path, train_hash, progress, model, optimizer, order)
            bar.update(task, advance=1, status=f"loss train {train_loss:.4f} test {test_loss:.4f}")

    weights = io.BytesIO()  # serialised first: torch.save reports a full disk as a RuntimeError, a write as OSError
    torch.save(checkpoint(model, cfg.model), weights)
    with run.making("train", {}, started) as out:
        artifacts.write_bytes(out(artifacts.MODEL), weights.getvalue())
        artifacts.write_text(out(artifacts.TRAIN_LOG), "\n".join(progress.rows) + "\n")
        if snap_at:
            labels = {"y_train": data.y_train[sample.train].numpy(), "y_test": data.y_test[sample.test].numpy()}
            artifacts.write_npz(out(artifacts.SNAPSHOTS), train_index=sample.train, test_index=sample.test,
                                **labels, **stack_snapshots(progress.snapshots))
    checkpoint_path.unlink(missing_ok=True)


def _kept(checkpoint_path) -> str:
    """What a diverged run leaves behind, for its error message."""
    if checkpoint_path.is_file():
        epoch = torch.load(checkpoint_path, map_location="cpu", weights_only=True)["epoch"]
        return f" (the last good checkpoint, after epoch {epoch}, is kept in {checkpoint_path}; model.pt is untouched)"
    return " (nothing was saved; the run's earlier artifacts are kept)"


def _train_epoch(model: Autoencoder, loss_of, optimizer, x: torch.Tensor, batch_size: int, order, epoch: int) -> float:
    """One pass over ``x`` in a seeded random order of index-sliced batches; returns the mean loss.

    ``loss_of`` is ``model.loss`` or its compiled version.
    """
    model.train()
    permutation = torch.randperm(len(x), generator=order).to(x.device)
    total = torch.zeros((), device=x.device)
    for batch, start in enumerate(range(0, len(x), batch_size)):
        index = permutation[start : start + batch_size]
        loss = loss_of(x[index])
        if not torch.isfinite(loss):
            raise TrainingError(f"loss became {loss.item()} at epoch {epoch}, batch {batch}; lower train.lr")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(index)
    return float(total) / len(x)
