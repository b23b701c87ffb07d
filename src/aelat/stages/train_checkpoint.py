"""checkpoint.pt: the state an interrupted `aelat train` resumes from, saved every few epochs.

It holds everything the remaining epochs depend on — weights, Adam's moments, the batch-order
generator and torch's global generator (dropout-free aelat models draw their noise from it) —
so a resumed run ends with the same weights as one that was never stopped, and the snapshots
taken so far, so its snapshots.npz equals an uninterrupted run's too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import torch

from aelat import artifacts
from aelat.errors import StaleArtifactError
from aelat.models import unreadable_torch_file


@dataclass
class Progress:
    """How far training got: the last finished epoch, the train_log.csv rows and the snapshots so far."""

    epoch: int
    rows: list[str]
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)


def save(path: Path, train_hash: str, progress: Progress, model, optimizer, order: torch.Generator) -> None:
    """Write the checkpoint atomically: a kill leaves the previous one or this one, never half of it."""
    state = {
        "train_hash": train_hash,
        "epoch": progress.epoch,
        "rows": progress.rows,
        "snapshots": progress.snapshots,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "order_rng": order.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    buffer = io.BytesIO()  # serialised first: torch.save reports a full disk as a RuntimeError, a write as OSError
    torch.save(state, buffer)
    artifacts.write_bytes(path, buffer.getvalue())


def restore(path: Path, train_hash: str, model, optimizer, order: torch.Generator) -> Progress | None:
    """Load ``path`` into the model, optimizer and generators; None when there is no checkpoint."""
    if not path.is_file():
        return None
    fix = "delete it to train from the start"
    with unreadable_torch_file(path, "training checkpoint", fix):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["train_hash"] != train_hash:
            raise StaleArtifactError(f"{path} was saved under another training config or from other data; {fix}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        order.set_state(state["order_rng"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        return Progress(state["epoch"], list(state["rows"]), dict(state["snapshots"]))
