"""Benchmark torchdr's t-SNE against openTSNE (aelat's t-SNE) on the latent of an MNIST run, on CPU.

Issue 17 asks whether torchdr (a PyTorch dimensionality-reduction library) reproduces openTSNE's map
quality on MNIST (the map's kNN@10 test accuracy within 0.01, trustworthiness within 0.01) and is
faster where it runs; only then is it offered as a backend. Both fit the first N train points of the
run's latent and place the first N/6 test points into the fitted map (openTSNE: aelat's `tsne_map`
with embed.tsne's defaults; torchdr: ``TSNE(perplexity=30)`` with its defaults, then
``transform(test, X_train=train)``), one after the other in this process, with the cores this
process may use. Quality: kNN@10 accuracy of the test points among the train points in the map
(aelat's ``knn_accuracy``) and trustworthiness T(10) of the train points' map against the latent
(aelat's ``neighbourhood_scores``, 5,000 sampled queries).

    python bench/bench_torchdr.py [--run RUN] [--sizes 2000,5000] [--smoke]

torchdr is a dev dependency (``pip install --no-deps torchdr==0.5`` beside the pinned torch).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchdr
from aelat.embedders.tsne import tsne_map
from aelat.metrics import knn_accuracy
from aelat.metrics.neighbourhood import neighbourhood_scores
from aelat.runtime import available_cores, use_threads

from common import dataset_file, make_run, record, shell

SEED = 0
TARGET = 0.01  # the largest gap in kNN@10 or T(10) that counts as reproducing openTSNE's quality


def torchdr_map(train: np.ndarray, test: np.ndarray, seed: int, max_iter: int | None) -> tuple[np.ndarray, np.ndarray]:
    """torchdr's t-SNE of ``train`` on CPU and its placement of ``test``."""
    options = {} if max_iter is None else {"max_iter": max_iter, "early_exaggeration_iter": max_iter // 4}
    model = torchdr.TSNE(perplexity=30, device="cpu", random_state=seed, **options)
    fitted = model.fit_transform(torch.from_numpy(train))
    placed = model.transform(torch.from_numpy(test), X_train=torch.from_numpy(train))
    return np.asarray(fitted, dtype=np.float32), np.asarray(placed, dtype=np.float32)


def quality(latent_train, y_train, latent_test, y_test, map_train, map_test) -> tuple[float, float]:
    """(kNN@10 test accuracy in the map, trustworthiness T(10) of the train points' map)."""
    accuracy = knn_accuracy(map_train, y_train, map_test, y_test, ks=(10,))[10]
    trust = neighbourhood_scores(latent_train, map_train, ks=(10,), seed=SEED)["trustworthiness_10"]
    return accuracy, trust


def timed(make_map) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    started = time.perf_counter()
    maps = make_map()
    return time.perf_counter() - started, maps


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
        open_s, open_maps = timed(lambda: tsne_map(train, test, SEED, {"perplexity": 30, **short}))
        dr_s, dr_maps = timed(lambda: torchdr_map(train, test, SEED, 100 if args.smoke else None))
        open_q = quality(train, labels_train, test, labels_test, *open_maps)
        dr_q = quality(train, labels_train, test, labels_test, *dr_maps)
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
        "Fit on the train points, then the test points placed into the fitted map; wall seconds of both steps. "
        "openTSNE: aelat's tsne_map (perplexity 30, PCA initialisation, 250 + 500 iterations, Barnes-Hut or FFT "
        "gradients); torchdr: TSNE(perplexity=30) with its defaults (backend None: exact O(n²) gradients in "
        "PyTorch, up to 2000 iterations).",
    )


if __name__ == "__main__":
    main()
