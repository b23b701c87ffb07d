"""Process-wide set-up shared by the stages: seeding, deterministic torch, threads, progress bars, and
worker processes that end with their parent.

Threads. One setting, ``threads`` (default: the cores this process may use), sizes every pool aelat
uses: torch's, the BLAS and OpenMP pools of numpy, scipy and scikit-learn (threadpoolctl), openTSNE's
``n_jobs`` and numba's (umap-learn). Idle OpenMP threads spin only briefly before they sleep
(``GOMP_SPINCOUNT=10000``, set in ``aelat/__init__.py`` before any OpenMP runtime loads, unless the
user set it or ``OMP_WAIT_POLICY``): on a machine where other processes compete for the cores, a
thread spinning at a barrier for a descheduled sibling burns the core that sibling needs, which made
training 5-20x slower with libgomp's default; sleeping at once instead costs 1.7x on a quiet machine
(bench/bench_contention.py, bench/bench_train.py).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import signal
import sys
import threading
import time
from typing import Iterator

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

log = logging.getLogger(__name__)

# The thread count of this process once use_threads has run; a sweep job sets the default for
# configurations that leave ``threads`` unset (jobs side by side share the cores).
_state: dict[str, int | None] = {"threads": None, "default": None}


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (aelat also passes ``seed`` explicitly)."""
    import torch  # here, not at the top: embed and evaluate never load torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """In the block, torch's CPU arithmetic treats subnormal floats (below 1.2e-38 in float32) as zero.

    Gradients and Adam's moments of a trained autoencoder drift into that range, where x86 cores
    compute tens of times slower: with it, MNIST training epochs after the first took 1.7x as long.
    Values that small move no loss or score aelat reports (the losses agree to print precision).
    The setting is per thread and torch's worker threads copy it when they start, so a stage enters
    this before torch computes anything. It also holds for NumPy in this thread, so it is undone at the
    end: evaluate after train in one process (``aelat run``) computes as in a process of its own or a
    worker. torch has no getter; whether it was already on is read from NumPy (a subnormal times one).
    """
    import torch

    subnormal = np.array([1e-39], dtype=np.float32)
    before = bool((subnormal * np.float32(1.0))[0] == 0)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


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
    """The cores this process may use: its CPU affinity (taskset, SLURM, cpusets), a cgroup CPU quota
    (containers) and ``LOKY_MAX_CPU_COUNT``, whichever is smallest (joblib's ``cpu_count``)."""
    from joblib import cpu_count

    return max(1, cpu_count())


def set_default_threads(threads: int | None) -> None:
    """The thread count for configurations whose ``threads`` is unset (None: the available cores)."""
    _state["default"] = threads


def use_threads(threads: int | None) -> int:
    """Size torch's, the BLAS/OpenMP pools' and numba's threads to ``threads`` (None: the default).

    Libraries loaded later (a stage imports torch or umap-learn on demand) are sized when the next
    stage calls this again; openTSNE reads :func:`current_threads` when it runs. Returns the count.
    """
    count = int(threads or _state["default"] or available_cores())
    _state["threads"] = count
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count)  # every BLAS and OpenMP library loaded so far, process-wide
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
    if "numba" in sys.modules:
        numba = sys.modules["numba"]
        numba.set_num_threads(min(count, numba.config.NUMBA_NUM_THREADS))
    log.debug("threads: %d", count)
    return count


def current_threads() -> int:
    """The thread count :func:`use_threads` set (the default before it has run)."""
    return _state["threads"] or _state["default"] or available_cores()


@functools.cache  # one watcher per process, however many tasks or jobs it runs
def end_with_parent(parent: int | None = None) -> None:
    """In a worker process aelat started: end it (SIGKILL) as soon as its parent (the process ``parent``,
    by default its parent now) is gone, at once if it is gone already.

    loky's workers (a command's map workers, Hydra's joblib launcher) otherwise outlive a killed
    parent: they finish the task they hold, minutes of a t-SNE or of training, for a result no one
    will read, on cores the user wanted back. Every artifact is written atomically (a temporary file,
    then a rename), so the kill leaves each old or new, whole.
    """
    parent = parent or os.getppid()

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is re-parented to init or a subreaper
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="aelat-end-with-parent", daemon=True).start()


def console(stderr: bool = True, width: int | None = None) -> Console:
    """aelat's rich console: no markup and no highlighting, so text from paths, file names and
    messages (``[old]``, ``[/b]``) is printed as it is (markup would drop or choke on brackets)."""
    return Console(stderr=stderr, width=width, markup=False, highlight=False, soft_wrap=True)


def progress_bar() -> Progress | PlainProgress:
    """Progress on stderr, so stdout stays the results: a rich bar on a terminal, else (a log file,
    nohup, a SLURM job) :class:`PlainProgress` lines, which a bar redrawn in place would not give.
    Descriptions and statuses are plain text (no markup)."""
    stderr = console()
    if not stderr.is_terminal:
        return PlainProgress(stderr)
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        console=stderr,
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


class PlainProgress:
    """The part of ``rich.progress.Progress`` the stages use, printing whole lines instead of a bar.

    A line when a task starts; one per ``advance`` (an epoch, a representation) with the task's
    ``unit``, status and the seconds since the previous line; one when the block ends without an
    error, with each task's time (a map's). ``completed=`` updates (t-SNE's iterations) print nothing.
    """

    def __init__(self, console):
        self.console = console
        self.tasks: list[dict] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            for state in self.tasks:
                self._line(f"{state['description']}: done in {seconds(time.perf_counter() - state['started'])}")

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields) -> int:
        now = time.perf_counter()
        self.tasks.append({"description": description, "total": total, "completed": completed,
                           "started": now, "last": now, "unit": "", "status": "", **fields})
        self._line(f"{description}: started" + (f" after {completed:g} of {total:g}" if total and completed else ""))
        return len(self.tasks) - 1

    def update(self, task: int, *, advance: float | None = None, completed: float | None = None,
               total: float | None = None, **fields) -> None:
        state = self.tasks[task]
        state.update(fields)
        if total is not None:
            state["total"] = total
        if completed is not None:
            state["completed"] = completed
        if advance is not None:
            now = time.perf_counter()
            state["completed"] += advance
            count = f"{state['completed']:g}" + (f"/{state['total']:g}" if state["total"] else "")
            words = [state["description"] + ":", state["unit"], count, state["status"], f"({seconds(now - state['last'])})"]
            self._line(" ".join(word for word in words if word))
            state["last"] = now

    def _line(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)


def seconds(value: float) -> str:
    """A duration for a progress line: two decimals below a second, one above."""
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s"
