"""Work a command hands to worker processes while it goes on, finished in the order it was handed over.

The workers are loky's (joblib's process executor), not a hand-written pool: each is a fresh
interpreter (a fork of this process would inherit OpenMP thread pools that do not survive a fork),
and a worker that dies (killed, out of memory) is reported at once instead of waited for. Each
command has its own executor, started at its first submission and stopped when it ends: not loky's
process-wide reusable one, which joblib's own loky backend (Hydra's joblib launcher, a user's
``Parallel``) takes over and cannot share. A worker's temporary files (its own or a library's) go
into a folder the command makes and removes once its workers are gone, so that a killed worker leaves
nothing behind; the folder of a command that was itself killed is removed by the next one.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from joblib.externals.loky import ProcessPoolExecutor
from joblib.externals.loky.process_executor import BrokenProcessPool

from aelat.errors import AelatError
from aelat.runtime import current_threads, use_threads

class WorkerDied(AelatError):
    """A worker process ended without a result."""


class Background:
    """Functions running in up to ``jobs`` worker processes; :meth:`finish` hands each result to its ``then``.

    Used as a context manager: leaving the block stops the workers; with an error (or results not
    finished) at once, dropping what they computed, which is never half-recorded.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Any, str, Callable[[Any], None]]] = []
        self._executor = None
        self._scratch: str | None = None

    def submit(self, jobs: int, what: str, then: Callable[[Any], None], function: Callable, *args) -> None:
        """Start ``function(*args)`` in a worker (``jobs`` of them at most) with this process's thread
        count, so that it computes the same numbers as here; ``what`` names it in errors."""
        if self._executor is None:
            self._scratch = _scratch_folder()
            self._executor = ProcessPoolExecutor(max_workers=jobs)
        future = self._executor.submit(_in_worker, current_threads(), self._scratch, function, *args)
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
                    raise WorkerDied(f"{what} was not computed: a worker process died ({_reason(exc)}); run "
                                     "again, or with jobs=1 to compute it in this process") from None
                then(result)
            except Exception as exc:  # noqa: BLE001 - kept, raised after the others are recorded
                first = first or exc
        if first is not None:
            raise first

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if self._executor is not None:  # after an error, kill what the workers still compute; wait until they
            # are gone, so that nothing of this command is running once it returns
            self._executor.shutdown(wait=True, kill_workers=kind is not None or bool(self._pending))
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        self._executor, self._pending, self._scratch = None, [], None


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


def _reason(exc: BaseException) -> str:
    """What loky says ended the worker: its exit code or signal, e.g. ``SIGKILL(-9)``."""
    found = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
    return found.group(1) if found else "no result"
