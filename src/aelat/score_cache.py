"""Evaluate's scores cached by content, shared by every run in one output_dir.

A representation's scores are a function of its arrays, the evaluate settings, the seed and the
code that computes them (library versions, aelat's own source files, so that an uncommitted edit
counts too); an entry's key hashes all of them. So
the raw input, the same in every run of a latent-size sweep, is scored once per sweep, and
`aelat evaluate` after `aelat embed` adds a map scores only that map. Entries are JSON files
written atomically and never changed; an unreadable one counts as missing. ``evaluate.cache=false``
turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from aelat import artifacts

FOLDER = Path(".cache") / "scores"  # under output_dir; hidden, so `aelat summarize` skips it


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


class ScoreCache:
    """The cache folder of one output_dir; ``folder=None`` gives a cache that never hits or stores."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def get(self, name: str) -> dict | None:
        if self.folder is None:
            return None
        try:
            return json.loads((self.folder / f"{name}.json").read_text())
        except (OSError, ValueError):
            return None

    def put(self, name: str, scores: dict) -> None:
        if self.folder is not None:
            artifacts.write_json(self.folder / f"{name}.json", scores)
