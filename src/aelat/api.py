"""aelat from Python: compose a config, run the pipeline, read a run's results, score any arrays.

::

    import aelat

    cfg = aelat.compose(["latent_dim=8", "train.epochs=5"])
    results = aelat.run(cfg, methods=["tsne"])        # trains, encodes, maps, evaluates (or resumes)
    results.metrics["representations"]["latent"]["structure"]["knn_accuracy_10"]
    latent = results.representation("latent")         # .train, .test, .y_train, .y_test: arrays
    aelat.score(latent.train, latent.y_train, latent.test, latent.y_test)   # metrics.json's dict for it

Arrays go in, plain Python and NumPy come out; a bad value raises ``aelat.ConfigError`` or
``aelat.DataError``, both also ``ValueError``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from omegaconf import DictConfig

from aelat import artifacts
from aelat.artifacts import Run
from aelat.config import compose, load_saved, validate
from aelat.data import dataset_digest
from aelat.labels import encode_labels
from aelat.embedders import EMBEDDERS
from aelat.errors import ArtifactError, DataError
from aelat.pipeline import run_pipeline
from aelat.stages.evaluate import Representation, map_representation, metric_call, stored_representation

if TYPE_CHECKING:
    from aelat.models import Autoencoder

Config = DictConfig | Sequence[str]


def run(config: Config = (), *, methods: Sequence[str] = ("tsne", "pca"), of: str = "all",
        force: bool = False) -> RunResults:
    """Train, encode, map, analyse and evaluate one configuration, as ``aelat run`` does, and open its results.

    Parameters
    ----------
    config : DictConfig or sequence of str
        A config from :func:`aelat.compose`, or override strings such as ``["latent_dim=8"]``.
    methods : sequence of str
        The 2-D maps to draw ("tsne", "pca", "umap").
    of : str
        What to map: "raw", "pca", "untrained", "latent" or "all".
    force : bool
        Re-run every stage, even of a complete configuration (else it is resumed or skipped).

    Returns
    -------
    RunResults
    """
    cfg = validate(config) if isinstance(config, DictConfig) else compose(list(config))
    target = Run(artifacts.run_dir_for(cfg), cfg, dataset_digest)
    run_pipeline(target, list(methods), of, force=force)
    return RunResults(target.path)


def load_run(path: str | Path = "outputs/latest") -> RunResults:
    """Open a run folder (or the ``latest`` link) to read its results."""
    return RunResults(path)


class RunResults:
    """A run folder read as Python objects; every artifact is checked current and intact when read.

    Parameters
    ----------
    path : str or Path
        A folder ``aelat train`` or ``aelat score`` made.
    """

    def __init__(self, path: str | Path):
        path = Path(path).resolve()
        if not (path / artifacts.CONFIG).is_file():
            raise ArtifactError(f"{path} is not an aelat run (no {artifacts.CONFIG}); pass a folder `aelat train` made")
        self.path = path
        self._run = Run(path, load_saved(path / artifacts.CONFIG), dataset_digest)

    def __repr__(self) -> str:
        return f"RunResults('{self.path}')"

    @property
    def config(self) -> DictConfig:
        """The run's config (a copy: changing it changes nothing on disk)."""
        return self._run.cfg.copy()

    @property
    def metrics(self) -> dict:
        """metrics.json: ``representations`` (name -> nested scores), ``config``, ``versions``."""
        self._run.require("evaluate", artifacts.METRICS)
        return json.loads(self._run.file(artifacts.METRICS).read_text())

    def scores(self, name: str = "latent") -> dict:
        """The scores of one representation, e.g. "latent", "raw" or "tsne(latent)"."""
        scores = self.metrics["representations"]
        if name not in scores:
            raise KeyError(f"no scores of {name!r}; the run has {', '.join(scores)}")
        return scores[name]

    @property
    def names(self) -> list[str]:
        """The representations the run holds: raw, pca, untrained, latent (as encoded) and its 2-D maps."""
        self._run.require("encode", artifacts.LATENTS)
        names = artifacts.representations_in(self._run.file(artifacts.LATENTS))
        stages = self._run.manifest()["stages"]
        return names + [f"{method}({source})" for method in EMBEDDERS for source in artifacts.REPRESENTATIONS
                        if artifacts.embedding_stage(method, source) in stages]

    def representation(self, name: str = "latent") -> Representation:
        """One representation's arrays: ``train`` (n_train, d), ``test`` (n_test, d), ``y_train``, ``y_test``.

        ``name``: "raw", "pca", "untrained", "latent", or a map such as "tsne(latent)".
        """
        if name not in self.names:
            raise KeyError(f"no representation {name!r}; the run has {', '.join(self.names)}")
        if "(" in name:
            method, source = name.rstrip(")").split("(")
            return map_representation(self._run, method, source)[0]
        self._run.require("encode", artifacts.LATENTS)
        return stored_representation(artifacts.read_npz(self._run.file(artifacts.LATENTS)), name)

    @property
    def class_names(self) -> list[str]:
        self._run.require("encode", artifacts.LATENTS)
        return [str(name) for name in artifacts.read_npz(self._run.file(artifacts.LATENTS), ["class_names"])["class_names"]]

    @property
    def train_log(self) -> dict[str, np.ndarray]:
        """train_log.csv as columns: epoch, train_loss, test_loss, test_recon_mse, seconds."""
        self._run.require("train", artifacts.TRAIN_LOG)
        log = np.genfromtxt(self._run.file(artifacts.TRAIN_LOG), delimiter=",", names=True, ndmin=1)
        return {name: log[name] for name in log.dtype.names}

    def model(self, device: str = "cpu") -> Autoencoder:
        """The trained autoencoder (a torch module in eval mode)."""
        import torch

        from aelat.models import load_checkpoint

        self._run.require("train", artifacts.MODEL)
        return load_checkpoint(self._run.file(artifacts.MODEL), torch.device(device)).eval()


def score(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray, *,
          source: np.ndarray | None = None, config: Config = ()) -> dict:
    """Score one representation as ``aelat evaluate`` does: the nested dict metrics.json holds for it.

    Parameters
    ----------
    train : ndarray, shape (n_train, d)
        The representation of the train samples (any encoder's codes, a 2-D map, raw features).
    y_train : ndarray, shape (n_train,)
        Their class labels, of any kind (integers, strings).
    test : ndarray, shape (n_test, d)
    y_test : ndarray, shape (n_test,)
    source : ndarray, shape (n_train, D), optional
        For a 2-D map: the representation it was made from, row for row with ``train``; adds the
        neighbourhood scores (trustworthiness, continuity, kNN preservation).
    config : DictConfig or sequence of str
        The ``evaluate.*`` settings and ``seed``, e.g. ``["evaluate.knn.ks=[5,15]", "seed=1"]``.

    Returns
    -------
    dict
        ``dim``, ``source``, ``recon_mse`` (None), ``structure`` (kNN, probe, clustering,
        silhouette), ``neighbourhood`` (with ``source``) and ``distribution`` (for d >= 2).
    """
    from aelat.metrics.neighbourhood import neighbourhood_scores_of_maps
    from aelat.score_cache import ScoreCache
    from aelat.stages.evaluate import score as score_representation

    cfg = validate(config) if isinstance(config, DictConfig) else compose(list(config))
    labels_train, labels_test, _ = encode_labels(np.asarray(y_train), np.asarray(y_test), "score", ("y_train", "y_test"))
    rep = Representation(_rows(train, "train", len(labels_train)), _rows(test, "test", len(labels_test)),
                         labels_train, labels_test, source=None if source is None else "source")
    if rep.train.shape[1] != rep.test.shape[1]:
        raise DataError(f"train has {rep.train.shape[1]} columns but test {rep.test.shape[1]}; encode both alike")
    neighbourhood = None
    if source is not None:
        made_from = _rows(source, "source", len(labels_train))
        neighbourhood = metric_call(neighbourhood_scores_of_maps, cfg, "evaluate.neighbourhood", made_from,
                                    {"map": rep.train}, seed=cfg.seed)["map"]
    scores, _predictions = score_representation(rep, cfg, ScoreCache(None), "", {}, neighbourhood)
    return scores


def _rows(x: np.ndarray, name: str, n: int) -> np.ndarray:
    """``x`` as a 2-D float array of ``n`` rows (a 1-D array is one column)."""
    x = np.asarray(x)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or len(x) != n or x.dtype.kind not in "iuf":
        raise DataError(f"{name} has shape {x.shape} and dtype {x.dtype}; expected numbers of shape ({n}, d), "
                        "one row per label")
    return x.astype(np.float64) if x.dtype.kind in "iu" else x
