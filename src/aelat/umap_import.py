"""umap-learn, imported once per process with its numba kernels cached on disk.

umap-learn compiles its numba kernels (nearest neighbours of small inputs, the fuzzy simplicial set,
the layout optimisation) in every process that fits a UMAP, because they are not declared
``cache=True`` as pynndescent's are: 25-55 s of each ``aelat evaluate`` (N2D clustering) and ``aelat
embed --method umap`` on two cores, whatever the data size. numba can keep the machine code of any
dispatcher on disk (``Dispatcher.enable_caching``, the switch ``cache=True`` throws); aelat throws it
for umap-learn's kernels as it imports the library, so only the first process on a machine compiles.
The cached code is the code numba would compile (its index is keyed by the source file's stamp and the
argument types), so the numbers do not change.

The cache lives in ``$NUMBA_CACHE_DIR`` when the user set it, else in aelat's own folder under the user
cache directory (``$XDG_CACHE_HOME/aelat/numba``, by default ``~/.cache/aelat/numba``), never in the
installed library's folder; where that folder cannot be written, the kernels are compiled as before.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

__all__ = ["import_umap"]


def _kernel_cache_folder() -> Path:
    """The folder numba keeps umap-learn's compiled kernels in."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aelat" / "numba"


def import_umap() -> ModuleType:
    """The ``umap`` module, its kernels' compiled code read from and written to the cache folder."""
    with warnings.catch_warnings():
        # aelat has no use for ParametricUMAP, so its "Tensorflow not installed" notice is noise.
        warnings.filterwarnings("ignore", message="Tensorflow not installed", category=ImportWarning)
        import umap
    _cache_kernels()
    return umap


def _cache_kernels() -> None:
    """Switch on numba's disk cache for every umap-learn kernel that has none (a second call finds none)."""
    try:  # numba's internals, as of numba 0.68: a numba that moved them compiles as before
        from numba.core import config
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return
    try:
        folder = _kernel_cache_folder()
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory to be found
        return
    if not os.access(folder, os.W_OK | os.X_OK):
        return
    kernels = [value for name, module in list(sys.modules.items()) if name == "umap" or name.startswith("umap.")
               for value in vars(module).values()
               if isinstance(value, Dispatcher) and isinstance(getattr(value, "_cache", None), NullCache)]
    chosen = config.CACHE_DIR
    config.CACHE_DIR = str(folder)  # read when each kernel's cache is made, just below; others keep theirs
    try:
        for kernel in kernels:
            kernel.enable_caching()
    finally:
        config.CACHE_DIR = chosen
