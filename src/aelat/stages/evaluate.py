"""Stage 4: score every representation the same way; writes metrics.json and report.md.

Representations: raw input, PCA, untrained encoder, trained latent, and every 2-D map present
(``<method>(<source>)``). Each gets the class-structure metrics, with a Wilson interval beside each
test accuracy; each 2-D map also gets the neighbourhood metrics against the representation it was
made from; each of dimension >= 2 gets the distribution metrics of Q, and the four
representations the shape of Q (a mixture's BIC, intrinsic dimension over disjoint draws). Scores
of a representation already scored under the same settings, in any run of the output_dir, are read
from the cache (aelat.score_cache), with the per-point predictions the comparisons need.

Then the pairs of :data:`PAIRS` and every map against its source are compared on the same points
(aelat.metrics.paired); metrics.json holds them under ``comparisons``, predictions.npz the
per-point predictions they were computed from, and the representations named in
``evaluate.n2d.of`` get the N2D-style clustering score.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from omegaconf import OmegaConf

from aelat import artifacts, score_cache
from aelat.artifacts import Run
from aelat.background import Background, workers
from aelat.embedders import EMBEDDERS, REPEATS
from aelat.errors import ConfigError
from aelat.metrics.confidence import (balanced_accuracy_vs_chance, bootstrap_interval, paired_clustering_replicates,
                                      wilson_interval)
from aelat.metrics.distribution import class_moments, distribution_metrics
from aelat.metrics.n2d import n2d_clustering
from aelat.metrics.neighbourhood import neighbourhood_scores_of_maps
from aelat.metrics.paired import HeldOutPredictions, PointSummary, clustering_comparison, compare, summarize_points
from aelat.metrics.shape import gmm_bic, intrinsic_dimension_draws
from aelat.metrics.structure import (
    clustering_fits,
    knn_votes,
    linear_probe_predictions,
    silhouette,
)
from aelat.runtime import progress_bar, use_threads
from aelat.score_cache import ScoreCache

# Representation pairs compared on the same points (a, b): what training adds beyond PCA and the
# raw input, what it adds to a random network of its shape, and what that network keeps of the
# input. Every 2-D map is also compared with the representation it was made from.
PAIRS = (("latent", "pca"), ("latent", "raw"), ("latent", "untrained"), ("untrained", "raw"))
# Fewest points per disjoint draw of the intrinsic-dimension interval (fewer: no interval).
MIN_ID_DRAW = 10


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
    cache = score_cache_of(run)
    digests = {name: score_cache.digest(rep.arrays) for name, rep in representations.items()}
    n2d_names = n2d_representations(run.cfg.evaluate.n2d.of, representations)
    with progress_bar() as bar:
        task = bar.add_task("evaluate", total=len(representations) + len(n2d_names) + 1,
                            status="neighbourhoods of the maps", unit="step")
        neighbourhoods = map_neighbourhoods(representations, run.cfg, cache, digests, code)
        scores, predictions = {}, {}
        for name, rep in representations.items():
            bar.update(task, status=name)
            scores[name], predictions[name] = score(rep, run.cfg, cache, digests[name], code, neighbourhoods.get(name))
            bar.update(task, advance=1)
        for name in n2d_names:
            bar.update(task, status=f"N2D clustering of {name}")
            result, clusters = n2d(representations[name], run.cfg, cache, digests[name], code)
            conf = run.cfg.evaluate.confidence
            # the baseline: a Gaussian mixture on the representation itself, on the same points
            result["versus_gmm"] = clustering_comparison(representations[name].labels, clusters,
                                                         predictions[name]["gmm"], level=conf.level,
                                                         n_resamples=conf.n_resamples, seed=run.cfg.seed)
            scores[name]["structure"]["n2d"], predictions[name]["n2d"] = result, clusters
            bar.update(task, advance=1)
        bar.update(task, status="paired comparisons")
        comparisons = compare_pairs(representations, predictions, run.cfg)
        bar.update(task, advance=1)
    metrics = {
        "representations": scores,
        "comparisons": comparisons,
        "data": data_summary(representations),
        "config": OmegaConf.to_container(run.cfg, resolve=True),
        "versions": versions,
    }
    with run.making("evaluate", inputs, started) as out:
        artifacts.write_json(out(artifacts.METRICS), metrics)
        artifacts.write_npz(out(artifacts.MOMENTS), **moments(representations))
        artifacts.write_npz(out(artifacts.PREDICTIONS), **{f"{name}.{key}": value for name, arrays in
                                                           predictions.items() for key, value in arrays.items()})
    return metrics


def prescore(run: Run, background: Background | None = None) -> None:
    """Score the representations that are not maps into the score cache, where :func:`run` finds them:
    `aelat run` does this while its maps are computed in worker processes, these scores too when
    ``jobs`` allows (``background``); the N2D clustering here. Nothing to do without the score cache
    (``evaluate.cache=false``)."""
    if not run.cfg.evaluate.get("cache", True):
        return
    cfg = run.cfg
    use_threads(cfg.get("threads"))
    run.require("encode", artifacts.LATENTS)
    latents = artifacts.read_npz(run.file(artifacts.LATENTS))
    representations = stored_representations(latents)
    cache, code = score_cache_of(run), artifacts.code_versions()
    digests = {name: score_cache.digest(rep.arrays) for name, rep in representations.items()}
    jobs = workers(cfg.jobs)
    in_workers = background is not None and jobs > 1
    n2d_names = n2d_representations(cfg.evaluate.n2d.of, representations)
    with progress_bar() as bar:
        task = bar.add_task("evaluate, before the maps", total=len(representations) + len(n2d_names), unit="step")
        for name, rep in representations.items():
            bar.update(task, status=name)
            key = scores_key(rep, cfg, digests[name], code)
            missing = cached_scores(rep, cfg, cache, key) is None
            if missing and in_workers:
                background.submit(jobs, f"the scores of {name}", functools.partial(store_scores, cache, key),
                                  measure, rep, cfg)
            elif missing:
                store_scores(cache, key, measure(rep, cfg))
            bar.update(task, advance=1)
        for name in n2d_names:
            bar.update(task, status=f"N2D clustering of {name}")
            n2d(representations[name], cfg, cache, digests[name], code)
            bar.update(task, advance=1)


def score_cache_of(run: Run) -> ScoreCache:
    """The output_dir's score cache (a cache that holds nothing with ``evaluate.cache=false``)."""
    return ScoreCache(run.path.parent / score_cache.FOLDER if run.cfg.evaluate.get("cache", True) else None)


def load_representations(run: Run) -> tuple[dict[str, Representation], dict[str, str]]:
    """Every representation in the run folder, after checking each artifact is current and intact."""
    inputs = run.require("encode", artifacts.LATENTS)
    latents = artifacts.read_npz(run.file(artifacts.LATENTS))
    representations = stored_representations(latents)
    stages = run.manifest()["stages"]
    maps = [(m, s) for m in EMBEDDERS for s in artifacts.REPRESENTATIONS
            if artifacts.embedding_stage(m, s) in stages and (m, s) not in REPEATS]
    for method, source in maps:
        representations[f"{method}({source})"], read = map_representation(run, method, source)
        inputs |= read
    return representations, inputs


def stored_representations(latents: dict[str, np.ndarray]) -> dict[str, Representation]:
    """The representations latents.npz holds (raw, pca, untrained, latent; an external run: latent, and raw
    and pca when given)."""
    return {name: stored_representation(latents, name) for name in artifacts.REPRESENTATIONS
            if f"{artifacts.REPRESENTATIONS[name]}_train" in latents}


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


def score(rep: Representation, cfg, cache: ScoreCache, digest: str, code: dict,
          neighbourhood: dict | None) -> tuple[dict, dict[str, np.ndarray]]:
    """All metrics of one representation, as a JSON-ready nested dict (``neighbourhood`` for a 2-D
    map), and the per-point predictions they came from (see :func:`measure`)."""
    name = scores_key(rep, cfg, digest, code)
    found = cached_scores(rep, cfg, cache, name)
    measured, arrays = found if found is not None else store_scores(cache, name, measure(rep, cfg))
    result = {"dim": int(rep.train.shape[1]), "source": rep.source, "recon_mse": rep.recon_mse}
    result["structure"] = measured["structure"]
    if neighbourhood is not None:
        result["neighbourhood"] = neighbourhood
    for block in ("distribution", "shape"):
        if block in measured:
            result[block] = measured[block]
    return result, arrays


def scores_key(rep: Representation, cfg, digest: str, code: dict) -> str:
    """The score cache's name for the scores of the representation with content ``digest``."""
    settings = OmegaConf.to_container(cfg.evaluate)
    for key in ("cache", "neighbourhood", "n2d", "findings"):  # not what `measure` reads
        settings.pop(key, None)
    settings["confidence"] = {"level": cfg.evaluate.confidence.level}  # of the accuracies' intervals
    return score_cache.key(kind="scores", representation=digest, settings=settings, seed=cfg.seed,
                           map=rep.source is not None, code=code)


def cached_scores(rep: Representation, cfg, cache: ScoreCache, name: str) -> tuple[dict, dict] | None:
    """(scores, predictions) of entry ``name`` when the cache holds them whole, else None."""
    measured = cache.get(name, lambda found: isinstance(found.get("structure"), dict)
                         and all(f"knn_accuracy_{k}" in found["structure"] for k in cfg.evaluate.knn.ks)
                         and ("distribution" in found) == (rep.train.shape[1] >= 2))
    arrays = cache.get_bound_arrays(name, measured.get("predictions_digest")) if measured is not None else None
    return None if arrays is None else (measured, arrays)


def store_scores(cache: ScoreCache, name: str, measured: dict) -> tuple[dict, dict]:
    """Put :func:`measure`'s result into the cache as entry ``name``; (scores, predictions)."""
    arrays = measured.pop("predictions")
    measured["predictions_digest"] = cache.put_bound_arrays(name, arrays)
    cache.put(name, measured)
    return measured, arrays


def measure(rep: Representation, cfg) -> dict:
    """The class-structure metrics of a representation; from 2 dimensions, the distribution metrics; for
    a representation that is not a map, the shape of Q; under ``predictions``, the per-point arrays the
    paired comparisons need: the test points' predicted labels (``knn_accuracy_<k>``,
    ``probe_accuracy``) and every point's cluster (``kmeans``, ``gmm``)."""
    seed = cfg.seed
    points, labels = rep.points, rep.labels
    level = cfg.evaluate.confidence.level
    structure, predictions = {}, {}
    votes = metric_call(knn_votes, cfg, "evaluate.knn", rep.train, rep.y_train, rep.test)
    for k, predicted in votes.items():
        predictions[f"knn_accuracy_{k}"] = predicted
    predictions["probe_accuracy"] = metric_call(linear_probe_predictions, cfg, "evaluate.probe", rep.train,
                                                rep.y_train, rep.test, seed=seed)
    for metric, predicted in predictions.items():
        right = int(np.sum(predicted == rep.y_test))
        structure[metric] = right / len(rep.y_test)
        structure[f"{metric}_ci"] = list(wilson_interval(right, len(rep.y_test), level))
    # whether the votes carry class information at all, whatever the class sizes (the Findings' test)
    structure["vs_chance"] = {metric: balanced_accuracy_vs_chance(rep.y_test, predicted, level)
                              for metric, predicted in predictions.items()}
    scores, clusters = metric_call(clustering_fits, cfg, "evaluate.clustering", points, labels, seed=seed)
    structure |= scores
    predictions |= clusters  # one row per seed's fit
    structure["silhouette"] = metric_call(silhouette, cfg, "evaluate.silhouette", points, labels, seed=seed)
    result = {"structure": structure, "predictions": predictions}
    if rep.train.shape[1] >= 2:
        result["distribution"] = metric_call(distribution_metrics, cfg, "evaluate.distribution", points, labels,
                                             seed=seed)
    shape = shape_of_q(points, labels, cfg) if rep.source is None else {}
    if shape:  # the score cache stores no empty section
        result["shape"] = shape
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


def shape_of_q(points: np.ndarray, labels: np.ndarray, cfg) -> dict:
    """Intrinsic dimension over disjoint draws (when each draw has at least :data:`MIN_ID_DRAW` points),
    and (up to ``gmm_full_max_dim`` dimensions) the BIC curve."""
    ev = cfg.evaluate
    shape = {}
    if len(points) // ev.shape.intrinsic_dimension.n_draws >= MIN_ID_DRAW:
        shape["intrinsic_dimension_draws"] = metric_call(
            intrinsic_dimension_draws, cfg, "evaluate.shape.intrinsic_dimension", points, k=ev.distribution.k,
            discard_fraction=ev.distribution.discard_fraction, seed=cfg.seed,
        )
    if points.shape[1] <= ev.clustering.gmm_full_max_dim:
        shape["gmm_bic"] = metric_call(gmm_bic, cfg, "evaluate.shape.bic", points, labels, seed=cfg.seed)
    return shape


def n2d(rep: Representation, cfg, cache: ScoreCache, digest: str, code: dict) -> tuple[dict, np.ndarray]:
    """The N2D-style clustering score of a representation (cached like its other scores) and its clusters."""
    settings = {key: value for key, value in OmegaConf.to_container(cfg.evaluate.n2d).items() if key != "of"}
    name = score_cache.key(kind="n2d", representation=digest, settings=settings, seed=cfg.seed, code=code)
    scores = cache.get(name)
    arrays = cache.get_bound_arrays(name, scores.pop("clusters_digest", None)) if scores is not None else None
    if arrays is None:
        scores, clusters = n2d_clustering(rep.points, rep.labels, seed=cfg.seed, **settings)
        arrays = {"clusters": clusters}
        cache.put(name, scores | {"clusters_digest": cache.put_bound_arrays(name, arrays)})
    conf = cfg.evaluate.confidence
    replicates, _ = paired_clustering_replicates(rep.labels, arrays["clusters"], arrays["clusters"],
                                                 n_resamples=conf.n_resamples, seed=cfg.seed)
    for metric, values in replicates.items():  # points resampled; the UMAP and mixture fit is one
        scores[f"{metric}_ci"] = list(bootstrap_interval(scores[metric], values, conf.level))
    return scores, np.atleast_2d(arrays["clusters"])


def n2d_representations(names, representations: dict[str, Representation]) -> list[str]:
    """The representations ``evaluate.n2d.of`` names that this run has (a map not drawn is skipped)."""
    known = [*artifacts.REPRESENTATIONS, *(f"{m}({s})" for m in EMBEDDERS for s in artifacts.REPRESENTATIONS)]
    for name in names:
        if name not in known:
            raise ConfigError(f"evaluate.n2d.of names '{name}'; choose among {', '.join(known[:4])} "
                              "or a map such as tsne(latent)")
    return [name for name in names if name in representations]


def compare_pairs(representations: dict[str, Representation], predictions: dict[str, dict], cfg) -> dict:
    """Every pair of :data:`PAIRS` present and every map against its source, on the same points.

    A map made from all of its source's train points shares the source's points; one fitted on a
    sample (``embed.max_points``) is compared with its source on the map's points only.
    """
    conf = cfg.evaluate.confidence
    options = {"silhouette_sample": conf.silhouette_sample, "n_resamples": conf.n_resamples, "seed": cfg.seed}
    summaries: dict[tuple, PointSummary] = {}

    def summary(name: str, rows: np.ndarray | None) -> PointSummary:
        key = (name, None if rows is None else rows.tobytes())
        if key not in summaries:
            rep = representations[name]
            points, labels = rep.points, rep.labels
            clusters = {model: predictions[name][model] for model in ("kmeans", "gmm")}
            if rows is not None:
                points, labels = points[rows], labels[rows]
                clusters = {model: fits[:, rows] for model, fits in clusters.items()}
            summaries[key] = summarize_points(points, labels, clusters, **options)
        return summaries[key]

    def tests(name: str) -> HeldOutPredictions:
        metrics = [m for m in predictions[name] if m.startswith("knn_accuracy_") or m == "probe_accuracy"]
        return HeldOutPredictions(representations[name].y_test, {m: predictions[name][m] for m in metrics})

    pairs = [(a, b, None) for a, b in PAIRS if a in representations and b in representations]
    for name, rep in representations.items():
        if rep.source is not None:
            source = representations[rep.source]
            shared = len(rep.train_index) == len(source.train)
            pairs.append((name, rep.source, None if shared else map_rows(rep, source)))
    comparisons = {}
    for a, b, rows in pairs:
        comparisons[f"{a} vs {b}"] = {
            "a": a, "b": b, "points": "all" if rows is None else "the map's points",
            "metrics": compare(tests(a), tests(b), summary(a, None), summary(b, rows), level=conf.level,
                               n_resamples=conf.n_resamples, seed=cfg.seed),
        }
    return comparisons


def map_rows(rep: Representation, source: Representation) -> np.ndarray:
    """The rows of the source's points (train, then test) that a map's points (train, then test) are."""
    return np.concatenate([rep.train_index, len(source.train) + np.arange(len(rep.test))])


def data_summary(representations: dict[str, Representation]) -> dict:
    """Sizes the findings need: points, input dimension (None without the raw input: embeddings scored
    alone), and each class's train and test counts."""
    raw = representations.get("raw")
    rep = raw if raw is not None else representations["latent"]
    classes, train_counts = np.unique(rep.y_train, return_counts=True)
    test_counts = np.array([np.count_nonzero(rep.y_test == c) for c in classes])
    input_dim = None if raw is None else int(raw.train.shape[1])
    return {"n_train": int(len(rep.y_train)), "n_test": int(len(rep.y_test)), "input_dim": input_dim,
            "classes": [int(c) for c in classes], "train_counts": train_counts.tolist(),
            "test_counts": test_counts.tolist()}


def moments(representations: dict[str, Representation]) -> dict[str, np.ndarray]:
    """Class means and covariances of every representation (train and test rows), for moments.npz."""
    arrays = {}
    for name, rep in representations.items():
        for key, value in class_moments(rep.points, rep.labels).items():
            arrays[f"{name}.{key}"] = value.astype(np.float32) if value.dtype.kind == "f" else value
    return arrays
