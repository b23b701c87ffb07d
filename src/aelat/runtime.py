"""Process-wide set-up shared by the stages: seeding, cores and progress bars."""

from __future__ import annotations

import os
import random

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (aelat also passes ``seed`` explicitly)."""
    import torch  # here, not at the top: embed and evaluate never load torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: taskset, SLURM, cgroups cpusets)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def progress_bar() -> Progress:
    """A rich progress bar that writes to stderr, so stdout stays the results."""
    from rich.console import Console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=Console(stderr=True),
        transient=False,
    )
