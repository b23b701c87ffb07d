"""One aelat process per run folder: an exclusive, non-blocking ``flock`` on ``<run>/run.lock``.

The lock file holds the owner's pid, for the message a second process prints. It is removed on
release, so a finished run folder holds only its artifacts; a process killed with SIGKILL leaves it
behind, but the kernel drops the lock with the process, and the next command simply takes it over
and deletes the temporary files such a writer left.
A command that writes nothing (bad input) leaves the folder as it found it, modification times
included: folders the lock made are removed again and the touched folder's times are restored.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

from aelat.errors import RunInUseError

LOCK = "run.lock"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the body, creating the folder if needed.

    Raises
    ------
    RunInUseError
        When another process holds the lock; the message names its pid and the fix.
    """
    run_dir = Path(run_dir)
    missing = [p for p in (run_dir, *run_dir.parents) if not p.exists()]  # deepest first
    anchor = missing[-1].parent if missing else run_dir  # the existing folder the lock changes
    times = anchor.stat()
    path = run_dir / LOCK
    fd = _acquire(run_dir, path)
    for leftover in run_dir.glob(".*"):  # temporaries of a killed writer (artifacts.atomic_path): unread, drop them
        if leftover.is_file():
            leftover.unlink()
    touched = anchor.stat().st_mtime_ns
    try:
        yield
    finally:
        untouched = anchor.stat().st_mtime_ns == touched  # nothing but the lock changed the folder
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still locked, so no one else can be holding this inode
        os.close(fd)
        try:
            for folder in missing:
                folder.rmdir()  # fails (and stops) once a folder holds anything
        except OSError:
            untouched = False
        if untouched:
            with contextlib.suppress(OSError):
                os.utime(anchor, ns=(times.st_atime_ns, times.st_mtime_ns))


def _acquire(run_dir: Path, path: Path) -> int:
    """Open and lock ``path``; retry when a releasing owner removed the file we opened."""
    while True:
        run_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # a failed command removed the folder it had made: make it again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _owner(fd)
            os.close(fd)
            raise RunInUseError(
                f"{run_dir} is in use by another aelat process (pid {pid}); wait for it or pass another output_dir"
            ) from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # we locked a file its owner removed on release: lock the new one


def _owner(fd: int) -> str:
    """The pid the lock's owner wrote (it may not have written it yet: wait briefly)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text:
            return text
        time.sleep(0.05)
    return "unknown"
