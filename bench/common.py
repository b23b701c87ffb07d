"""Helpers shared by the benchmarks: datasets, run a command measuring wall time and peak memory, record results."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
MNIST = ROOT.parent / "shared" / "datasets" / "mnist.npz"
AELAT = str(Path(sys.executable).with_name("aelat"))
BARE = ROOT / "bench" / "bare.py"
# --smoke runs check only that a benchmark works: few t-SNE steps and UMAP epochs, no N2D clustering,
# small evaluate samples, no snapshots (analyse's training dynamics, most of a small run's time; the
# tests run every benchmark this way)
SMOKE = ["embed.tsne.early_exaggeration_iter=25", "embed.tsne.n_iter=25", "embed.umap.n_epochs=20",
         "evaluate.n2d.of=[]", "evaluate.distribution.n_bootstrap=20", "evaluate.neighbourhood.sample_size=200",
         "train.snapshots=[]"]


def peak_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in GiB) of one command, measured by GNU time so children do not mix."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], check=True, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 2**20


def make_run(out: Path, dataset: list[str], epochs: int, maps: list[list[str]]) -> Path:
    """Train, encode and draw maps for one configuration; returns its run folder."""
    base = [f"output_dir={out}", "latent_dim=16", f"train.epochs={epochs}", *dataset]
    peak_of([AELAT, "train", *base])
    peak_of([AELAT, "encode", *base])
    for args in maps:
        peak_of([AELAT, "embed", *args, *base])
    return (out / "latest").resolve()


def alternate(rounds: int, aelat: Callable[[], dict], bare: Callable[[], dict]) -> dict[str, list[dict]]:
    """Results of ``rounds`` rounds of both measurements, aelat first in even rounds, bare first in odd ones."""
    return rotate(rounds, {"aelat": aelat, "bare": bare})


def rotate(rounds: int, sides: dict[str, Callable[[], dict]]) -> dict[str, list[dict]]:
    """Results of ``rounds`` rounds of every measurement, each round starting one side later than the last."""
    names = list(sides)
    results = {name: [] for name in names}
    for index in range(rounds):
        for name in names[index % len(names):] + names[: index % len(names)]:
            results[name].append(sides[name]())
    return results


def user_env(**changes: str) -> dict[str, str]:
    """This process's environment without the OpenMP wait settings (what a user's shell has), plus ``changes``.

    The benchmarks themselves may run with an OpenMP wait setting (the machines are shared); a process
    measured as a user would run it must not inherit it.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    return env | changes


def run_bare(steps: dict, out: Path, env: dict[str, str] | None = None) -> tuple[float, float, dict]:
    """Run bench/bare.py's ``steps`` in a fresh process: (wall seconds, peak GiB, what each step returned).

    The process has the libraries' own defaults (:func:`user_env`) unless ``env`` is given.
    """
    spec, result = out / "bare_steps.json", out / "bare_result.json"
    spec.write_text(json.dumps(steps))
    seconds, gib = peak_of([sys.executable, str(BARE), str(spec), str(result)], env=user_env() if env is None else env)
    return seconds, gib, json.loads(result.read_text())


def aelat_options(run: Path, method: str, rows: int | None = None) -> dict:
    """The parameters aelat's embed stage gives the library for ``method`` on the run's latent
    (its config's section, ``n_jobs="auto"`` resolved as in this process)."""
    from aelat.embedders import map_parameters
    from omegaconf import OmegaConf

    options = OmegaConf.to_container(OmegaConf.load(run / "config.yaml").embed[method], resolve=True)
    with np.load(run / "latents.npz") as latents:
        n_points = len(latents["z_train"][:rows])
    return map_parameters(method, n_points, options)


def stage_seconds(run: Path) -> dict[str, float]:
    """The seconds each stage took, as the run's manifest (run.json) records them."""
    return {name: entry["seconds"] for name, entry in json.loads((run / "run.json").read_text())["stages"].items()}


def subset(path: Path, n: int, out: Path) -> Path:
    """The first n points of MNIST, split 6:1 between train and test as MNIST is."""
    data = np.load(path)
    n_test = n // 7
    target = out / f"mnist_{n}.npz"
    np.savez(target, Xtr=data["Xtr"][: n - n_test], ytr=data["ytr"][: n - n_test], Xte=data["Xte"][:n_test],
             yte=data["yte"][:n_test])
    return target


def digits_npz(out: Path) -> Path:
    """scikit-learn's digits as aelat's digits loader splits them, in an .npz (so one code path serves all)."""
    from aelat.data.digits import load_digits

    data = load_digits(test_size=0.25, seed=0)
    target = out / "digits.npz"
    np.savez(target, Xtr=data.x_train.numpy(), ytr=data.y_train.numpy(), Xte=data.x_test.numpy(), yte=data.y_test.numpy())
    return target


def is_mnist(path: str | Path) -> bool:
    """Whether ``path`` is the whole of MNIST: only such results are recorded, reduced runs are printed."""
    return Path(path).resolve() == MNIST.resolve()


def dataset_file(smoke: bool, n: int | None, out: Path) -> Path:
    """digits for --smoke, the first n points of MNIST for --n, else all of MNIST."""
    if smoke:
        return digits_npz(out)
    return subset(MNIST, n, out) if n else MNIST


def machine() -> str:
    from importlib.metadata import version

    import sklearn
    import torch

    return (
        f"{platform.node()}, {os.cpu_count()} cores, python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, openTSNE {version('openTSNE')}, "
        f"umap-learn {version('umap-learn')}"
    )


def record(
    title: str, command: str, table: list[tuple[str, ...]], header: tuple[str, ...], notes: str = "", save: bool = True
) -> None:
    """Print one benchmark's results and append them to bench/RESULTS.md (unless ``save`` is false)."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"## {title} — {stamp}", "", f"machine: {machine()}", "", f"command: `{command}`", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    if notes:
        lines += ["", notes]
    if save:
        with open(RESULTS, "a") as fh:
            fh.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


def shell(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)
