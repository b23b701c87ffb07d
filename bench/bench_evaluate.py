"""Benchmark the full `aelat evaluate` on MNIST: wall time and peak memory, and how they grow with n.

1. An MNIST run (latent 16, 10 epochs) with the :data:`MAPS`: `aelat evaluate` on its 9
   representations, raw 784-d included, with the score cache off.
2. Growth: the same evaluation (4 representations + their PCA maps) on the first n points of
   MNIST for n = 10k ... 70k; near-linear growth means no n x n work.
3. umap-learn's compiled kernels (aelat.umap_import): `aelat evaluate` of a digits run (N2D clustering
   of the latent, as by default) in a process that compiles them (an empty kernel cache) and in one
   that loads them (the cache the first left), rounds alternating.

    python bench/bench_evaluate.py [--run DIR] [--smoke]   (--smoke: digits, part 3 only; used by the tests)

--run DIR: an MNIST run of that configuration (e.g. kept by `bench_pipeline.py --keep`); the maps it
lacks are drawn first.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from aelat.artifacts import embedding_stage

from common import AELAT, MNIST, SMOKE, make_run, peak_of, record, rotate, shell, stage_seconds, subset, user_env

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


def kernel_cache_seconds(run: Path, rounds: int, tmp: Path) -> dict[str, float]:
    """Median wall seconds of `aelat evaluate` (N2D of the latent) compiling umap-learn's kernels and loading them.

    Each compiling process gets an empty kernel cache; the loading ones the cache the first one filled.
    """
    command = [AELAT, "evaluate", "--run", str(run), NO_CACHE, "evaluate.n2d.of=[latent]"]
    folders = []

    def compiling() -> float:
        folders.append(tempfile.mkdtemp(dir=tmp, prefix="kernels-"))
        return peak_of(command, env=user_env(NUMBA_CACHE_DIR=folders[-1]))[0]

    sides = rotate(rounds, {"compiled": compiling,
                            "loaded": lambda: peak_of(command, env=user_env(NUMBA_CACHE_DIR=folders[0]))[0]})
    return {side: statistics.median(times) for side, times in sides.items()}


def record_kernel_cache(tmp: Path) -> None:
    """Part 3 on a digits run of 10 epochs, 3 rounds."""
    kernels = kernel_cache_seconds(make_run(tmp / "digits", [], 10, []), 3, tmp)
    record(
        "aelat evaluate of a digits run (N2D of the latent): umap-learn's kernels compiled vs loaded",
        "python bench/bench_evaluate.py  # times: " + shell(["aelat", "evaluate", "--run", "RUN", NO_CACHE,
                                                             "evaluate.n2d.of=[latent]"])
        + ", NUMBA_CACHE_DIR empty vs filled, 3 rounds alternating, medians",
        [(f"{kernels['compiled']:.1f}", f"{kernels['loaded']:.1f}", f"{kernels['loaded'] / kernels['compiled']:.2f}")],
        ("compiled (first process on a machine) s", "loaded (every later one) s", "ratio"),
        "The compilation is a fixed cost per process, whatever the data size (aelat.umap_import).",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits only: check the benchmark runs")
    parser.add_argument("--sizes", default="10000,20000,40000,70000")
    parser.add_argument("--run", type=Path, help="an existing MNIST run (latent 16, 10 epochs); its missing maps are drawn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.smoke:
            run = make_run(tmp / "out", SMOKE, 2, [])  # as part 3's run: no maps
            kernels = kernel_cache_seconds(run, 1, tmp)
            print(f"smoke: evaluate on digits with N2D, UMAP's kernels compiled {kernels['compiled']:.1f} s, "
                  f"loaded {kernels['loaded']:.1f} s")
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
        record_kernel_cache(tmp)


if __name__ == "__main__":
    main()
