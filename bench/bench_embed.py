"""Benchmark `aelat embed` (t-SNE, UMAP) on MNIST against bare openTSNE and umap-learn calls with the same parameters.

The latent comes from a short run (`aelat train` for --epochs epochs, then `aelat encode`); what is
timed is the map: fit on the train latent, transform of the test latent. Each side runs in a fresh
process, --rounds pairs per method, the order swapped every round: `aelat embed --method M --run RUN`
against `python bench/bare.py`, which calls the library on the same arrays (z_train, z_test of the
run's latents.npz) with the parameters of the run's config.yaml (embed.tsne, embed.umap) plus those
aelat's embedders add (random_state=seed; for UMAP transform_seed=seed and n_jobs=1).

Reported per side: the process's wall (start-up, imports, reading and writing included) and peak
memory; for aelat the seconds its manifest (run.json) records for the stage, for bare the seconds of
the library call. UMAP's stage imports umap-learn (aelat does it lazily, 1.5-2 s), so the bare call
counts that import too; a small UMAP run first fills numba's on-disk cache so neither side compiles
what the other then reuses.

    python bench/bench_embed.py [--rounds 1] [--epochs 2] [--n N] [--run DIR] [--smoke]

--run DIR maps the latent of an existing MNIST run (e.g. kept by `bench_pipeline.py --keep`) instead
of training one; its t-SNE map is redrawn and a UMAP map added.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from aelat.artifacts import embedding_stage
from omegaconf import OmegaConf

from common import AELAT, SMOKE, aelat_options, alternate, dataset_file, is_mnist, make_run, peak_of, record, run_bare, shell, stage_seconds

METHODS = ("tsne", "umap")


def bare_steps(run: Path, method: str, rows: int | None = None) -> dict:
    """bench/bare.py's step for ``method`` on the run's latent, with the parameters aelat uses."""
    cfg = OmegaConf.load(run / "config.yaml")
    options = aelat_options(run, method, rows)
    if method == "umap":
        options |= {"transform_seed": cfg.seed, "n_jobs": 1}
    return {method: {"latents": str(run / "latents.npz"), "seed": cfg.seed, "options": options, "rows": rows}}


def aelat_side(run: Path, method: str) -> dict:
    """`aelat embed` in a process of its own: wall seconds, peak GiB, and the stage's seconds from run.json."""
    wall, gib = peak_of([AELAT, "embed", "--method", method, "--run", str(run), "embed.cache=false"])
    return {"wall": wall, "gib": gib, "seconds": stage_seconds(run)[embedding_stage(method)]}


def bare_side(run: Path, method: str, tmp: Path) -> dict:
    """bench/bare.py in a process of its own: wall seconds, peak GiB, and the library call's seconds."""
    wall, gib, result = run_bare(bare_steps(run, method), tmp)
    step = result[method]
    return {"wall": wall, "gib": gib, "seconds": step["seconds"] + step.get("import_seconds", 0.0)}


def compare(run: Path, method: str, rounds: int, tmp: Path, warm_up: bool = True) -> dict[str, dict]:
    """Medians over ``rounds`` alternating pairs of wall, stage or call seconds, and peak GiB."""
    if method == "umap" and warm_up:
        run_bare(bare_steps(run, method, rows=500), tmp)  # fills numba's cache
    sides = alternate(rounds, lambda: aelat_side(run, method), lambda: bare_side(run, method, tmp))
    return {side: {key: statistics.median(r[key] for r in results) for key in results[0]}
            for side, results in sides.items()}


def latent_run(args: argparse.Namespace, tmp: Path) -> Path:
    """The run whose latent is mapped: --run, or a short run of --epochs on the benchmark's dataset."""
    if args.run:
        return args.run.resolve()
    data = dataset_file(args.smoke, args.n, tmp)
    dataset = ["dataset=npz", f"dataset.path={data}", *(SMOKE if args.smoke else [])]
    return make_run(tmp / "out", dataset, 1 if args.smoke else args.epochs, [])


def row(method: str, aelat: dict, bare: dict) -> tuple[str, ...]:
    return (
        method,
        f"{aelat['wall']:.1f}", f"{bare['wall']:.1f}", f"{aelat['wall'] / bare['wall']:.3f}",
        f"{aelat['seconds']:.1f}", f"{bare['seconds']:.1f}", f"{aelat['seconds'] / bare['seconds']:.3f}",
        f"{aelat['gib']:.2f} / {bare['gib']:.2f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, one pair per method: check the benchmark runs")
    parser.add_argument("--n", type=int, help="the first N points of MNIST only (printed, not recorded)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating aelat/bare pairs per method")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of the run whose latent is mapped")
    parser.add_argument("--run", type=Path, help="an existing run whose latent is mapped (skips making one)")
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = latent_run(args, tmp)
        results = {method: compare(run, method, rounds, tmp, warm_up=not args.smoke) for method in METHODS}
        parameters = "; ".join(f"{method} {bare_steps(run, method)[method]['options']}" for method in METHODS)
        with np.load(run / "latents.npz") as latents:
            n_train, n_test = len(latents["z_train"]), len(latents["z_test"])
        on_mnist = is_mnist(OmegaConf.load(run / "config.yaml").dataset.path)
    if args.smoke:
        print("smoke: " + ", ".join(
            f"{method} aelat {r['aelat']['wall']:.1f} s, bare {r['bare']['wall']:.1f} s" for method, r in results.items()
        ))
        return
    record(
        f"aelat embed vs bare openTSNE / umap-learn: {n_train} + {n_test} points of the latent of {run.name}",
        shell(["python", "bench/bench_embed.py", *sys.argv[1:]]),
        [row(method, r["aelat"], r["bare"]) for method, r in results.items()],
        ("method", "aelat wall s", "bare wall s", "wall ratio (target ≤ 1.05)", "aelat stage s (run.json)",
         "bare call s", "stage / call", "peak GiB aelat / bare"),
        f"Medians of {rounds} alternating pair(s) per method, each side a fresh process. Fit on the {n_train} train "
        f"points, transform of the {n_test} test points, same arrays and parameters ({parameters}). aelat's wall adds "
        "to its stage the CLI's start-up (imports, config); its stage adds to the library call reading latents.npz "
        "and checking its checksum, the PNG and the manifest. UMAP's call includes `import umap` (aelat's stage "
        "does too).",
        save=on_mnist,
    )


if __name__ == "__main__":
    main()
