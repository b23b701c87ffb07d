"""Process-wide set-up shared by the stages: seeding, deterministic torch, cores and progress bars."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Iterator

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (aelat also passes ``seed`` explicitly)."""
    import torch  # here, not at the top: embed and evaluate never load torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# cuBLAS needs a fixed workspace to reduce in a fixed order (torch refuses deterministic mode without it).
CUBLAS_WORKSPACE = ":4096:8"


@contextlib.contextmanager
def deterministic_torch(enabled: bool) -> Iterator[None]:
    """Within the block, torch computes the same bits on any machine with the same device type.

    ``torch.use_deterministic_algorithms`` (an error for an op that has no deterministic version),
    cuDNN benchmarking off, cuBLAS given a fixed workspace, and one intra-op thread: torch splits a
    CPU sum across its threads, so two threads and one give different bits (measured here), and
    "all cores" differs between machines. The previous settings come back afterwards. Set
    CUBLAS_WORKSPACE_CONFIG before the process first uses CUDA; here it is set if absent, which
    covers a process whose first CUDA work is inside this block.
    """
    if not enabled:
        yield
        return
    import torch  # here, not at the top: embed and evaluate never load torch

    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark, torch.get_num_threads()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark = before[1]
        torch.set_num_threads(before[2])


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
