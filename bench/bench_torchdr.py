"""Benchmark torchdr's t-SNE against openTSNE (aelat's t-SNE) on the latent of an MNIST run, on CPU.

Issue 17 asks whether torchdr (a PyTorch dimensionality-reduction library) reproduces openTSNE's map
quality on MNIST (the map's kNN@10 test accuracy within 0.01, trustworthiness within 0.01) and is
faster where it runs; only then is it offered as a backend. torchdr 0.5's TSNE cannot place new
points into a fitted map (its ``transform`` needs a parametric encoder), which aelat's maps do for the
test points, so here both libraries fit the first N train points and the first N/6 test points
together: openTSNE with embed.tsne's defaults as aelat resolves them, torchdr's ``TSNE(perplexity=30)``
with its defaults, one after the other in this process, with the cores this process may use.
Quality: kNN@10 accuracy of the test rows among the train rows of the map (aelat's ``knn_accuracy``)
and trustworthiness T(10) of the train rows' map against the latent (aelat's
``neighbourhood_scores``, 5,000 sampled queries).

    python bench/bench_torchdr.py [--run RUN] [--sizes 2000,5000] [--smoke]

torchdr is a dev dependency (``pip install --no-deps torchdr==0.5`` beside the pinned torch).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torchdr
from openTSNE import TSNE
from aelat.embedders.tsne import effective_options
from aelat.metrics import knn_accuracy
from aelat.metrics.neighbourhood import neighbourhood_scores
from aelat.runtime import available_cores, use_threads
from aelat.schema import TSNEConfig

from common import dataset_file, make_run, record, shell

SEED = 0
TARGET = 0.01  # the largest gap in kNN@10 or T(10) that counts as reproducing openTSNE's quality


def opentsne_map(points: np.ndarray, seed: int, short: dict) -> np.ndarray:
    """openTSNE's t-SNE of ``points`` with aelat's embed.tsne defaults."""
    options = effective_options(len(points), {**asdict(TSNEConfig()), **short})
    return np.asarray(TSNE(n_components=2, random_state=seed, verbose=False, **options).fit(points), dtype=np.float32)


def torchdr_map(points: np.ndarray, seed: int, max_iter: int | None) -> np.ndarray:
    """torchdr's t-SNE of ``points`` on the CPU, its defaults (``max_iter`` for a short smoke run)."""
    options = {} if max_iter is None else {"max_iter": max_iter, "early_exaggeration_iter": max_iter // 4}
    model = torchdr.TSNE(perplexity=30, device="cpu", random_state=seed, **options)
    return np.asarray(model.fit_transform(points), dtype=np.float32)  # numpy in, numpy out


def quality(latent_train, y_train, latent_test, y_test, map_train, map_test) -> tuple[float, float]:
    """(kNN@10 test accuracy in the map, trustworthiness T(10) of the train points' map)."""
    accuracy = knn_accuracy(map_train, y_train, map_test, y_test, ks=(10,))[10]
    trust = neighbourhood_scores(latent_train, map_train, ks=(10,), seed=SEED)["trustworthiness_10"]
    return accuracy, trust


def timed(make_map) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    points = make_map()
    return time.perf_counter() - started, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="an MNIST run whose latent is mapped (default: a 2-epoch run)")
    parser.add_argument("--sizes", default="2000,5000", help="train points per comparison, comma-separated")
    parser.add_argument("--smoke", action="store_true", help="digits, few iterations: check the benchmark runs")
    args = parser.parse_args()
    cores = available_cores()
    use_threads(cores)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = dataset_file(args.smoke, None, tmp)
        run = args.run.resolve() if args.run else make_run(tmp / "out", ["dataset=npz", f"dataset.path={data}"],
                                                          1 if args.smoke else 2, [])
        with np.load(run / "latents.npz") as latents:
            z_train, y_train = latents["z_train"].astype(np.float32), latents["y_train"]
            z_test, y_test = latents["z_test"].astype(np.float32), latents["y_test"]
    sizes = [min(300, len(z_train))] if args.smoke else [int(size) for size in args.sizes.split(",")]
    short = {"early_exaggeration_iter": 25, "n_iter": 25} if args.smoke else {}
    rows = []
    for n in sizes:
        train, labels_train = z_train[:n], y_train[:n]
        test, labels_test = z_test[: max(n // 6, 10)], y_test[: max(n // 6, 10)]
        points = np.concatenate([train, test]).astype(np.float64)
        open_s, open_map = timed(lambda: opentsne_map(points, SEED, short))
        dr_s, dr_map = timed(lambda: torchdr_map(points.astype(np.float32), SEED, 100 if args.smoke else None))
        open_q = quality(train, labels_train, test, labels_test, open_map[:n], open_map[n:])
        dr_q = quality(train, labels_train, test, labels_test, dr_map[:n], dr_map[n:])
        gaps = [dr - op for dr, op in zip(dr_q, open_q)]
        verdict = "yes" if all(abs(gap) <= TARGET for gap in gaps) and dr_s < open_s else "no"
        rows.append((f"{n} + {len(test)}", f"{open_s:.1f}", f"{dr_s:.1f}", f"{dr_s / open_s:.2f}",
                     f"{open_q[0]:.4f} / {dr_q[0]:.4f} ({gaps[0]:+.4f})",
                     f"{open_q[1]:.4f} / {dr_q[1]:.4f} ({gaps[1]:+.4f})", verdict))
    if args.smoke:
        print("smoke: " + "; ".join(f"{r[0]} points: openTSNE {r[1]} s, torchdr {r[2]} s" for r in rows))
        return
    record(
        f"torchdr {torchdr.__version__} t-SNE vs openTSNE on CPU ({cores} cores), the latent of {run.name}",
        shell(["python", "bench/bench_torchdr.py", *sys.argv[1:]]),
        rows,
        ("train + test points", "openTSNE s", "torchdr s", "torchdr / openTSNE", "kNN@10 openTSNE / torchdr (gap)",
         "T(10) openTSNE / torchdr (gap)", f"reproduces (gaps ≤ {TARGET}) and faster"),
        "Both fit the train and test points together (torchdr's TSNE cannot place new points into a fitted map, "
        "which aelat's maps need, so it cannot be a drop-in backend whatever the numbers); wall seconds of the fit. "
        "openTSNE: embed.tsne's defaults (perplexity 30, PCA initialisation, 250 + 500 iterations, FFT-accelerated "
        "gradients); torchdr: TSNE(perplexity=30) with its defaults (backend None: exact O(n²) gradients in "
        "PyTorch, up to 2000 iterations).",
    )


if __name__ == "__main__":
    main()
