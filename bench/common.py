"""Helpers shared by the benchmarks: run a command measuring wall time and peak memory, record results."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
MNIST = ROOT.parent / "shared" / "datasets" / "mnist.npz"
AELAT = str(Path(sys.executable).with_name("aelat"))


def peak_of(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in GiB) of one command, measured by GNU time so children do not mix."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 2**20


def machine() -> str:
    import numpy
    import sklearn
    import torch

    return (
        f"{platform.node()}, {os.cpu_count()} cores, python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {numpy.__version__}, scikit-learn {sklearn.__version__}"
    )


def record(title: str, command: str, table: list[tuple[str, ...]], header: tuple[str, ...], notes: str = "") -> None:
    """Append one benchmark's results to bench/RESULTS.md."""
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"## {title} — {stamp}", "", f"machine: {machine()}", "", f"command: `{command}`", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    if notes:
        lines += ["", notes]
    with open(RESULTS, "a") as fh:
        fh.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


def shell(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)
