"""Reading a file aelat wrote (run.json, config.yaml, metrics.json) without ever blocking on it."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class NotARegularFile(OSError):
    """A FIFO, device or socket where aelat's own file should be (an OSError: read as an unreadable file)."""

    def __str__(self) -> str:
        return "not a regular file"


def read_regular_bytes(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (a link to one is); else NotARegularFile.

    ``Path.read_bytes`` on a FIFO waits for a writer forever, and on a device may never end: a file aelat
    wrote is always a regular one, so anything else in its place is refused as unreadable, at once.
    """
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO to read returns at once this way
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise NotARegularFile(errno.EINVAL, "not a regular file", str(path))
        with os.fdopen(handle, "rb", closefd=False) as file:
            return file.read()
    finally:
        os.close(handle)
