"""Benchmark `aelat train` on MNIST against a plain PyTorch loop of the same model: seconds per epoch, GFLOP/s.

Model mlp, hidden [512, 256], latent 16, batch 256, Adam lr 1e-3, on the CPU. Both sides run in this
process with the same torch threads, alternating: --rounds rounds of --epochs epochs each, the order
swapped every round. aelat's side is its train stage called in-process (`aelat.stages.train.run`,
what `aelat train` runs once the config is composed); its seconds per epoch are read from the run's
train_log.csv. They time the same work as the bare loop (bench/bare_torch.py): a seeded permutation of
index-sliced batches, forward, loss, backward and Adam step, then one inference pass over the test
set (aelat's test objective and reconstruction MSE). The bare loop starts from the same seed, so both
give the same losses. One untimed bare epoch on 2048 points first starts torch's thread pool and
allocator for both.

Achieved GFLOP/s count the Linear layers only: 6·n_train·Σ in·out per epoch for training (forward
2·b·in·out, backward 4·b·in·out per layer and step) plus 2·n_test·Σ in·out for the test pass. They
are set against the rate torch.mm reaches on float32 (best of 5): a layer-shaped 256×784 @ 784×512
and a square 2048². A last aelat run with ``train.compile=true`` gives the seconds per epoch with
torch.compile (its first epoch compiles).

    python bench/bench_train.py [--rounds 3] [--epochs 2] [--n N] [--smoke]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from aelat.artifacts import Run, run_dir_for
from aelat.config import compose
from aelat.data import dataset_digest
from aelat.stages import train

import bare_torch
from common import alternate, dataset_file, is_mnist, record, shell, stage_seconds

HIDDEN = [512, 256]
LATENT_DIM = 16
BATCH_SIZE = 256
LR = 1e-3
SEED = 0


def aelat_round(data: Path, epochs: int, tmp: Path, compiled: bool = False) -> dict:
    """aelat's train stage on ``data`` in a new folder under ``tmp``.

    Returns seconds and train loss per epoch (train_log.csv) and the stage's seconds (run.json).
    """
    cfg = compose([
        f"output_dir={tempfile.mkdtemp(dir=tmp)}", "dataset=npz", f"dataset.path={data}", "model=mlp",
        f"model.hidden=[{','.join(map(str, HIDDEN))}]", f"latent_dim={LATENT_DIM}", f"train.batch_size={BATCH_SIZE}",
        f"train.lr={LR}", f"train.epochs={epochs}", f"seed={SEED}", "device=cpu", f"train.compile={compiled}".lower(),
    ])
    run = Run(run_dir_for(cfg), cfg, dataset_digest)
    train.run(run)
    with open(run.file("train_log.csv")) as fh:
        rows = list(csv.DictReader(fh))
    return {
        "epoch_seconds": [float(row["seconds"]) for row in rows],
        "train_loss": [float(row["train_loss"]) for row in rows],
        "seconds": stage_seconds(run.path)["train"],
    }


def bare_round(data: Path, epochs: int) -> dict:
    """The plain PyTorch loop on ``data`` (loading included in its ``seconds``)."""
    return bare_torch.train(
        str(data), hidden=HIDDEN, latent_dim=LATENT_DIM, batch_size=BATCH_SIZE, lr=LR, epochs=epochs, seed=SEED
    )


def sgemm_gflops(m: int, k: int, n: int, repeats: int = 5) -> float:
    """GFLOP/s of torch.mm on float32 (m×k) @ (k×n): the best of ``repeats`` timed batches of calls."""
    a, b = torch.rand(m, k), torch.rand(k, n)
    calls = max(1, int(2e9 // (2 * m * k * n)))  # about 2 GFLOP per timed batch
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b)
        best = min(best, time.perf_counter() - tic)
    return 2 * m * k * n * calls / best / 1e9


def epoch_flops(sizes: list[tuple[int, int]], n_train: int, n_test: int) -> float:
    """FLOPs of one epoch in the Linear layers: training 6·n_train·Σ in·out, the test pass 2·n_test·Σ in·out."""
    weights = sum(a * b for a, b in sizes)
    return 6 * n_train * weights + 2 * n_test * weights


def same_losses(runs: dict[str, list[dict]]) -> bool:
    """Whether every epoch's train loss agrees between the sides (to train_log.csv's 6 digits)."""
    return all(
        abs(a - b) <= 1e-4 * abs(b)
        for ra, rb in zip(runs["aelat"], runs["bare"])
        for a, b in zip(ra["train_loss"], rb["train_loss"])
    )


def table(runs: dict[str, list[dict]], compiled: dict, flops: float, epochs: int) -> list[tuple[str, ...]]:
    """Seconds per epoch and per run, GFLOP/s and their fraction of the sgemm rates, for both sides,
    and aelat's seconds per epoch with ``train.compile=true`` (``compiled``: its first epoch compiles)."""
    per_epoch = {side: [s for r in results for s in r["epoch_seconds"]] for side, results in runs.items()}
    median = {side: statistics.median(seconds) for side, seconds in per_epoch.items()}
    first, *rest = compiled["epoch_seconds"]
    gflops = {side: flops / seconds / 1e9 for side, seconds in median.items()}
    layer_shaped, square = sgemm_gflops(BATCH_SIZE, 784, 512), sgemm_gflops(2048, 2048, 2048)

    def row(name: str, values: dict, fmt: str) -> tuple[str, ...]:
        return name, fmt.format(values["aelat"]), fmt.format(values["bare"]), f"{values['aelat'] / values['bare']:.3f}"

    return [
        row("s per epoch, median (target ratio ≤ 1.05)", median, "{:.2f}"),
        row("s per epoch, best", {side: min(seconds) for side, seconds in per_epoch.items()}, "{:.2f}"),
        row(f"s per epoch with train.compile=true, median after the first (which compiles: {first:.1f} s)",
            {"aelat": statistics.median(rest), "bare": median["bare"]}, "{:.2f}"),
        row(f"s per run of {epochs} epochs (aelat: its stage, with loading and model.pt; bare: loading + epochs)",
            {side: statistics.median(r["seconds"] for r in results) for side, results in runs.items()}, "{:.2f}"),
        row("GFLOP/s (Linear layers, median epoch)", gflops, "{:.1f}"),
        row(f"fraction of sgemm floor, {BATCH_SIZE}×784 @ 784×512 ({layer_shaped:.1f} GFLOP/s)",
            {side: value / layer_shaped for side, value in gflops.items()}, "{:.2f}"),
        row(f"fraction of sgemm floor, 2048² ({square:.1f} GFLOP/s)",
            {side: value / square for side, value in gflops.items()}, "{:.2f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, one short round: check the benchmark runs")
    parser.add_argument("--n", type=int, help="the first N points of MNIST only (printed, not recorded)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per round and side")
    args = parser.parse_args()
    rounds, epochs = (1, 1) if args.smoke else (args.rounds, args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = dataset_file(args.smoke, args.n, tmp)
        x_train, x_test = bare_torch.load_pixels(data)
        bare_torch.fit(x_train[:2048], x_test[:512], HIDDEN, LATENT_DIM, BATCH_SIZE, LR, 1, SEED)  # warm-up, untimed
        runs = alternate(rounds, lambda: aelat_round(data, epochs, tmp), lambda: bare_round(data, epochs))
        compiled = None if args.smoke else aelat_round(data, epochs + 1, tmp, compiled=True)
    if args.smoke:
        seconds = {side: statistics.median(r[0]["epoch_seconds"]) for side, r in runs.items()}
        print(f"smoke: train on digits, aelat {seconds['aelat']:.3f} s/epoch, bare {seconds['bare']:.3f} s/epoch, "
              f"same losses {same_losses(runs)}")
        return
    sizes = bare_torch.linear_sizes(bare_torch.autoencoder(tuple(x_train.shape[1:]), HIDDEN, LATENT_DIM))
    flops = epoch_flops(sizes, len(x_train), len(x_test))
    n_points = f"first {args.n} points of MNIST" if args.n else "MNIST"
    record(
        f"aelat train vs a plain PyTorch loop, {n_points} (mlp {HIDDEN}, latent {LATENT_DIM}, batch {BATCH_SIZE}, "
        f"Adam {LR})",
        shell(["python", "bench/bench_train.py", *sys.argv[1:]]),
        table(runs, compiled, flops, epochs),
        ("", "aelat", "bare PyTorch", "aelat / bare"),
        f"Both in one process, {torch.get_num_threads()} torch threads, CPU, {rounds} alternating rounds × {epochs} "
        f"epochs each side. An epoch is training on {len(x_train)} points plus one pass over the {len(x_test)} test "
        f"points (aelat's per-epoch seconds from train_log.csv). Train losses per epoch equal on both sides: "
        f"{same_losses(runs)}. FLOPs per epoch: 6·n_train·Σ in·out + 2·n_test·Σ in·out = {flops / 1e9:.1f} GFLOP "
        f"(Σ in·out = {sum(a * b for a, b in sizes)}).",
        save=is_mnist(data),
    )


if __name__ == "__main__":
    main()
