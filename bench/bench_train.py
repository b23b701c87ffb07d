"""Benchmark `aelat train` on MNIST against a plain PyTorch loop of the same model: seconds per epoch, GFLOP/s.

Model mlp, hidden [512, 256], latent 16, batch 256, Adam lr 1e-3, on the CPU. Every side runs in a
fresh process, as a user would run it: --rounds rounds of --epochs epochs per side, the order rotated
every round. aelat: `aelat train`, its seconds per epoch read from the run's train_log.csv (aelat sets
GOMP_SPINCOUNT=10000 itself), and the same with OMP_WAIT_POLICY=PASSIVE (threads sleep at once), which
shows what that wait policy would cost on a quiet machine. Bare: the plain PyTorch loop of
bench/bare_torch.py with the libraries' defaults (OpenMP threads spin a while before they sleep). The loop
times the same work as aelat: a seeded permutation of index-sliced batches, forward, loss, backward and
Adam step, then one inference pass over the test set (aelat's test objective and reconstruction MSE).
It starts from the same seed, so all sides give the same losses up to round-off (aelat's Adam is fused, and
aelat flushes subnormal floats to zero). The first epoch of each process (thread pools and allocator
starting) is left out of the per-epoch figures.

Achieved GFLOP/s count the Linear layers only: 6·n_train·Σ in·out per epoch for training (forward
2·b·in·out, backward 4·b·in·out per layer and step) plus 2·n_test·Σ in·out for the test pass. They
are set against the rate torch.mm reaches on float32 (best of 5): a layer-shaped 256×784 @ 784×512
and a square 2048². A last aelat run with ``train.compile=true`` gives the seconds per epoch with
torch.compile (its first epoch compiles).

    python bench/bench_train.py [--rounds 3] [--epochs 3] [--n N] [--smoke]
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

import bare_torch
from common import AELAT, dataset_file, is_mnist, peak_of, record, rotate, run_bare, shell, stage_seconds, user_env

HIDDEN = [512, 256]
LATENT_DIM = 16
BATCH_SIZE = 256
LR = 1e-3
SEED = 0


def aelat_round(data: Path, epochs: int, tmp: Path, compiled: bool = False, **env: str) -> dict:
    """`aelat train` on ``data`` in a new folder under ``tmp``, in a process of its own.

    Returns seconds and train loss per epoch (train_log.csv) and the stage's seconds (run.json).
    """
    out = Path(tempfile.mkdtemp(dir=tmp))
    peak_of([
        AELAT, "train", f"output_dir={out}", "dataset=npz", f"dataset.path={data}", "model=mlp",
        f"model.hidden=[{','.join(map(str, HIDDEN))}]", f"latent_dim={LATENT_DIM}", f"train.batch_size={BATCH_SIZE}",
        f"train.lr={LR}", f"train.epochs={epochs}", f"seed={SEED}", "device=cpu", f"train.compile={compiled}".lower(),
    ], env=user_env(**env))
    run = (out / "latest").resolve()
    with open(run / "train_log.csv") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "epoch_seconds": [float(row["seconds"]) for row in rows],
        "train_loss": [float(row["train_loss"]) for row in rows],
        "seconds": stage_seconds(run)["train"],
    }


def bare_round(data: Path, epochs: int, tmp: Path, **env: str) -> dict:
    """The plain PyTorch loop on ``data`` in a process of its own (loading included in its ``seconds``)."""
    steps = {"train": {"data": str(data), "hidden": HIDDEN, "latent_dim": LATENT_DIM, "batch_size": BATCH_SIZE,
                       "lr": LR, "epochs": epochs, "seed": SEED}}
    return run_bare(steps, tmp, env=user_env(**env))[2]["train"]


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


def loss_gap(runs: dict[str, list[dict]]) -> float:
    """The largest relative difference between any side's train loss and aelat's, over all epochs."""
    reference = runs["aelat"]
    return max(
        abs(a - b) / abs(b)
        for results in runs.values()
        for ra, rb in zip(results, reference)
        for a, b in zip(ra["train_loss"], rb["train_loss"])
    )


def timed_epochs(results: list[dict]) -> list[float]:
    """Seconds of every epoch but each process's first (which starts the thread pools and the allocator)."""
    return [s for r in results for s in (r["epoch_seconds"][1:] or r["epoch_seconds"])]


def table(runs: dict[str, list[dict]], compiled: dict, flops: float, epochs: int) -> list[tuple[str, ...]]:
    """Seconds per epoch and per run, GFLOP/s and their fraction of the sgemm rates, for every side,
    and aelat's seconds per epoch with ``train.compile=true`` (``compiled``: its first epoch compiles)."""
    per_epoch = {side: timed_epochs(results) for side, results in runs.items()}
    median = {side: statistics.median(seconds) for side, seconds in per_epoch.items()}
    first, *rest = compiled["epoch_seconds"]
    gflops = {side: flops / seconds / 1e9 for side, seconds in median.items()}
    layer_shaped, square = sgemm_gflops(BATCH_SIZE, 784, 512), sgemm_gflops(2048, 2048, 2048)

    def row(name: str, values: dict, fmt: str) -> tuple[str, ...]:
        cells = [fmt.format(values[side]) for side in ("aelat", "bare", "aelat_passive")]
        return (name, *cells, f"{values['aelat'] / values['bare']:.3f}",
                f"{values['aelat_passive'] / values['bare']:.3f}")

    return [
        row("s per epoch, median (target aelat / bare ≤ 1.05)", median, "{:.2f}"),
        row("s per epoch, best", {side: min(seconds) for side, seconds in per_epoch.items()}, "{:.2f}"),
        row(f"s per epoch with train.compile=true, median after the first (which compiles: {first:.1f} s)",
            {"aelat": statistics.median(rest), "bare": median["bare"], "aelat_passive": median["aelat_passive"]},
            "{:.2f}"),
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
    parser.add_argument("--epochs", type=int, default=3, help="epochs per round and side (the first is not timed)")
    args = parser.parse_args()
    rounds, epochs = (1, 2) if args.smoke else (args.rounds, args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = dataset_file(args.smoke, args.n, tmp)
        x_train, x_test = bare_torch.load_pixels(data)
        runs = rotate(rounds, {
            "aelat": lambda: aelat_round(data, epochs, tmp),
            "bare": lambda: bare_round(data, epochs, tmp),
            "aelat_passive": lambda: aelat_round(data, epochs, tmp, OMP_WAIT_POLICY="PASSIVE"),
        })
        compiled = None if args.smoke else aelat_round(data, epochs + 1, tmp, compiled=True)
    if args.smoke:
        seconds = {side: statistics.median(timed_epochs(r)) for side, r in runs.items()}
        print(f"smoke: train on digits, aelat {seconds['aelat']:.3f} s/epoch, bare {seconds['bare']:.3f} s/epoch, "
              f"aelat passive {seconds['aelat_passive']:.3f} s/epoch, largest relative loss gap {loss_gap(runs):.1e}")
        return
    sizes = bare_torch.linear_sizes(bare_torch.autoencoder(tuple(x_train.shape[1:]), HIDDEN, LATENT_DIM))
    flops = epoch_flops(sizes, len(x_train), len(x_test))
    n_points = f"first {args.n} points of MNIST" if args.n else "MNIST"
    record(
        f"aelat train vs a plain PyTorch loop, {n_points} (mlp {HIDDEN}, latent {LATENT_DIM}, batch {BATCH_SIZE}, "
        f"Adam {LR})",
        shell(["python", "bench/bench_train.py", *sys.argv[1:]]),
        table(runs, compiled, flops, epochs),
        ("", "aelat", "bare PyTorch", "aelat, OMP_WAIT_POLICY=PASSIVE", "aelat / bare", "aelat passive / bare"),
        f"Every side a fresh process with {torch.get_num_threads()} torch threads, CPU, {rounds} rotating rounds × "
        f"{epochs} epochs each, the first epoch of each process not timed. An epoch is training on {len(x_train)} "
        f"points plus one pass over the {len(x_test)} test points (aelat's per-epoch seconds from train_log.csv). "
        f"Train losses per epoch agree between the sides within a relative {loss_gap(runs):.1e} (aelat's Adam is fused and it "
        f"flushes subnormal floats to zero: the same update, rounded differently). FLOPs per epoch: 6·n_train·Σ in·out + "
        f"2·n_test·Σ in·out = {flops / 1e9:.1f} GFLOP (Σ in·out = {sum(a * b for a, b in sizes)}).",
        save=is_mnist(data),
    )


if __name__ == "__main__":
    main()
