"""report.html's content: the run's 2-D maps of one seeded sample of test points, with each point's
image, kNN vote and mixture cluster in every representation shown.

The votes and clusters are recomputed here with the functions and settings evaluate scores
(:func:`aelat.metrics.structure.knn_predictions`, :func:`~aelat.metrics.structure.gmm_clusters`),
so the share of correct votes among all test points is the kNN accuracy in metrics.json.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics.cluster import contingency_matrix

from aelat import artifacts
from aelat.artifacts import Run
from aelat.metrics.structure import gmm_clusters, knn_predictions
from aelat.runtime import progress_bar
from aelat.sampling import seeded_subset

HTML = "report.html"


def sample_test_rows(n_test: int, max_points: int | None, seed: int) -> np.ndarray:
    """Sorted test rows shown: all, or a sample of ``max_points`` drawn with ``seed`` (:func:`seeded_subset`)."""
    return seeded_subset(n_test, max_points, seed, "max_points")


def vote_k(ks) -> int:
    """The k of the votes shown: 10 when evaluate measures kNN@10 (the maps' titles), else its largest."""
    ks = [int(k) for k in ks]
    return 10 if 10 in ks else max(ks)


def write_html(run: Run, scores: dict, figures: list[tuple[str, str]], out: artifacts.Outputs,
               before_page: Callable[[], None] = lambda: None) -> None:
    """Write report.html (to ``out(HTML)``) from the run's latents and maps (those ``scores`` holds),
    which the report stage has checked current and intact (and records as its inputs).

    ``figures`` are (caption, report output) shown below the maps, read from ``out(file)`` after
    ``before_page()`` (which completes them when they are drawn elsewhere meanwhile).
    """
    from aelat.plots.images import data_uri, pictured, to_uint8
    from aelat.plots.interactive import Map, Votes, write_page

    cfg = run.cfg
    maps = [name for name, row in scores.items() if row.get("source")]
    sources = list(dict.fromkeys(scores[name]["source"] for name in maps))
    keys = [artifacts.REPRESENTATIONS[s] for s in sources]
    stored = artifacts.npz_keys(run.file(artifacts.LATENTS))  # embeddings made outside aelat: no images
    latents = artifacts.read_npz(
        run.file(artifacts.LATENTS),
        ["y_train", "y_test", "class_names", *(key for key in ("examples_input", "raw_test") if key in stored),
         *(f"{key}_{split}" for key in dict.fromkeys(keys) for split in ("train", "test"))],
    )
    class_names = [str(name) for name in latents["class_names"]]
    y_test = latents["y_test"]
    shown = sample_test_rows(len(y_test), cfg.report.max_points, cfg.seed)
    k = vote_k(cfg.evaluate.knn.ks)

    def votes_of(label, train, y_train, test) -> Votes:
        points = np.concatenate([train, test])
        clusters = gmm_clusters(points, len(class_names), **cfg.evaluate.clustering, seed=cfg.seed)
        labels = np.concatenate([y_train, y_test])
        return Votes(label, knn_predictions(train, y_train, test[shown], k),
                     clusters[len(train):][shown], matched_classes(labels, clusters))

    votes, panels = {}, []
    with progress_bar() as bar:
        task = bar.add_task(f"{HTML}: kNN votes and clusters", total=len(sources) + len(maps), status="",
                            unit="representation")
        for source, key in zip(sources, keys):
            train, test = latents[f"{key}_train"], latents[f"{key}_test"]
            votes[source] = votes_of(f"{source} ({train.shape[1]}-d)", train, latents["y_train"], test)
            bar.update(task, advance=1, status=source)
        for name in maps:
            method, source = name.split("(")[0], scores[name]["source"]
            emb = artifacts.read_npz(run.file(f"{artifacts.embedding_stem(method, source)}.npz"))
            votes[name] = votes_of(name, emb["train"], emb["y_train"], emb["test"])
            accuracy = scores[name]["structure"].get(f"knn_accuracy_{k}")
            title = f"{method} of {votes[source].label}" + (f" — kNN@{k} {accuracy:.3f}" if accuracy is not None else "")
            panels.append(Map(name, method, source, title, emb["test"][shown]))
            bar.update(task, advance=1, status=name)

    thumbnails = None
    if "raw_test" in latents and "examples_input" in latents and pictured(latents["examples_input"]):
        sample_shape = latents["examples_input"].shape[1:]
        thumbnails = [data_uri(p) for p in to_uint8(latents["raw_test"][shown], sample_shape)]
    cap = "" if len(shown) == len(y_test) else (
        f"a sample drawn with seed {cfg.seed} (report.max_points={cfg.report.max_points}; null draws all)")
    intro = [
        f"{len(shown):,} of {len(y_test):,} test points{', ' + cap if cap else ''}, in every 2-D map of the run. "
        f"Hover a point for its image, class, test-set index, kNN@{k} vote and mixture cluster; drag a box or "
        "lasso to select points in one map and see them in all; the menu recolours every map.",
        "kNN votes: among the train points of the representation shown (the vote that kNN@k in "
        "metrics.json scores); clusters: the Gaussian mixture that GMM acc/NMI score, each matched one-to-one "
        "to a class.",
    ]
    before_page()
    write_page(out(HTML), title=f"aelat — {run.path.name}", intro=intro, class_names=class_names,
               labels=y_test[shown], index=shown, thumbnails=thumbnails, maps=panels, votes=votes, k=k,
               figures=[(caption, out(file)) for caption, file in figures])


def matched_classes(labels: np.ndarray, clusters: np.ndarray) -> dict[int, int]:
    """Cluster -> class under the one-to-one matching that maximises agreement (as GMM acc scores it)."""
    cluster_ids, cluster_index = np.unique(clusters, return_inverse=True)
    class_ids, class_index = np.unique(labels, return_inverse=True)
    counts = contingency_matrix(class_index, cluster_index)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {int(cluster_ids[c]): int(class_ids[r]) for r, c in zip(rows, cols)}
