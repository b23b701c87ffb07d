"""Benchmark aelat on a busy machine: each workload quiet, then with one busy process per core beside it.

Workloads, each a fresh process: a training epoch (`aelat train`, MNIST, the README's model; seconds
per epoch from train_log.csv, the first epoch left out), one t-SNE map (`aelat embed --method tsne`
of a run's latent, its stage seconds; the map cache off), `aelat evaluate` (the score cache off), a
small t-SNE (the latent of a run on the first 2,000 training points of MNIST, where
`embed.tsne.n_jobs=auto` runs one thread) with aelat's default and with all cores, and for reference the plain PyTorch loop of bench/bare_torch.py
with the libraries' defaults (OpenMP threads spin before they sleep) on a quarter of MNIST.

"Busy" is one CPU-bound process per core this process may use (``while True: pass``, at the same
priority), started by the benchmark before the workload and stopped after it, so the workload's
threads compete for every core as they do on a shared machine. Targets: contended ≤ 2× quiet for
training and t-SNE (a workload of n threads beside n busy processes gets about half the cores), with
quiet training still ≤ 1.05× the plain loop (bench_train.py).

    python bench/bench_contention.py --run RUN [--epochs 3] [--smoke]

--run: an MNIST run (e.g. kept by `bench_pipeline.py --keep`) whose latent is mapped and evaluated;
without it a 2-epoch run is made first.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from aelat.artifacts import embedding_stage
from aelat.runtime import available_cores

from common import (AELAT, SMOKE, dataset_file, is_mnist, make_run, peak_of, record, run_bare, shell, stage_seconds, subset,
                    user_env)

BUSY = [sys.executable, "-c", "while True: pass"]
SMALL_TSNE = 2000  # points of the small t-SNE (below embed.tsne's PARALLEL_FROM: one thread by default)


@contextlib.contextmanager
def busy(cores: int) -> Iterator[None]:
    """One CPU-bound process per core while the block runs; stopped (and reaped) however it ends."""
    processes = [subprocess.Popen(BUSY) for _ in range(cores)]
    try:
        yield
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def quiet_and_contended(measure: Callable[[], float], cores: int) -> tuple[float, float]:
    """(quiet seconds, contended seconds) of one workload."""
    quiet = measure()
    with busy(cores):
        contended = measure()
    return quiet, contended


def training_epoch(data: Path, epochs: int, tmp: Path, *overrides: str, **env: str) -> float:
    """Median seconds per epoch of `aelat train` (MNIST, latent 16), the first epoch left out; ``overrides``
    added to its command line, ``env`` to the user's environment."""
    out = Path(tempfile.mkdtemp(dir=tmp))
    peak_of([AELAT, "train", f"output_dir={out}", "dataset=npz", f"dataset.path={data}", "latent_dim=16",
             f"train.epochs={epochs}", "device=cpu", *overrides], env=user_env(**env))
    with open((out / "latest").resolve() / "train_log.csv") as fh:
        seconds = [float(row["seconds"]) for row in csv.DictReader(fh)]
    return statistics.median(seconds[1:] or seconds)


def plain_loop_epoch(data: Path, tmp: Path) -> float:
    """Seconds of the plain PyTorch loop's second epoch, the libraries' default OpenMP settings."""
    steps = {"train": {"data": str(data), "hidden": [512, 256], "latent_dim": 16, "batch_size": 128, "lr": 1e-3,
                       "epochs": 2, "seed": 0}}
    return run_bare(steps, tmp, env=user_env())[2]["train"]["epoch_seconds"][-1]


def stage(run: Path, command: list[str], name: str) -> float:
    """The seconds run.json records for ``name`` after running ``command`` on ``run``."""
    peak_of([AELAT, *command, "--run", str(run)], env=user_env())
    return stage_seconds(run)[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, short: check the benchmark runs")
    parser.add_argument("--run", type=Path, help="an MNIST run whose latent is mapped and evaluated")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per measurement (the first untimed)")
    args = parser.parse_args()
    cores = available_cores()
    short = SMOKE if args.smoke else []  # set when the run is made: `--run` takes no new keys
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = dataset_file(args.smoke, None, tmp)
        if args.run:
            run = args.run.resolve()
        else:
            run = make_run(tmp / "out", ["dataset=npz", f"dataset.path={data}", *short], 1 if args.smoke else 2, [])
        quarter = data if args.smoke else subset(data, 17500, tmp)  # 15,000 train points
        epochs = 2 if args.smoke else args.epochs
        tsne = ["embed", "--method", "tsne", "--of", "latent", "embed.cache=false"]
        rows = {"training, s per epoch (aelat train, latent 16; target ≤ 2×)":
                quiet_and_contended(lambda: training_epoch(data, epochs, tmp), cores)}
        if not args.smoke:  # the same measurement with the settings a user on a busy machine may choose
            rows |= {
                "training with OMP_WAIT_POLICY=PASSIVE (threads sleep at once), s per epoch (the alternative)":
                    quiet_and_contended(lambda: training_epoch(data, epochs, tmp, OMP_WAIT_POLICY="PASSIVE"), cores),
                "training with threads=1 (no thread waits for another), s per epoch (the other alternative)":
                    quiet_and_contended(lambda: training_epoch(data, epochs, tmp, "threads=1"), cores),
            }
        rows["t-SNE of the latent, stage s (aelat embed; target ≤ 2×)"] = quiet_and_contended(
            lambda: stage(run, tsne, embedding_stage("tsne")), cores)
        if not args.smoke:  # measured as the t-SNE row is: the smoke run checks that code once
            rows["evaluate, stage s (aelat evaluate, score cache off)"] = quiet_and_contended(
                lambda: stage(run, ["evaluate", "evaluate.cache=false"], "evaluate"), cores)
        if not args.smoke:  # the same measurements on a run of its own: the first SMALL_TSNE train points
            small = make_run(tmp / "small", ["dataset=npz", f"dataset.path={subset(data, SMALL_TSNE * 7 // 6, tmp)}"],
                             1, [])
            for n_jobs, meaning in (("auto", "auto (one thread)"), ("-1", "-1 (all cores)")):
                command = [*tsne, f"embed.tsne.n_jobs={n_jobs}"]
                rows[f"t-SNE of {SMALL_TSNE} latent points, n_jobs={meaning}, stage s"] = quiet_and_contended(
                    lambda: stage(small, command, embedding_stage("tsne")), cores)
        rows["plain PyTorch loop, default OpenMP settings, 15,000 points, s per epoch (reference)"] = (
            quiet_and_contended(lambda: plain_loop_epoch(quarter, tmp), cores))
        with np.load(run / "latents.npz") as latents:
            n_train = len(latents["z_train"])
        on_mnist = is_mnist(data)
    table = [(name, f"{quiet:.2f}", f"{contended:.2f}", f"{contended / quiet:.2f}")
             for name, (quiet, contended) in rows.items()]
    if args.smoke:
        print("smoke: " + "; ".join(f"{name.split(',')[0]} {q} s quiet, {c} s contended" for name, q, c, _ in table))
        return
    record(
        f"aelat on a busy machine: quiet vs {cores} busy processes beside it (one per core), MNIST",
        shell(["python", "bench/bench_contention.py", *sys.argv[1:]]),
        table,
        ("workload", "quiet s", "contended s", "contended / quiet"),
        f"Each workload a fresh process with the libraries' default environment (aelat sets GOMP_SPINCOUNT=10000 "
        f"itself); contended: {cores} processes running `while True: pass` at the same priority, started before "
        f"and stopped after each measurement. Training: median seconds per epoch of {epochs} epochs, the first "
        f"left out. t-SNE: {n_train} train points of {run.name}'s latent plus the test points' placement.",
        save=on_mnist,
    )


if __name__ == "__main__":
    main()
