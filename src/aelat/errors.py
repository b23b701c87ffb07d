"""aelat's exceptions: library code raises these; the CLI turns them (and file-system errors) into one line
(:func:`one_line`) and exit 1.

A bad value is also a ``ValueError`` (ConfigError, DataError), so Python code may catch it as one.
"""

from __future__ import annotations

import errno
from pathlib import Path


class AelatError(Exception):
    """Base class: the message is one line that says what is wrong and how to fix it."""


class ConfigError(AelatError, ValueError):
    """An invalid or unknown configuration value."""


class DataError(AelatError, ValueError):
    """A dataset that cannot be loaded or has the wrong content."""


class ArtifactError(AelatError):
    """A missing, corrupt or unreadable run artifact."""


class StaleArtifactError(ArtifactError):
    """An artifact made under another configuration than the one asked for."""


class TrainingError(AelatError):
    """Training diverged (NaN or inf loss)."""


class RunInUseError(ArtifactError):
    """Another aelat process holds the run folder's lock."""


# errno -> (what went wrong, how to fix it), for file-system errors a user can fix; {place} is the
# option that names where the command writes.
_WRITE_FIX = "free space there or choose another {place}"
_PLACE_FIX = "choose a writable {place}"
_OS_ERRORS = {
    errno.ENOSPC: ("no space left on the device", _WRITE_FIX),
    errno.EDQUOT: ("disk quota exceeded", _WRITE_FIX),
    errno.EFBIG: ("file too large for the file system or the process's limit", _WRITE_FIX),
    errno.EACCES: ("permission denied", _PLACE_FIX),
    errno.EPERM: ("permission denied", _PLACE_FIX),
    errno.EROFS: ("read-only file system", _PLACE_FIX),
    errno.ENOENT: ("no such file or folder, and it cannot be made there", _PLACE_FIX),
    errno.ENAMETOOLONG: ("a name in the path is longer than the file system allows",
                         "choose a shorter {place} (or a shorter dataset file name)"),
    errno.ELOOP: ("too many levels of symbolic links", "fix the links on that path or choose another {place}"),
    errno.EISDIR: ("it is a folder", "move that folder or choose another {place}"),
    errno.EIO: ("input/output error (a failing disk or network file system)", "check the device, or choose "
                                                                              "another {place}"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n) or run fewer jobs at once"),
    errno.EXDEV: ("it is on another device", _PLACE_FIX),
}


def one_line(exc: BaseException, place: str = "output_dir=DIR") -> str:
    """The one line aelat prints for an error: its message for aelat's errors, what failed and the fix
    for a file-system error (by errno; ``place`` is the option that names where the command writes),
    and for anything else (a bug) its type and first line."""
    if isinstance(exc, AelatError):
        return " ".join(str(exc).split("\n"))
    if isinstance(exc, OSError):
        return _os_error_line(exc, place)
    text = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower():
        return ("ran out of memory; use a smaller dataset or model (model.hidden, train.batch_size), or lower "
                "embed.max_points and the evaluate.* sample sizes")
    return (f"unexpected {type(exc).__name__}{': ' + text if text else ''}; this is a bug in aelat: "
            "`aelat --debug ...` shows the traceback, please report it")


def _os_error_line(exc: OSError, place: str) -> str:
    what = exc.filename if exc.filename is not None else "a file"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_in_the_way(Path(str(exc.filename))) if exc.filename is not None else None
        if blocker is not None:
            return f"cannot write {what}: {blocker} is a file, not a folder; choose another {place}, or move that file"
    reason, fix = _OS_ERRORS.get(exc.errno, (exc.strerror or type(exc).__name__, _PLACE_FIX))
    return f"cannot write {what}: {reason}; {fix.format(place=place)}"


def _file_in_the_way(path: Path) -> Path | None:
    """The first file (not a folder) among ``path`` and its parents, if any."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None
