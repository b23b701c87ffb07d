"""One aelat process per run folder: an exclusive, non-blocking ``flock`` on ``<run>/run.lock``.

The lock file holds the owner's pid, for the message a second process prints. It is removed on
release, so a finished run folder holds only its artifacts; a process killed with SIGKILL leaves it
behind, but the kernel drops the lock with the process, and the next command simply takes it over
and deletes the temporaries such a writer left (``.<name>.aelat-tmp-*``, see
:func:`aelat.artifacts.is_temporary`; no other file, and only in a folder that holds an aelat run).
The lock is opened without following a symbolic link and refused when it is not a plain file of
its own (a link or a hard link could point the lock's truncation at any other file).
A command that writes nothing (bad input) leaves the folder as it found it, modification times
included: folders the lock made are removed again and the touched folder's times are restored.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from pathlib import Path
from typing import Iterator

from aelat.artifacts import CONFIG, MANIFEST, is_temporary
from aelat.errors import ArtifactError, RunInUseError

LOCK = "run.lock"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the body, creating the folder if needed.

    Raises
    ------
    RunInUseError
        When another process holds the lock; the message names its pid and the fix.
    ArtifactError
        When ``run.lock`` is a link or not a plain file.
    """
    run_dir = Path(run_dir)
    missing = [p for p in (run_dir, *run_dir.parents) if not p.exists()]  # deepest first
    anchor = missing[-1].parent if missing else run_dir  # the existing folder the lock changes
    times = anchor.stat()
    path = run_dir / LOCK
    fd = _acquire(run_dir, path)
    try:
        if (run_dir / CONFIG).is_file() or (run_dir / MANIFEST).is_file():  # an aelat run: drop a killed writer's temporaries
            for leftover in run_dir.iterdir():
                if is_temporary(leftover.name) and leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
        touched = anchor.stat().st_mtime_ns
    except BaseException:
        _release(fd, path)
        raise
    try:
        yield
    finally:
        untouched = _exists_with_mtime(anchor, touched)  # nothing but the lock changed the folder
        _release(fd, path)
        try:
            for folder in missing:
                folder.rmdir()  # fails (and stops) once a folder holds anything
        except OSError:
            untouched = False
        if untouched:
            with contextlib.suppress(OSError):
                os.utime(anchor, ns=(times.st_atime_ns, times.st_mtime_ns))


def _exists_with_mtime(folder: Path, mtime_ns: int) -> bool:
    try:
        return folder.stat().st_mtime_ns == mtime_ns
    except OSError:
        return False


def _release(fd: int, path: Path) -> None:
    """Remove the lock file (while still locked, so no one else can be holding this inode), then unlock.

    Never raises: a failure here (a folder made read-only meanwhile) must not hide the command's own error.
    """
    with contextlib.suppress(OSError):
        if os.path.samestat(os.fstat(fd), os.lstat(path)):
            path.unlink()
    with contextlib.suppress(OSError):
        os.close(fd)


def _acquire(run_dir: Path, path: Path) -> int:
    """Open and lock ``path``; retry when a releasing owner removed the file we opened."""
    while True:
        run_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:  # a failed command removed the folder it had made: make it again
            continue
        except OSError:
            if path.is_symlink():
                raise ArtifactError(f"{path} is a symbolic link, which aelat never follows; delete it "
                                    "(it is aelat's lock file, remade on the next command)") from None
            raise
        mine = os.fstat(fd)
        if not stat.S_ISREG(mine.st_mode) or mine.st_nlink != 1:
            os.close(fd)
            raise ArtifactError(f"{path} is not aelat's lock file (a {'hard link' if mine.st_nlink != 1 else 'special file'}); "
                                "delete it (it is remade on the next command)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _owner(fd)
            os.close(fd)
            raise RunInUseError(
                f"{run_dir} is in use by another aelat process (pid {pid}); wait for it or pass another output_dir"
            ) from None
        try:
            current = os.lstat(path)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(current, mine):
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError as exc:  # a full disk: say so about the lock, and leave no lock behind
                _release(fd, path)
                raise OSError(exc.errno, exc.strerror, str(path)) from None
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
