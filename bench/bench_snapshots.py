"""Benchmark what train.snapshots costs: `aelat train` on MNIST with the default snapshots against none.

The default model, training settings and snapshots (0, 1, 2, 4, 8, last epoch; 5000 train + 2000 test
points encoded at each, with their reconstruction error), latent 16, --epochs epochs (default 10, the
README's MNIST run: 6 snapshots in 10 epochs, a larger share than the default 30 epochs' 7 in 30). Both
sides run in this process, alternating (the order swapped every round, so a machine that slows or
speeds up during the benchmark affects both alike); each side's time is its train stage's seconds in
run.json (loading the data, training, snapshots, checkpoints and writing the artifacts). The ratio of
the medians is the overhead; the target is <= 1.10. One untimed digits run first warms torch up.

    python bench/bench_snapshots.py [--rounds 3] [--epochs 10] [--n N] [--smoke]
"""

from __future__ import annotations

import argparse
import os
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

from common import alternate, dataset_file, digits_npz, is_mnist, record, shell, stage_seconds

LATENT_DIM = 16


def train_seconds(data: Path, epochs: int, tmp: Path, snapshots: bool) -> dict:
    """Train with the default snapshots (or none) in a new folder under ``tmp``: the stage's seconds, and the
    seconds spent taking snapshots (timed around each call inside the same run)."""
    cfg = compose([
        f"output_dir={tempfile.mkdtemp(dir=tmp)}", "dataset=npz", f"dataset.path={data}", f"latent_dim={LATENT_DIM}",
        f"train.epochs={epochs}", "device=cpu", *([] if snapshots else ["train.snapshots=[]"]),
    ])
    run = Run(run_dir_for(cfg), cfg, dataset_digest)
    spent = []
    real = train.take_snapshot

    def timed(*args):
        tic = time.perf_counter()
        try:
            return real(*args)
        finally:
            spent.append(time.perf_counter() - tic)

    train.take_snapshot = timed
    try:
        train.run(run)
    finally:
        train.take_snapshot = real
    return {"seconds": stage_seconds(run.path)["train"], "snapshot_seconds": sum(spent), "n_snapshots": len(spent),
            "snapshots": run.file("snapshots.npz").is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, one short round: check the benchmark runs")
    parser.add_argument("--n", type=int, help="the first N points of MNIST only (printed, not recorded)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    rounds, epochs = (1, 2) if args.smoke else (args.rounds, args.epochs)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = dataset_file(args.smoke, args.n, tmp)
        train_seconds(digits_npz(tmp), 1, tmp, snapshots=True)  # warm-up, untimed
        runs = alternate(rounds, lambda: train_seconds(data, epochs, tmp, True),
                         lambda: train_seconds(data, epochs, tmp, False))
    assert all(r["snapshots"] for r in runs["aelat"]) and not any(r["snapshots"] for r in runs["bare"])
    seconds = {side: [r["seconds"] for r in results] for side, results in runs.items()}
    median = {side: statistics.median(values) for side, values in seconds.items()}
    ratio = median["aelat"] / median["bare"]
    # The same run's time in snapshots over its time without them: immune to the machine's load changing
    # between runs, which a shared machine's alternating rounds are not.
    inside = [r["snapshot_seconds"] / (r["seconds"] - r["snapshot_seconds"]) for r in runs["aelat"]]
    if args.smoke:
        print(f"smoke: train on digits, with snapshots {median['aelat']:.2f} s, without {median['bare']:.2f} s, "
              f"ratio {ratio:.3f}, snapshots {100 * statistics.median(inside):.1f} % of the rest of the stage")
        return
    n_points = f"first {args.n} points of MNIST" if args.n else "MNIST"
    record(
        f"train.snapshots overhead, {n_points} (default model and snapshots, latent {LATENT_DIM}, {epochs} epochs)",
        shell(["python", "bench/bench_snapshots.py", *sys.argv[1:]]),
        [
            ("train stage seconds, median", f"{median['aelat']:.1f}", f"{median['bare']:.1f}", f"{ratio:.3f}"),
            ("each round", ", ".join(f"{s:.1f}" for s in seconds["aelat"]),
             ", ".join(f"{s:.1f}" for s in seconds["bare"]), ""),
            (f"seconds taking the {runs['aelat'][0]['n_snapshots']} snapshots, per run (share of the rest of that "
             "run's stage)", ", ".join(f"{r['snapshot_seconds']:.1f} ({100 * x:.1f} %)" for r, x in zip(runs["aelat"], inside)),
             "", f"{1 + statistics.median(inside):.3f}"),
        ],
        ("", "default snapshots", "train.snapshots=[]", "ratio (target ≤ 1.10)"),
        f"Both in one process, {torch.get_num_threads()} torch threads, CPU, {rounds} alternating rounds. Load average "
        f"(1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores: "
        "above the core count the machine was shared and absolute seconds are inflated; the ratio of alternating "
        "rounds is what compares.",
        save=is_mnist(data),
    )


if __name__ == "__main__":
    main()
