"""Benchmark the whole pipeline, `aelat run` on MNIST, against the sum of its bare parts.

aelat: `aelat run dataset=npz dataset.path=MNIST train.epochs=10 --method tsne --of latent`, one
process: train (mlp [512, 256], latent 16, aelat's default batch 128, Adam 1e-3), encode, a t-SNE map
of the latent, evaluation and report. Bare: one process of bench/bare.py doing the same 10 epochs as
a plain PyTorch loop (a pass over the test set after each, as aelat's) and openTSNE with aelat's
parameters on the latent aelat made (fit on train, transform of test).

Encode and evaluate have no bare library equivalent: encode makes the baselines (PCA, the untrained
encoder) that evaluate scores beside the latent, and evaluate is aelat's own set of metrics. The bare
sum counts them at the seconds aelat's manifest (run.json) records for them (evaluate and report), so
the ratio is aelat's wall over (bare process wall + those seconds); the table breaks both sides down
by part, and gives the ratio of the parts that have a bare equivalent alone.

    python bench/bench_pipeline.py [--epochs 10] [--n N] [--keep DIR] [--smoke]

--keep DIR runs aelat in DIR (new or empty) and leaves the run there: `make bench` hands it to
bench_evaluate.py and bench_embed.py, which then need not train their own.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from common import AELAT, SMOKE, aelat_options, dataset_file, is_mnist, peak_of, record, run_bare, shell, stage_seconds

NO_BARE_EQUIVALENT = ("encode", "evaluate", "report")


def aelat_side(data: Path, epochs: int, out: Path, extra: list[str]) -> tuple[float, float, Path]:
    """Wall seconds and peak GiB of `aelat run`, and its run folder."""
    command = [AELAT, "run", f"output_dir={out}", "dataset=npz", f"dataset.path={data}", f"train.epochs={epochs}",
               *extra, "--method", "tsne", "--of", "latent"]
    wall, gib = peak_of(command)
    return wall, gib, (out / "latest").resolve()


def bare_steps(run: Path, data: Path) -> dict:
    """bench/bare.py's training and t-SNE steps with the run's own config."""
    cfg = OmegaConf.load(run / "config.yaml")
    train = {"data": str(data), "hidden": list(cfg.model.hidden), "latent_dim": cfg.latent_dim,
             "batch_size": cfg.train.batch_size, "lr": cfg.train.lr, "epochs": cfg.train.epochs, "seed": cfg.seed}
    tsne = {"latents": str(run / "latents.npz"), "seed": cfg.seed,
            "options": aelat_options(run, "tsne")}
    return {"train": train, "tsne": tsne}


def breakdown(aelat_wall: float, stages: dict, bare_wall: float, bare: dict) -> list[tuple[str, float, float]]:
    """(part, aelat seconds, bare seconds) for each part of the pipeline, then the totals."""
    shared = {name: stages[name] for name in NO_BARE_EQUIVALENT}
    parts = [
        ("train (loading included)", stages["train"], bare["train"]["seconds"]),
        ("encode (no bare equivalent: aelat's seconds)", shared["encode"], shared["encode"]),
        ("t-SNE of the latent, fit + transform", stages["embed:tsne"], bare["tsne"]["seconds"]),
        ("evaluate + report (no bare equivalent: aelat's seconds)", shared["evaluate"] + shared["report"],
         shared["evaluate"] + shared["report"]),
        ("start-up, imports, glue (wall − parts)", aelat_wall - sum(stages.values()),
         bare_wall - bare["train"]["seconds"] - bare["tsne"]["seconds"]),
    ]
    return [*parts, ("total (target ratio ≤ 1.2)", aelat_wall, bare_wall + sum(shared.values())),
            ("parts with a bare equivalent (total − encode, evaluate, report)", aelat_wall - sum(shared.values()),
             bare_wall)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, 1 epoch: check the benchmark runs")
    parser.add_argument("--n", type=int, help="the first N points of MNIST only (printed, not recorded)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="run aelat in this new or empty folder and keep the run there")
    args = parser.parse_args()
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep} is not empty; remove it first (its maps would be evaluated too)")
    epochs = 1 if args.smoke else args.epochs
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = dataset_file(args.smoke, args.n, tmp)
        out = args.keep.resolve() if args.keep else tmp / "out"
        aelat_wall, aelat_gib, run = aelat_side(data, epochs, out, SMOKE if args.smoke else [])
        stages = stage_seconds(run)
        bare_wall, _, bare = run_bare(bare_steps(run, data), tmp)
        with open(run / "train_log.csv") as fh:
            aelat_loss = [float(row["train_loss"]) for row in csv.DictReader(fh)]
    same_loss = all(abs(a - b) <= 1e-4 * abs(b) for a, b in zip(aelat_loss, bare["train"]["train_loss"]))
    rows = breakdown(aelat_wall, stages, bare_wall, bare)
    if args.smoke:
        print(f"smoke: pipeline on digits aelat {aelat_wall:.1f} s, bare sum {rows[-2][2]:.1f} s, same losses {same_loss}")
        return
    n_points = f"first {args.n} points of MNIST" if args.n else "MNIST"
    record(
        f"aelat run (train {epochs} epochs, encode, t-SNE of the latent, evaluate) vs its bare parts, {n_points}",
        shell(["python", "bench/bench_pipeline.py", *sys.argv[1:]]),
        [(part, f"{a:.1f}", f"{b:.1f}", f"{a / b:.3f}") for part, a, b in rows],
        ("part", "aelat s", "bare s", "aelat / bare"),
        "aelat: one `aelat run` process, its parts from run.json. Bare: one process of bench/bare.py (plain PyTorch "
        "loop, same model, seed, batches and per-epoch test pass; openTSNE on aelat's latent with aelat's parameters), "
        "plus aelat's own seconds for encode, evaluate and report, which have no bare library equivalent. "
        f"Train losses per epoch equal on both sides: {same_loss}. Peak memory of the `aelat run` process: "
        f"{aelat_gib:.2f} GiB.",
        save=is_mnist(data),
    )


if __name__ == "__main__":
    main()
