"""Benchmark the full `aelat evaluate` on MNIST: wall time and peak memory, and how they grow with n.

1. An MNIST run (latent 16, 10 epochs) with the :data:`MAPS`: `aelat evaluate` on its 9
   representations, raw 784-d included, with the score cache off.
2. Growth: the same evaluation (4 representations + their PCA maps) on the first n points of
   MNIST for n = 10k ... 70k; near-linear growth means no n x n work.

    python bench/bench_evaluate.py [--run DIR] [--smoke]   (--smoke: digits only, seconds; used by the tests)

--run DIR: an MNIST run of that configuration (e.g. kept by `bench_pipeline.py --keep`); the maps it
lacks are drawn first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from aelat.artifacts import embedding_stage

from common import AELAT, MNIST, SMOKE, make_run, peak_of, record, shell, stage_seconds, subset

SOURCES = ("raw", "pca", "untrained", "latent")
# The maps scored: PCA of every representation and t-SNE of the latent (what `aelat run --method tsne
# --of latent` draws). t-SNE maps of the three baselines would add ~2 min of t-SNE each to the
# benchmark but little to evaluate: a 2-D map's own scores take ~2 s, and its neighbourhood
# scores share the source's distance rows with the PCA map of that source.
MAPS = [("pca", source) for source in SOURCES] + [("tsne", "latent")]
NO_CACHE = "evaluate.cache=false"  # time the computation, not a read of cached scores


def draw_missing_maps(run: Path) -> Path:
    """Draw the :data:`MAPS` that ``run``'s manifest does not list."""
    made = stage_seconds(run)
    for method, source in MAPS:
        if embedding_stage(method, source) not in made:
            peak_of([AELAT, "embed", "--method", method, "--of", source, "--run", str(run)])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits only: check the benchmark runs")
    parser.add_argument("--sizes", default="10000,20000,40000,70000")
    parser.add_argument("--run", type=Path, help="an existing MNIST run (latent 16, 10 epochs); its missing maps are drawn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.smoke:
            run = make_run(tmp / "out", SMOKE, 2, [["--method", "pca", "--of", "all"]])
            seconds, gib = peak_of([AELAT, "evaluate", "--run", str(run), NO_CACHE])
            print(f"smoke: evaluate on digits {seconds:.1f} s, peak {gib:.2f} GiB")
            return
        dataset = ["dataset=npz", f"dataset.path={MNIST}"]
        run = draw_missing_maps(args.run.resolve() if args.run else make_run(tmp / "full", dataset, 10, []))
        seconds, gib = peak_of([AELAT, "evaluate", "--run", str(run), NO_CACHE])
        record(
            "aelat evaluate on MNIST, 9 representations (raw 784-d, PCA-16, untrained-16, latent-16, "
            "PCA maps of each, t-SNE map of the latent)",
            "python bench/bench_evaluate.py  # times: " + shell(["aelat", "evaluate", "--run", "RUN", NO_CACHE]),
            [(f"{seconds:.1f}", f"{gib:.2f}")],
            ("wall s (target < 60)", "peak GiB (target < 4)"),
        )
        rows = []
        for n in map(int, args.sizes.split(",")):
            path = subset(MNIST, n, tmp)
            run = make_run(tmp / f"n{n}", ["dataset=npz", f"dataset.path={path}"], 1, [["--method", "pca", "--of", "all"]])
            seconds, gib = peak_of([AELAT, "evaluate", "--run", str(run), NO_CACHE])
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
