"""Evaluate's scores cached by content, shared by every run in one output_dir.

A representation's scores are a function of its arrays, the evaluate settings, the seed and the
code that computes them; an entry's key hashes all of them (aelat.content_store, which also keeps
the entries intact). So the raw input, the same in every run of a latent-size sweep, is scored once
per sweep, and `aelat evaluate` after `aelat embed` adds a map scores only that map.
``evaluate.cache=false`` turns the cache off.
"""

from __future__ import annotations

from aelat.content_store import FOLDER as STORE, ContentStore, digest, key, source_digest

FOLDER = STORE / "scores"  # under output_dir

__all__ = ["FOLDER", "ScoreCache", "digest", "key", "source_digest"]


class ScoreCache(ContentStore):
    """The score entries of one output_dir; ``folder=None`` gives a cache that never hits or stores."""

    def get(self, name: str) -> dict | None:
        value = self.get_json(name)
        return value if isinstance(value, dict) else None

    def put(self, name: str, scores: dict) -> None:
        self.put_json(name, scores)
