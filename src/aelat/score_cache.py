"""Evaluate's scores cached by content, shared by every run in one output_dir.

A representation's scores are a function of its arrays, the evaluate settings, the seed and the
code that computes them (library versions, aelat's own source files, so that an uncommitted edit
counts too); an entry's key hashes all of them. So
the raw input, the same in every run of a latent-size sweep, is scored once per sweep, and
`aelat evaluate` after `aelat embed` adds a map scores only that map. Entries are JSON files
written atomically and never changed. Each entry holds its key and a checksum of the key and the
scores; an entry whose key or checksum does not match, or whose scores are not the numbers
evaluate writes, counts as missing and is computed again (with a warning), so a copied, edited or
forged entry is never reported as measured. A cache folder that is not a folder, cannot be read
or cannot be written turns the cache off for the command, with one warning. ``evaluate.cache=false``
turns it off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from aelat import artifacts

FOLDER = Path(".cache") / "scores"  # under output_dir; hidden, so `aelat summarize` skips it
log = logging.getLogger(__name__)


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


def entry_checksum(name: str, scores) -> str:
    """What binds an entry's scores to its key: a hash of both."""
    return hashlib.sha256(f"{name}\n{json.dumps(scores, sort_keys=True)}".encode()).hexdigest()


def well_formed(scores) -> bool:
    """Whether ``scores`` is what evaluate stores: nested mappings of names to numbers (None for an
    undefined one), flags or strings, or lists of them."""
    if isinstance(scores, dict):
        return bool(scores) and all(isinstance(k, str) and well_formed(v) for k, v in scores.items())
    if isinstance(scores, list):
        return all(well_formed(v) for v in scores)
    if isinstance(scores, (int, float)) and not isinstance(scores, bool):
        return math.isfinite(scores) or math.isnan(scores)
    return scores is None or isinstance(scores, (bool, str))


class ScoreCache:
    """The cache folder of one output_dir; ``folder=None`` gives a cache that never hits or stores."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        if folder is not None and (folder.exists() or folder.is_symlink()):
            try:
                if not folder.is_dir():
                    raise NotADirectoryError(f"{folder} is not a folder")
                with os.scandir(folder):
                    pass
            except OSError as exc:
                self._off(exc)

    def _off(self, exc: OSError) -> None:
        log.warning("score cache %s is unusable (%s); evaluating without it", self.folder,
                    exc.strerror or exc)
        self.folder = None

    def get(self, name: str, valid: Callable[[dict], bool] = lambda scores: True) -> dict | None:
        """The scores stored under ``name``, or None when absent, unreadable or not bound to ``name``."""
        if self.folder is None:
            return None
        path = self.folder / f"{name}.json"
        try:
            entry = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            entry = None
        scores = entry.get("scores") if isinstance(entry, dict) else None
        if (not isinstance(entry, dict) or entry.get("key") != name or entry.get("checksum") != entry_checksum(name, scores)
                or not well_formed(scores) or not isinstance(scores, dict) or not valid(scores)):
            log.warning("score cache entry %s does not match its key and content; computing it again", path)
            return None
        return scores

    def put(self, name: str, scores: dict) -> None:
        if self.folder is None:
            return
        entry = {"key": name, "checksum": entry_checksum(name, scores), "scores": scores}
        try:
            artifacts.write_json(self.folder / f"{name}.json", entry)
        except OSError as exc:
            self._off(exc)
