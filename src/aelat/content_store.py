"""Results stored by what they were computed from, shared by every run in one output_dir.

An entry's name is a hash of everything its computation read (:func:`key`): the content of its
input arrays (:func:`digest`), its parameters, the seed and the code (library versions and aelat's
own source, :func:`source_digest`, so an uncommitted edit counts too). So identical work is done
once per output_dir: evaluate's scores of a representation (aelat.score_cache) and 2-D maps of an
input that recurs across a sweep (the raw pixels, PCA of one size; aelat.stages.embed).

Integrity, one mechanism for every kind of entry: an entry is written to a temporary file and
renamed into place (never half-written), holds its own name and a checksum of its content, and is
read back only when both match; anything else (truncated, edited, renamed, forged, another format)
counts as missing, so it is computed again and overwritten. A store whose folder cannot be made or
written (a file in its place, no permission) turns itself off with one warning: results are then
computed as if there were no store. Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from aelat import artifacts
from aelat.errors import ArtifactError

FOLDER = Path(".cache")  # under output_dir; hidden, so `aelat summarize` skips it
log = logging.getLogger(__name__)

# Keys of the fields an entry holds beside its content.
_NAME, _CHECKSUM = "__entry__", "__checksum__"


def digest(arrays: Sequence[np.ndarray]) -> str:
    """A hash of the arrays' dtypes, shapes and values."""
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(memoryview(array).cast("B"))
    return h.hexdigest()


def source_digest(package: Path | None = None) -> str:
    """A hash of aelat's own Python source (default: this package), the code behind every entry."""
    package = package or Path(__file__).parent
    return digest([np.frombuffer(path.read_bytes(), np.uint8) for path in sorted(package.rglob("*.py"))])


def key(**parts) -> str:
    """The entry name for a computation described by JSON-ready ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _json_checksum(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


class ContentStore:
    """One kind of entry (a sub-folder of ``<output_dir>/.cache``); ``folder=None`` never hits or stores."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def get_json(self, name: str):
        """The JSON value stored under ``name``, or None when absent or not intact."""
        entry = self._read(name, ".json", lambda path: json.loads(path.read_text()))
        if not isinstance(entry, dict) or entry.get(_NAME) != name or "value" not in entry:
            return None
        return entry["value"] if entry.get(_CHECKSUM) == _json_checksum(entry["value"]) else None

    def put_json(self, name: str, value) -> None:
        """Store a JSON-ready ``value`` under ``name``."""
        entry = {_NAME: name, _CHECKSUM: _json_checksum(value), "value": value}
        self._write(name, ".json", lambda path: artifacts.write_json(path, entry))

    def get_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``name``, or None when absent or not intact."""
        arrays = self._read(name, ".npz", artifacts.read_npz)
        if not arrays or str(arrays.pop(_NAME, "")) != name:
            return None
        stored = str(arrays.pop(_CHECKSUM, ""))
        return arrays if stored == _arrays_checksum(arrays) else None

    def put_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Store ``arrays`` under ``name``."""
        fields = {**arrays, _NAME: np.array(name), _CHECKSUM: np.array(_arrays_checksum(arrays))}
        self._write(name, ".npz", lambda path: artifacts.write_npz(path, **fields))

    def _read(self, name: str, suffix: str, load):
        if self.folder is None:
            return None
        path = self.folder / f"{name}{suffix}"
        if not path.is_file():
            return None
        try:
            return load(path)
        except (OSError, ValueError, zipfile.BadZipFile, ArtifactError):
            log.debug("cache entry %s is unreadable; computing it again", path)
            return None

    def _write(self, name: str, suffix: str, write) -> None:
        if self.folder is None:
            return
        try:
            write(self.folder / f"{name}{suffix}")
        except OSError as exc:
            log.warning("cache %s is not usable (%s); continuing without it", self.folder, exc.strerror or exc)
            self.folder = None


def _arrays_checksum(arrays: dict[str, np.ndarray]) -> str:
    names = sorted(arrays)
    return key(names=names, content=digest([arrays[n] for n in names]))
