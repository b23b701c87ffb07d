"""Results stored by what they were computed from, shared by every run in one output_dir.

An entry's name is a hash of everything its computation read (:func:`key`): the content of its
input arrays (:func:`digest`), its parameters, the seed and the code (library versions and aelat's
own source, :func:`source_digest`, so an uncommitted edit counts too). So identical work is done
once per output_dir: evaluate's scores of a representation (aelat.score_cache), 2-D maps of an
input that recurs across a sweep (the raw pixels, PCA of one size; aelat.stages.embed) and analyse's
measurements of such an input (the raw pixels, the untrained encoder's first layers; aelat.stages.analyse).

Integrity, one mechanism for every kind of entry: an entry is written to a temporary file and
renamed into place (never half-written), and holds its name and a checksum of the name and its
content. It is read back only when both match and the content passes the caller's check; anything
else (truncated, edited, copied under another name, forged, another format) counts as missing, with
a warning, so it is computed again and overwritten: a hit is always what computing gives. A store
whose folder is not a folder, cannot be read or cannot be written turns itself off for the command
with one warning: results are then computed as if there were no store. Deleting the folder is
always safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from aelat import artifacts
from aelat.errors import ArtifactError

FOLDER = Path(".cache")  # under output_dir; hidden, so `aelat summarize` skips it
log = logging.getLogger(__name__)

# The fields an array entry holds beside its arrays.
_KEY, _CHECKSUM = "__key__", "__checksum__"


def digest(arrays: Sequence[np.ndarray]) -> str:
    """A hash of the arrays' dtypes, shapes and values."""
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(memoryview(array).cast("B"))
    return h.hexdigest()


def key(**parts) -> str:
    """The entry name for a computation described by JSON-ready ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def entry_checksum(name: str, value) -> str:
    """What binds a JSON entry's value to its name: a hash of both."""
    return hashlib.sha256(f"{name}\n{json.dumps(value, sort_keys=True)}".encode()).hexdigest()


def arrays_checksum(name: str, arrays: dict[str, np.ndarray]) -> str:
    """What binds an array entry's arrays (names and content) to its name."""
    names = sorted(arrays)
    return key(entry=name, names=names, content=digest([arrays[n] for n in names]))


class ContentStore:
    """The entries of one kind in a folder (e.g. ``<output_dir>/.cache/maps``).

    ``label`` and ``work`` word the warnings ("score cache", "evaluating"); ``field`` is the key of a
    JSON entry's value. ``folder=None`` gives a store that never hits or stores.
    """

    field = "value"

    def __init__(self, folder: Path | None, label: str = "cache", work: str = "continuing"):
        self.folder, self.label, self.work = folder, label, work
        if folder is not None and (folder.exists() or folder.is_symlink()):
            try:
                if not folder.is_dir():
                    raise NotADirectoryError(f"{folder} is not a folder")
                with os.scandir(folder):
                    pass
            except OSError as exc:
                self._off(exc)

    def get_json(self, name: str, valid: Callable[[Any], bool] = lambda value: True):
        """The JSON value stored under ``name``; None when absent, not intact or not ``valid``."""
        entry = self._read(name, ".json", lambda path: json.loads(path.read_text()))
        if entry is _ABSENT:
            return None
        value = entry.get(self.field) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or entry.get("key") != name or entry.get("checksum") != entry_checksum(name, value) \
                or not valid(value):
            self._mismatch(name, ".json")
            return None
        return value

    def put_json(self, name: str, value) -> None:
        """Store a JSON-ready ``value`` under ``name``."""
        entry = {"key": name, "checksum": entry_checksum(name, value), self.field: value}
        self._write(lambda: artifacts.write_json(self.folder / f"{name}.json", entry))

    def json_or_compute(self, name: str, compute: Callable[[], Any], valid: Callable[[Any], bool] = lambda value: True):
        """The JSON value stored under ``name``; else ``compute()``'s, stored there."""
        value = self.get_json(name, valid)
        if value is None:
            value = compute()
            self.put_json(name, value)
        return value

    def get_arrays(self, name: str, valid: Callable[[dict], bool] = lambda arrays: True) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``name``; None when absent, not intact or not ``valid``."""
        arrays = self._read(name, ".npz", artifacts.read_npz)
        if arrays is _ABSENT:
            return None
        if not isinstance(arrays, dict) or str(arrays.pop(_KEY, "")) != name \
                or str(arrays.pop(_CHECKSUM, "")) != arrays_checksum(name, arrays) or not valid(arrays):
            self._mismatch(name, ".npz")
            return None
        return arrays

    def arrays_or_compute(self, name: str, compute: Callable[[], dict[str, np.ndarray]],
                          valid: Callable[[dict], bool] = lambda arrays: True) -> dict[str, np.ndarray]:
        """The arrays stored under ``name``; else ``compute()``'s, stored there."""
        arrays = self.get_arrays(name, valid)
        if arrays is None:
            arrays = compute()
            self.put_arrays(name, **arrays)
        return arrays

    def put_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Store ``arrays`` under ``name``."""
        fields = {**arrays, _KEY: np.array(name), _CHECKSUM: np.array(arrays_checksum(name, arrays))}
        self._write(lambda: artifacts.write_npz(self.folder / f"{name}.npz", **fields))

    def _read(self, name: str, suffix: str, load):
        """The loaded entry, None when it cannot be read, _ABSENT when there is none (or no store)."""
        path = None if self.folder is None else self.folder / f"{name}{suffix}"
        if path is None or not os.path.lexists(path):
            return _ABSENT
        try:
            return load(path)
        except (OSError, ValueError, zipfile.BadZipFile, ArtifactError):
            return None

    def _mismatch(self, name: str, suffix: str) -> None:
        log.warning("%s entry %s does not match its key and content; computing it again", self.label,
                    self.folder / f"{name}{suffix}")

    def _write(self, write: Callable[[], None]) -> None:
        if self.folder is None:
            return
        try:
            write()
        except OSError as exc:
            self._off(exc)

    def _off(self, exc: OSError) -> None:
        log.warning("%s %s is unusable (%s); %s without it", self.label, self.folder, exc.strerror or exc, self.work)
        self.folder = None


_ABSENT = object()
