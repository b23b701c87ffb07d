"""Stage 1: train the autoencoder; writes model.pt and train_log.csv."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from aelat import artifacts
from aelat.artifacts import Run
from aelat.config import resolve_device
from aelat.data import load_dataset
from aelat.errors import ConfigError, TrainingError
from aelat.models import Autoencoder, build_model, checkpoint
from aelat.runtime import progress_bar, seed_everything

KEPT = " (nothing was saved; the run's earlier artifacts are kept)"


def run(run: Run) -> None:
    cfg = run.cfg
    started = time.perf_counter()
    data = load_dataset(cfg)
    if cfg.train.batch_size > len(data.x_train):
        raise ConfigError(
            f"train.batch_size={cfg.train.batch_size} exceeds the {len(data.x_train)} training samples; lower it"
        )
    run.path.mkdir(parents=True, exist_ok=True)  # fail on an unwritable output_dir before training, not after
    device = resolve_device(cfg)
    seed_everything(cfg.seed)
    model = build_model(cfg.model, data.sample_shape, cfg.latent_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    x_train, x_test = data.x_train.to(device), data.x_test.to(device)
    order = torch.Generator().manual_seed(cfg.seed)

    rows = ["epoch,train_loss,test_loss,test_recon_mse,seconds"]
    with progress_bar() as bar:
        task = bar.add_task(f"train {run.path.name}", total=cfg.train.epochs, status="")
        for epoch in range(1, cfg.train.epochs + 1):
            tic = time.perf_counter()
            train_loss = _train_epoch(model, optimizer, x_train, cfg.train.batch_size, order, epoch)
            test_loss, test_mse = test_objective(model, x_test, cfg.train.batch_size), reconstruction_mse(model, x_test)
            if not np.isfinite([test_loss, test_mse]).all():
                raise TrainingError(f"test loss became {test_loss} after epoch {epoch}; lower train.lr{KEPT}")
            rows.append(f"{epoch},{train_loss:.6g},{test_loss:.6g},{test_mse:.6g},{time.perf_counter() - tic:.3f}")
            bar.update(task, advance=1, status=f"loss train {train_loss:.4f} test {test_loss:.4f}")

    with artifacts.atomic_path(run.file(artifacts.MODEL)) as tmp:
        torch.save(checkpoint(model, cfg.model), tmp)
    artifacts.write_text(run.file(artifacts.TRAIN_LOG), "\n".join(rows) + "\n")
    run.save_config()
    run.record("train", [artifacts.MODEL, artifacts.TRAIN_LOG], {}, time.perf_counter() - started)


def _train_epoch(model: Autoencoder, optimizer, x: torch.Tensor, batch_size: int, order, epoch: int) -> float:
    """One pass over ``x`` in a seeded random order of index-sliced batches; returns the mean loss."""
    model.train()
    permutation = torch.randperm(len(x), generator=order).to(x.device)
    total = torch.zeros((), device=x.device)
    for batch, start in enumerate(range(0, len(x), batch_size)):
        index = permutation[start : start + batch_size]
        loss = model.loss(x[index])
        if not torch.isfinite(loss):
            raise TrainingError(
                f"loss became {loss.item()} at epoch {epoch}, batch {batch}; lower train.lr{KEPT}"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(index)
    return float(total) / len(x)


@torch.inference_mode()
def test_objective(model: Autoencoder, x: torch.Tensor, batch_size: int) -> float:
    """The training objective on held-out data, batch by batch, in evaluation mode."""
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        total += float(model.loss(batch)) * len(batch)
    return total / len(x)


@torch.inference_mode()
def reconstruction_mse(model: Autoencoder, x: torch.Tensor, batch_size: int = 4096) -> float:
    """Mean squared error per pixel of ``model``'s reconstruction of ``x``."""
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        total += float(nn.functional.mse_loss(model(batch), batch, reduction="sum"))
    return total / x.numel()
