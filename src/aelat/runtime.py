"""Process-wide set-up shared by the stages: seeding and progress bars."""

from __future__ import annotations

import random

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (aelat also passes ``seed`` explicitly)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
