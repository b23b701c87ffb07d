"""Benchmark the full `aelat evaluate` on MNIST: wall time and peak memory, and how they grow with n.

1. The run made by `aelat run` on MNIST (latent 16, 10 epochs, t-SNE and PCA maps of every
   representation): `aelat evaluate` on all 12 representations, raw 784-d included.
2. Growth: the same evaluation (4 representations + their PCA maps) on the first n points of
   MNIST for n = 10k ... 70k; near-linear growth means no n x n work.

    python bench/bench_evaluate.py [--run DIR] [--smoke]   (--smoke: digits only, seconds; used by the tests)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from common import AELAT, MNIST, peak_of, record, shell


def make_run(out: Path, dataset: list[str], epochs: int, maps: list[list[str]]) -> Path:
    """Train, encode and draw maps for one configuration; returns its run folder."""
    base = [f"output_dir={out}", "latent_dim=16", f"train.epochs={epochs}", *dataset]
    peak_of([AELAT, "train", *base])
    peak_of([AELAT, "encode", *base])
    for args in maps:
        peak_of([AELAT, "embed", *args, *base])
    return (out / "latest").resolve()


def subset(path: Path, n: int, out: Path) -> Path:
    """The first n points of MNIST, split 6:1 between train and test as MNIST is."""
    data = np.load(path)
    n_test = n // 7
    target = out / f"mnist_{n}.npz"
    np.savez(target, Xtr=data["Xtr"][: n - n_test], ytr=data["ytr"][: n - n_test], Xte=data["Xte"][:n_test],
             yte=data["yte"][:n_test])
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits only: check the benchmark runs")
    parser.add_argument("--sizes", default="10000,20000,40000,70000")
    parser.add_argument("--run", type=Path, help="an existing MNIST run folder made by `aelat run` (skips making one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.smoke:
            run = make_run(tmp / "out", [], 2, [["--method", "pca", "--of", "all"]])
            seconds, gib = peak_of([AELAT, "evaluate", "--run", str(run)])
            print(f"smoke: evaluate on digits {seconds:.1f} s, peak {gib:.2f} GiB")
            return
        dataset = ["dataset=npz", f"dataset.path={MNIST}"]
        run = args.run or make_run(tmp / "full", dataset, 10, [["--method", m, "--of", "all"] for m in ("pca", "tsne")])
        command = [AELAT, "evaluate", "--run", str(run)]
        seconds, gib = peak_of(command)
        record(
            "aelat evaluate on MNIST, all 12 representations (raw 784-d, PCA-16, untrained-16, latent-16, "
            "t-SNE and PCA maps of each)",
            "python bench/bench_evaluate.py  # times: " + shell(["aelat", "evaluate", "--run", "RUN"]),
            [(f"{seconds:.1f}", f"{gib:.2f}")],
            ("wall s (target < 60)", "peak GiB (target < 4)"),
        )
        rows = []
        for n in map(int, args.sizes.split(",")):
            path = subset(MNIST, n, tmp)
            run = make_run(tmp / f"n{n}", ["dataset=npz", f"dataset.path={path}"], 1, [["--method", "pca", "--of", "all"]])
            seconds, gib = peak_of([AELAT, "evaluate", "--run", str(run)])
            rows.append((str(n), f"{seconds:.1f}", f"{gib:.2f}"))
        record(
            "aelat evaluate growth with n (4 representations + their PCA maps)",
            "python bench/bench_evaluate.py",
            rows,
            ("n points", "wall s", "peak GiB"),
            "Near-linear growth in n: every neighbour metric uses k-NN queries or a fixed-size sample.",
        )


if __name__ == "__main__":
    main()
