"""Stage 4: score every representation the same way; writes metrics.json and report.md.

Representations: raw input, PCA, untrained encoder, trained latent, and every 2-D map present
(``<method>(<source>)``). Each gets the class-structure metrics; each 2-D map also gets the
neighbourhood metrics against the representation it was made from; each of dimension >= 2 gets
the distribution metrics of Q. Scores of a representation already scored under the same
settings, in any run of the output_dir, are read from the cache (aelat.score_cache).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from omegaconf import OmegaConf

from aelat import artifacts, score_cache
from aelat.artifacts import Run
from aelat.embedders import EMBEDDERS, REPEATS
from aelat.errors import ConfigError
from aelat.metrics.distribution import class_moments, distribution_metrics
from aelat.metrics.neighbourhood import neighbourhood_scores_of_maps
from aelat.metrics.structure import clustering_scores, knn_accuracy, linear_probe_accuracy, silhouette
from aelat.runtime import progress_bar, use_threads
from aelat.score_cache import ScoreCache


@dataclass(frozen=True)
class Representation:
    """One way of representing the data: train and test rows with their labels."""

    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    recon_mse: float | None = None
    source: str | None = None  # for a 2-D map: the representation it was made from
    train_index: np.ndarray | None = None  # for a 2-D map: the train rows it was fitted on

    @property
    def points(self) -> np.ndarray:
        return np.concatenate([self.train, self.test])

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate([self.y_train, self.y_test])

    @property
    def arrays(self) -> list[np.ndarray]:
        """What the scores depend on (for a map, also the train rows it was fitted on)."""
        index = [] if self.train_index is None else [self.train_index]
        return [self.train, self.test, self.y_train, self.y_test, *index]


def run(run: Run) -> dict:
    started = time.perf_counter()
    use_threads(run.cfg.get("threads"))
    representations, inputs = load_representations(run)
    versions = artifacts.versions()
    code = artifacts.code_versions()
    cache = ScoreCache(run.path.parent / score_cache.FOLDER if run.cfg.evaluate.get("cache", True) else None)
    digests = {name: score_cache.digest(rep.arrays) for name, rep in representations.items()}
    scores = {}
    with progress_bar() as bar:
        task = bar.add_task("evaluate", total=len(representations), status="neighbourhoods of the maps",
                            unit="representation")
        neighbourhoods = map_neighbourhoods(representations, run.cfg, cache, digests, code)
        for name, rep in representations.items():
            bar.update(task, status=name)
            scores[name] = score(rep, run.cfg, cache, digests[name], code, neighbourhoods.get(name))
            bar.update(task, advance=1)
    metrics = {
        "representations": scores,
        "config": OmegaConf.to_container(run.cfg, resolve=True),
        "versions": versions,
    }
    with run.making("evaluate", inputs, started) as out:
        artifacts.write_json(out(artifacts.METRICS), metrics)
        artifacts.write_npz(out(artifacts.MOMENTS), **moments(representations))
    return metrics


def load_representations(run: Run) -> tuple[dict[str, Representation], dict[str, str]]:
    """Every representation in the run folder, after checking each artifact is current and intact."""
    inputs = run.require("encode", artifacts.LATENTS)
    latents = artifacts.read_npz(run.file(artifacts.LATENTS))
    representations = {name: stored_representation(latents, name) for name in artifacts.REPRESENTATIONS
                       if f"{artifacts.REPRESENTATIONS[name]}_train" in latents}  # external: latent (raw, pca)
    stages = run.manifest()["stages"]
    maps = [(m, s) for m in EMBEDDERS for s in artifacts.REPRESENTATIONS
            if artifacts.embedding_stage(m, s) in stages and (m, s) not in REPEATS]
    for method, source in maps:
        representations[f"{method}({source})"], read = map_representation(run, method, source)
        inputs |= read
    return representations, inputs


def stored_representation(latents: dict[str, np.ndarray], name: str) -> Representation:
    """Representation ``name`` (raw, pca, untrained, latent) from latents.npz's arrays."""
    key = artifacts.REPRESENTATIONS[name]
    recon = latents.get(f"recon_mse_{name}")
    return Representation(latents[f"{key}_train"], latents[f"{key}_test"], latents["y_train"], latents["y_test"],
                          recon_mse=None if recon is None else float(recon))


def map_representation(run: Run, method: str, source: str) -> tuple[Representation, dict[str, str]]:
    """The 2-D map ``method(source)``, after checking it is current and intact; with its checksum."""
    stage, stem = artifacts.embedding_stage(method, source), artifacts.embedding_stem(method, source)
    inputs = run.require(stage, f"{stem}.npz")
    emb = artifacts.read_npz(run.file(f"{stem}.npz"))
    return Representation(emb["train"], emb["test"], emb["y_train"], emb["y_test"], source=source,
                          train_index=emb["train_index"]), inputs


def map_neighbourhoods(representations: dict[str, Representation], cfg, cache: ScoreCache, digests: dict[str, str],
                       code: dict) -> dict[str, dict]:
    """Neighbourhood scores of every 2-D map against the representation it was made from.

    Maps of one source fitted on the same train rows are scored together, so that source's
    distance rows are computed once for all of them; maps the cache holds are not scored again.
    """
    settings = OmegaConf.to_container(cfg.evaluate.neighbourhood)
    scores, names_of, groups = {}, {}, defaultdict(list)
    for name, rep in representations.items():
        if rep.source is None:
            continue
        names_of[name] = score_cache.key(
            kind="neighbourhood", map=digests[name], source=digests[rep.source], settings=settings, seed=cfg.seed,
            code=code,
        )
        cached = cache.get(names_of[name], lambda found: all(
            f"{metric}_{k}" in found for metric in ("trustworthiness", "continuity") for k in settings["ks"]))
        if cached is not None:
            scores[name] = cached
        else:
            groups[rep.source, rep.train_index.tobytes()].append(name)
    for (source, _), names in groups.items():
        made_from = representations[source].train[representations[names[0]].train_index]
        maps = {name: representations[name].train for name in names}
        fresh = metric_call(neighbourhood_scores_of_maps, cfg, "evaluate.neighbourhood", made_from, maps, seed=cfg.seed)
        for name, value in fresh.items():
            cache.put(names_of[name], value)
        scores |= fresh
    return scores


def score(rep: Representation, cfg, cache: ScoreCache, digest: str, code: dict, neighbourhood: dict | None) -> dict:
    """All metrics of one representation, as a JSON-ready nested dict; ``neighbourhood`` for a 2-D map."""
    settings = OmegaConf.to_container(cfg.evaluate)
    settings.pop("cache", None)
    settings.pop("neighbourhood")
    name = score_cache.key(kind="scores", representation=digest, settings=settings, seed=cfg.seed, code=code)
    measured = cache.get(name, lambda found: isinstance(found.get("structure"), dict)
                         and all(f"knn_accuracy_{k}" in found["structure"] for k in cfg.evaluate.knn.ks)
                         and ("distribution" in found) == (rep.train.shape[1] >= 2))
    if measured is None:
        measured = measure(rep, cfg)
        cache.put(name, measured)
    result = {"dim": int(rep.train.shape[1]), "source": rep.source, "recon_mse": rep.recon_mse}
    result["structure"] = measured["structure"]
    if neighbourhood is not None:
        result["neighbourhood"] = neighbourhood
    if "distribution" in measured:
        result["distribution"] = measured["distribution"]
    return result


def measure(rep: Representation, cfg) -> dict:
    """The class-structure metrics of a representation and, from 2 dimensions, the distribution metrics."""
    points, labels, seed = rep.points, rep.labels, cfg.seed
    knn = metric_call(knn_accuracy, cfg, "evaluate.knn", rep.train, rep.y_train, rep.test, rep.y_test)
    structure = {f"knn_accuracy_{k}": value for k, value in knn.items()}
    structure["probe_accuracy"] = metric_call(
        linear_probe_accuracy, cfg, "evaluate.probe", rep.train, rep.y_train, rep.test, rep.y_test, seed=seed
    )
    structure |= metric_call(clustering_scores, cfg, "evaluate.clustering", points, labels, seed=seed)
    structure["silhouette"] = metric_call(silhouette, cfg, "evaluate.silhouette", points, labels, seed=seed)
    result = {"structure": structure}
    if rep.train.shape[1] >= 2:
        result["distribution"] = metric_call(distribution_metrics, cfg, "evaluate.distribution", points, labels,
                                             seed=seed)
    return result


def metric_call(metric, cfg, section: str, *arrays, **extra):
    """``metric(*arrays, **<section>, **extra)``: a config section holds its function's keyword arguments.

    A ConfigError the metric raises (a setting too large for this data) names the section.
    """
    settings = {key: tuple(value) if isinstance(value, list) else value
                for key, value in OmegaConf.to_container(OmegaConf.select(cfg, section)).items()}
    try:
        return metric(*arrays, **settings, **extra)
    except ConfigError as exc:
        raise ConfigError(f"{section}: {exc}") from None


def moments(representations: dict[str, Representation]) -> dict[str, np.ndarray]:
    """Class means and covariances of every representation (train and test rows), for moments.npz."""
    arrays = {}
    for name, rep in representations.items():
        for key, value in class_moments(rep.points, rep.labels).items():
            arrays[f"{name}.{key}"] = value.astype(np.float32) if value.dtype.kind == "f" else value
    return arrays
