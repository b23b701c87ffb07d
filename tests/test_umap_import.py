"""umap-learn's numba kernels are compiled once per machine, kept in aelat's cache folder, same numbers."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# N2D clustering of three blobs in a fresh interpreter (numba's cache is per process until written);
# prints the clusters and, over umap-learn's kernels, how many were loaded from disk and compiled (one
# kernel umap-learn caches itself, in its own folder, may be loaded from there; the few small kernels with
# a declared signature compile as umap-learn is imported, before aelat can switch their cache on, and are
# not counted).
CLUSTER = """
import json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from aelat.metrics.n2d import n2d_clustering
rng = np.random.default_rng(0)
Z = np.concatenate([rng.normal(3 * k, 1, size=(60, 5)) for k in range(3)])
y = np.repeat(np.arange(3), 60)
scores, clusters = n2d_clustering(Z, y, n_components=2, n_neighbors=10, seed=0)
kernels = [v for name, m in list(sys.modules.items()) if name.startswith("umap")
           for v in vars(m).values() if isinstance(v, Dispatcher)]
print(json.dumps({"clusters": clusters.tolist(), "accuracy": scores["accuracy"],
                  "loaded": sum(sum(k.stats.cache_hits.values()) for k in kernels),
                  "compiled": sum(n for k in kernels for types, n in k.stats.cache_misses.items()
                                  if isinstance(types, tuple))}))
"""


def cluster_in_a_fresh_process(**env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")} | env
    done = subprocess.run([sys.executable, "-c", CLUSTER], capture_output=True, text=True, env=environment,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def cached_kernels(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.nbi"))


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> tuple[Path, dict]:
    """The first process on a machine (an empty cache folder): (the XDG cache home it had, its result)."""
    home = tmp_path_factory.mktemp("cache-home")
    return home, cluster_in_a_fresh_process(XDG_CACHE_HOME=str(home))


def test_the_second_process_loads_the_kernels_the_first_compiled_and_clusters_alike(first):
    home, first = first
    assert first["compiled"] > 0, first
    assert cached_kernels(home / "aelat" / "numba"), "no kernel was written to aelat's cache folder"
    second = cluster_in_a_fresh_process(XDG_CACHE_HOME=str(home))
    assert second["compiled"] == 0 and second["loaded"] >= first["compiled"], second
    assert second["clusters"] == first["clusters"] and second["accuracy"] == first["accuracy"]
    assert first["accuracy"] > 0.9  # three far-apart blobs: a working N2D finds them


def test_numba_cache_dir_set_by_the_user_is_used(tmp_path):
    chosen = tmp_path / "chosen"
    cluster_in_a_fresh_process(NUMBA_CACHE_DIR=str(chosen), XDG_CACHE_HOME=str(tmp_path / "unused"))
    assert cached_kernels(chosen)
    assert not (tmp_path / "unused" / "aelat").exists()


def test_an_unwritable_cache_folder_compiles_as_before_and_writes_nowhere_else(first, tmp_path):
    """(After ``first``: the one kernel umap-learn caches itself, in its own folder, is written by then.)"""
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    library = Path(importlib.util.find_spec("umap").origin).parent
    before = cached_kernels(library)
    assert cluster_in_a_fresh_process(XDG_CACHE_HOME=str(blocked))["compiled"] > 0
    assert cached_kernels(library) == before  # never the installed library's folder
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]

