"""Work a command hands to worker processes while it goes on, finished in the order it was handed over.

The workers are loky's (joblib's process executor), not a hand-written pool: each is a fresh
interpreter (a fork of this process would inherit OpenMP thread pools that do not survive a fork),
and a worker that dies (killed, out of memory) is reported at once instead of waited for; a
worker ends as soon as its command does, killed or not. Each command has its own executor, started
at its first submission and stopped when it ends: not loky's process-wide reusable one, which
joblib's own loky backend (Hydra's joblib launcher, a user's ``Parallel``) takes over and cannot
share. A worker's temporary files (its own or a library's) go
into a folder the command makes and removes once its workers are gone, so that a killed worker leaves
nothing behind; the folder of a command that was itself killed is removed by the next one.

Commands run one after another in one process (the configurations of a sweep under Hydra's basic
launcher) share their workers inside :func:`keep_workers`: each worker starts, and imports what its
tasks need (torch, openTSNE, pynndescent: seconds of CPU), once per sweep instead of once per
configuration. A command that ends with an error still stops them, killing what they compute.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky.process_executor import BrokenProcessPool

from aelat.errors import AelatError
from aelat.runtime import current_threads, end_with_parent, use_threads

class WorkerDied(AelatError):
    """A worker process ended without a result."""


class Background:
    """Functions running in up to ``jobs`` worker processes; :meth:`finish` hands each result to its ``then``.

    Used as a context manager: leaving the block stops the workers; with an error (or results not
    finished) at once, dropping what they computed, which is never half-recorded.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Any, str, Callable[[Any], None]]] = []
        self._workers: Workers | None = None

    def submit(self, jobs: int, what: str, then: Callable[[Any], None], function: Callable, *args) -> None:
        """Start ``function(*args)`` in a worker (``jobs`` of them at most) with this process's thread
        count, so that it computes the same numbers as here; ``what`` names it in errors."""
        if self._workers is None:
            self._workers = _start(jobs)
        try:
            future = self._workers.submit(function, args)
        except BrokenProcessPool as exc:
            if self._pending or not _is_kept(self._workers):
                raise _died(what, exc) from None
            # a worker kept from an earlier command died while idle (out of memory, killed): new ones
            _stop(self._workers, kill=True)
            self._workers = _start(jobs)
            future = self._workers.submit(function, args)
        self._pending.append((future, what, then))

    def finish(self) -> None:
        """Wait for every submitted function in order and pass its result to its ``then``; raise the
        first error once all have ended (results that came back are passed on even then)."""
        pending, self._pending = self._pending, []
        first = None
        for future, what, then in pending:
            try:
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    raise _died(what, exc) from None
                then(result)
            except Exception as exc:  # noqa: BLE001 - kept, raised after the others are recorded
                first = first or exc
        if first is not None:
            raise first

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if self._workers is not None:  # after an error, kill what the workers still compute
            _stop(self._workers, kill=kind is not None or bool(self._pending))
        self._workers, self._pending = None, []


class Workers(NamedTuple):
    """A command's worker processes, the folder for their temporary files, and how many there are."""

    executor: ProcessPoolExecutor
    scratch: str
    count: int

    def submit(self, function: Callable, args: tuple):
        """``function(*args)`` in a worker sized like this process (:func:`_in_worker`): its future."""
        return self.executor.submit(_in_worker, current_threads(), self.scratch, function, *args)


# "workers" is present while keep_workers() runs: the Workers it keeps between commands, or None.
_kept: dict[str, Workers | None] = {}


@contextlib.contextmanager
def keep_workers() -> Iterator[None]:
    """Within the block, each command's :class:`Background` uses the workers the one before left
    running (when it asks for as many); they stop when the block ends."""
    _kept["workers"] = None
    try:
        yield
    finally:
        kept = _kept.pop("workers", None)
        if kept is not None:
            _stop(kept, kill=True)  # idle by now: every command finished or killed its work


def _start(jobs: int) -> Workers:
    """``jobs`` workers: those keep_workers() kept, or new ones."""
    kept = _kept.get("workers")
    if kept is not None and kept.count == jobs:
        return kept
    if kept is not None:
        _stop(kept, kill=True)
    # each worker ends with this process, from its start (a task may reach it after this process is gone)
    executor = ProcessPoolExecutor(max_workers=jobs, initializer=end_with_parent, initargs=(os.getpid(),))
    started = Workers(executor, _scratch_folder(), jobs)
    if "workers" in _kept:
        _kept["workers"] = started
    return started


def _is_kept(workers: Workers) -> bool:
    return _kept.get("workers") is workers


def _stop(workers: Workers, kill: bool) -> None:
    """Stop the workers (at once with ``kill``) and remove their scratch folder; workers keep_workers()
    keeps stay unless killed. Waits until they are gone, so that nothing of a command still runs."""
    if _is_kept(workers):
        if not kill:
            return
        _kept["workers"] = None
    workers.executor.shutdown(wait=True, kill_workers=kill)
    shutil.rmtree(workers.scratch, ignore_errors=True)


def workers(jobs: int | str, task_threads: int = 1) -> int:
    """Worker processes for tasks of ``task_threads`` threads each: the ``jobs`` setting, or for auto
    this process's thread count over ``task_threads`` (1: none, the work stays in the process)."""
    return int(jobs) if jobs != "auto" else max(1, current_threads() // task_threads)


SCRATCH = "aelat-workers-"


def _scratch_folder() -> str:
    """A new folder for the workers' temporary files, named by this process's id, after removing those of
    commands that are gone (killed before they could remove their own)."""
    for old in Path(tempfile.gettempdir()).glob(f"{SCRATCH}*-*"):
        owner = old.name[len(SCRATCH):].split("-")[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(old, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _in_worker(threads: int, scratch: str, function: Callable, *args) -> Any:
    """``function(*args)`` in a worker, after sizing its thread pools like the submitting process's and
    pointing its temporary files into the command's ``scratch`` folder."""
    tempfile.tempdir = scratch
    use_threads(threads)
    return function(*args)


def _died(what: str, exc: BaseException) -> WorkerDied:
    return WorkerDied(f"{what} was not computed: a worker process died ({_reason(exc)}); run again, or with "
                      "jobs=1 to compute it in this process")


def _reason(exc: BaseException) -> str:
    """What loky says ended the worker: its exit code or signal, e.g. ``SIGKILL(-9)``."""
    found = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
    return found.group(1) if found else "no result"
