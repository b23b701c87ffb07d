"""report.html's content: the run's 2-D maps of one seeded sample of test points, with each point's
image, kNN vote and mixture cluster in every representation shown.

The votes and clusters are evaluate's own (predictions.npz): each test point's kNN vote, and the
Gaussian mixture of the first seed of ``evaluate.clustering`` (``clustering_runs`` in metrics.json), so
the share of correct votes among all test points is the kNN accuracy in metrics.json.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics.cluster import contingency_matrix

from aelat import artifacts
from aelat.artifacts import Run
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
    """Write report.html (to ``out(HTML)``) from the run's latents, maps (those ``scores`` holds) and
    evaluate's predictions.npz, which the report stage has checked current and intact (and records as its
    inputs).

    ``figures`` are (caption, report output) shown below the maps, read from ``out(file)`` after
    ``before_page()`` (which completes them when they are drawn elsewhere meanwhile).
    """
    from aelat.plots.images import data_uri, pictured, to_uint8
    from aelat.plots.interactive import Map, Votes, write_page

    cfg = run.cfg
    maps = [name for name, row in scores.items() if row.get("source")]
    sources = list(dict.fromkeys(scores[name]["source"] for name in maps))
    stored = artifacts.npz_keys(run.file(artifacts.LATENTS))  # embeddings made outside aelat: no images
    latents = artifacts.read_npz(run.file(artifacts.LATENTS), ["y_train", "y_test", "class_names", *(
        key for key in ("examples_input", "raw_test") if key in stored)])
    class_names = [str(name) for name in latents["class_names"]]
    y_test = latents["y_test"]
    shown = sample_test_rows(len(y_test), cfg.report.max_points, cfg.seed)
    k = vote_k(cfg.evaluate.knn.ks)
    predicted = artifacts.read_npz(run.file(artifacts.PREDICTIONS), [
        f"{name}.{key}" for name in [*sources, *maps] for key in (f"knn_accuracy_{k}", "gmm")])

    def votes_of(label: str, name: str, y_train: np.ndarray) -> Votes:
        clusters = predicted[f"{name}.gmm"][0]  # the first seed's, of train then test points
        return Votes(label, predicted[f"{name}.knn_accuracy_{k}"][shown], clusters[len(y_train):][shown],
                     matched_classes(np.concatenate([y_train, y_test]), clusters))

    votes = {source: votes_of(f"{source} ({scores[source]['dim']}-d)", source, latents["y_train"])
             for source in sources}
    panels = []
    for name in maps:
        method, source = name.split("(")[0], scores[name]["source"]
        emb = artifacts.read_npz(run.file(f"{artifacts.embedding_stem(method, source)}.npz"), ["y_train", "test"])
        votes[name] = votes_of(name, name, emb["y_train"])
        accuracy = scores[name]["structure"].get(f"knn_accuracy_{k}")
        title = f"{method} of {votes[source].label}" + (f" — kNN@{k} {accuracy:.3f}" if accuracy is not None else "")
        panels.append(Map(name, method, source, title, emb["test"][shown]))

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
