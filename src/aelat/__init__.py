"""aelat: train autoencoders, draw their latent distribution Q = g#P and measure it against baselines.

The Python API (the command line does the same; see the README):

- :func:`compose` a config from override strings; :func:`run` the pipeline on it;
- :func:`load_run` a run folder as :class:`RunResults` (metrics as a dict, representations as arrays);
- :func:`score` any representation's arrays as ``aelat evaluate`` would; :mod:`aelat.metrics` holds
  each metric on its own;
- errors: :class:`AelatError`; :class:`ConfigError` and :class:`DataError` are also ``ValueError``.

Importing aelat is cheap: the API's modules load on first use.
"""

from __future__ import annotations

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

# Idle OpenMP threads (torch, scikit-learn and openTSNE each bring libgomp) spin for 10,000 iterations
# (tens of microseconds) before they sleep, not libgomp's default 300,000 (about a millisecond): long
# enough to catch the next parallel region of a training step, short enough that a thread waiting for a
# descheduled sibling does not burn the core that sibling needs (with the default, training beside
# other busy processes ran 5-20x slower; sleeping at once, OMP_WAIT_POLICY=PASSIVE, costs 1.7x on a
# quiet machine: bench/RESULTS.md). A runtime reads this once, as it loads, so it is set here, before
# aelat imports any of them; a wait policy or spin count the user set is kept (see aelat.runtime).
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"

from aelat.errors import AelatError, ArtifactError, ConfigError, DataError, StaleArtifactError

__version__ = "0.1.0"

_LAZY = {"compose": "aelat.config", "run": "aelat.api", "load_run": "aelat.api", "score": "aelat.api",
         "RunResults": "aelat.api", "metrics": "aelat.metrics"}

if TYPE_CHECKING:
    from aelat import metrics
    from aelat.api import RunResults, load_run, run, score
    from aelat.config import compose

__all__ = ["AelatError", "ArtifactError", "ConfigError", "DataError", "RunResults", "StaleArtifactError",
           "__version__", "compose", "load_run", "metrics", "run", "score"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'aelat' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    return module if name == "metrics" else getattr(module, name)
