"""Process-wide set-up shared by the stages: seeding, cores and progress bars."""

from __future__ import annotations

import os
import random

import numpy as np
from rich.console import Console
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


def console(stderr: bool = True, width: int | None = None) -> Console:
    """aelat's rich console: no markup and no highlighting, so text from paths, file names and
    messages (``[old]``, ``[/b]``) is printed as it is (markup would drop or choke on brackets)."""
    return Console(stderr=stderr, width=width, markup=False, highlight=False, soft_wrap=True)


def progress_bar() -> Progress:
    """A rich progress bar that writes to stderr, so stdout stays the results (descriptions are plain text)."""
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        console=console(),
        transient=False,
    )


def available_memory() -> int | None:
    """Bytes of memory this process may still take: the kernel's MemAvailable, or the memory limit of
    its cgroup when that is lower (containers, SLURM); None where neither can be read. (The cgroup's
    usage counts page cache the kernel would free, so only its limit is used.)"""
    values = []
    try:
        with open("/proc/meminfo") as fh:
            values += [int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:")]
    except (OSError, ValueError):
        pass
    limits = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, controllers, group = line.strip().split(":", 2)
                if controllers == "":  # cgroup v2
                    limits.append(f"/sys/fs/cgroup{group.rstrip('/')}/memory.max")
                elif "memory" in controllers.split(","):  # cgroup v1
                    limits.append(f"/sys/fs/cgroup/memory{group.rstrip('/')}/memory.limit_in_bytes")
    except (OSError, ValueError):
        pass
    for path in limits:
        try:
            with open(path) as fh:
                limit = fh.read().strip()
        except OSError:
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or a huge number: no limit
            values.append(int(limit))
    return min(values) if values else None
