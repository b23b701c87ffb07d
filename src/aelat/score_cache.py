"""Evaluate's scores cached by content, shared by every run in one output_dir.

A representation's scores are a function of its arrays, the evaluate settings, the seed and the
code that computes them (library versions, aelat's own source files, so that an uncommitted edit
counts too); an entry's key hashes all of them. So the raw input, the same in every run of a
latent-size sweep, is scored once per sweep, and `aelat evaluate` after `aelat embed` adds a map
scores only that map. Entries are kept intact by aelat.content_store (each holds its key and a
checksum of the key and the scores; a copied, edited or forged entry is computed again, with a
warning; an unusable folder turns the cache off with one warning); beyond that, scores must be the
numbers evaluate writes (:func:`well_formed`). ``evaluate.cache=false`` turns it off. The per-point
arrays the paired comparisons need (test predictions, clusterings) lie beside an entry in an .npz of
the same name; the entry holds their checksum, so arrays that do not match it count as missing too.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from aelat.content_store import FOLDER as STORE
from aelat.content_store import ContentStore, arrays_checksum, digest, entry_checksum, key

FOLDER = STORE / "scores"  # under output_dir

__all__ = ["FOLDER", "ScoreCache", "digest", "entry_checksum", "key", "well_formed"]


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


class ScoreCache(ContentStore):
    """The score entries of one output_dir; ``folder=None`` gives a cache that never hits or stores."""

    field = "scores"

    def __init__(self, folder: Path | None):
        super().__init__(folder, label="score cache", work="evaluating")

    def get(self, name: str, valid: Callable[[dict], bool] = lambda scores: True) -> dict | None:
        """The scores stored under ``name``, or None when absent, unreadable or not bound to ``name``."""
        return self.get_json(name, lambda scores: isinstance(scores, dict) and well_formed(scores) and valid(scores))

    def put(self, name: str, scores: dict) -> None:
        self.put_json(name, scores)

    def get_bound_arrays(self, name: str, expected: str | None) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``name`` when they are those a scores entry names by ``expected`` (their
        :func:`~aelat.content_store.arrays_checksum`); None otherwise."""
        if expected is None:
            return None
        return self.get_arrays(name, lambda arrays: arrays_checksum(name, arrays) == expected)

    def put_bound_arrays(self, name: str, arrays: dict[str, np.ndarray]) -> str:
        """Store ``arrays`` under ``name``; their checksum, for the scores' entry to hold."""
        self.put_arrays(name, **arrays)
        return arrays_checksum(name, arrays)
