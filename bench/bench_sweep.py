"""Benchmark a latent-size sweep today vs now: `aelat run -m latent_dim=2,4,8,16,32 --method tsne --of all`.

Today is aelat at :data:`BASELINE` (main when issue 17 was filed: no map cache, openTSNE on all cores
for every input), run from a copy of that commit's src/ (`git archive`) with this environment; now is
this checkout. Both sweep the same data (MNIST, or its first --n points), 10 epochs as the README's
sweep, seed 0, each into a fresh output_dir, one after the other, each a fresh process with the
libraries' default environment. Reported: the wall seconds of each sweep and their ratio (target
≤ 0.6), the stage seconds summed over the configurations (run.json), the t-SNE maps computed, and
whether every configuration's numbers (metrics.json's representations, every map's arrays) are
identical.

    python bench/bench_sweep.py [--n 20000] [--baseline REV|none] [--smoke]

--n: the full sweep takes ~35 min per side on 2 cores (20 t-SNE maps of 60,000 points today), beyond
the bench's budget, so `make bench` runs the first 20,000 points of MNIST (17,143 train) by default;
--n 0 runs all of it. --baseline none (and --smoke): today is this checkout with what reuses work
turned off: embed.cache=false (no map cache), analyse.cache=false (no profile cache) and jobs=1 (maps
one after another in the process). Each side starts with an empty numba cache (NUMBA_CACHE_DIR), as
on a machine that never ran aelat: its process compiles umap-learn's and pynndescent's kernels once
(not in --smoke, which uses this machine's cache).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

from common import AELAT, MNIST, ROOT, SMOKE, digits_npz, record, shell, stage_seconds, subset, user_env

BASELINE = "0a63d41"  # main when issue 17 was filed
LATENT_SIZES = "2,4,8,16,32"
# --smoke: one latent size, one epoch, common.SMOKE's short settings: the script's every step on both
# sides (a hit of the map cache, reuse across sizes, is tested bit for bit in tests/test_map_cache.py).
# Digits have fewer points than embed.tsne.n_jobs=auto runs in parallel, so both sides are given
# today's default.
SMOKE_SWEEP = ["latent_dim=2", "train.epochs=1", "embed.tsne.n_jobs=-1", *SMOKE]


def baseline_source(revision: str, tmp: Path) -> Path | None:
    """``src/`` of ``revision`` unpacked under ``tmp`` (None when this clone lacks that commit)."""
    done = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True)
    if done.returncode != 0:
        return None
    with tarfile.open(fileobj=BytesIO(done.stdout)) as archive:
        archive.extractall(tmp / "baseline", filter="data")
    return tmp / "baseline" / "src"


def sweep(command: list[str], out: Path, overrides: list[str], env: dict) -> float:
    """Wall seconds of one sweep into ``out``."""
    started = time.perf_counter()
    done = subprocess.run([*command, "run", "-m", *overrides, f"output_dir={out}", "--method", "tsne", "--of", "all"],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"sweep into {out} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def runs(out: Path) -> dict[str, Path]:
    """The sweep's run folders by configuration (the name without its config hash, which settings that
    change no number, such as embed.cache, also move)."""
    return {p.name.rsplit("-", 1)[0]: p for p in out.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")}


def totals(out: Path) -> dict[str, float]:
    """Stage seconds summed over the sweep's configurations: train, encode, t-SNE maps, analyse, evaluate + report."""
    sums = {"train": 0.0, "encode": 0.0, "t-SNE": 0.0, "analyse": 0.0, "evaluate": 0.0}
    for run in runs(out).values():
        for stage, seconds in stage_seconds(run).items():
            part = "t-SNE" if stage.startswith("embed:") else "evaluate" if stage == "report" else stage
            sums[part] += seconds
    return sums


def identical(today: Path, now: Path) -> tuple[bool, str]:
    """Whether both sweeps made the same configurations with the same numbers (metrics.json, analyse's tables)
    and maps, and the first difference."""
    a, b = runs(today), runs(now)
    if a.keys() != b.keys():
        return False, f"other configurations: {sorted(a)} vs {sorted(b)}"
    for name in sorted(a):
        scores = [json.loads((side[name] / "metrics.json").read_text())["representations"] for side in (a, b)]
        if scores[0] != scores[1]:
            return False, f"{name}: metrics.json differs"
        for table in ("dynamics.csv", "layers.csv", "geometry.csv"):  # analyse's numbers
            if (a[name] / table).exists() and (a[name] / table).read_text() != (b[name] / table).read_text():
                return False, f"{name}/{table} differs"
        for path in sorted(a[name].glob("embedding_*.npz")):
            with np.load(path) as x, np.load(b[name] / path.name) as y:
                if any(not np.array_equal(x[key], y[key]) for key in x.files):
                    return False, f"{name}/{path.name} differs"
    return True, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, one latent size: check the benchmark runs")
    parser.add_argument("--n", type=int, default=20000, help="the first N points of MNIST (0: all of it)")
    parser.add_argument("--baseline", default=BASELINE, help="today's commit, or none (this checkout, map cache off)")
    parser.add_argument("--same-env", action="store_true",
                        help="both sides with this environment as it is (e.g. OMP_WAIT_POLICY=PASSIVE on a shared "
                             "machine, so that the comparison isolates the reuse of work)")
    args = parser.parse_args()
    env = (lambda **changes: os.environ | changes) if args.same_env else user_env
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = digits_npz(tmp) if args.smoke else subset(MNIST, args.n, tmp) if args.n else MNIST
        overrides = ["dataset=npz", f"dataset.path={data}", *(SMOKE_SWEEP if args.smoke else
                                                               [f"latent_dim={LATENT_SIZES}", "train.epochs=10"])]
        # the smoke run checks the comparison itself, against this checkout with the map cache off: an
        # older baseline's numbers differ wherever a metric's method changed since
        source = None if args.baseline == "none" or args.smoke else baseline_source(args.baseline, tmp)
        if source is None and args.baseline != "none" and not args.smoke:
            sys.exit(f"this clone lacks commit {args.baseline}; fetch it, or pass --baseline none")
        # each side starts with numba's disk cache empty, as on a machine that never ran aelat (the smoke
        # run keeps this machine's cache: compiling pynndescent's kernels on each side, ~25 s each time
        # (openTSNE imports pynndescent), would check nothing more)
        cold = {side: {} if args.smoke else {"NUMBA_CACHE_DIR": str(tmp / f"kernels-{side}")} for side in ("today", "now")}
        if source is None:
            today_command, today_name = [AELAT], "map and profile caches off, maps in series"
            today_env = env(**cold["today"])
            today_extra = ["embed.cache=false", "analyse.cache=false", "jobs=1"]
        else:
            today_command = [sys.executable, "-m", "aelat.cli"]
            today_env, today_name = env(PYTHONPATH=str(source), **cold["today"]), f"aelat at {args.baseline}"
            today_extra = []
        walls = {
            "today": sweep(today_command, tmp / "today", overrides + today_extra, today_env),
            "now": sweep([AELAT], tmp / "now", overrides, env(**cold["now"])),
        }
        parts = {side: totals(tmp / side) for side in walls}
        maps = {side: sum(1 for run in runs(tmp / side).values() for _ in run.glob("embedding_tsne*.npz"))
                for side in walls}
        reused = len(list((tmp / "now" / ".cache" / "maps").glob("*.npz")))
        same, difference = identical(tmp / "today", tmp / "now")
    if args.smoke:
        print(f"smoke: sweep today ({today_name}) {walls['today']:.1f} s, now {walls['now']:.1f} s, "
              f"identical numbers {same} {difference}")
        if not same:
            sys.exit(1)
        return
    rows = [("wall s (target now / today ≤ 0.6)", f"{walls['today']:.1f}", f"{walls['now']:.1f}",
             f"{walls['now'] / walls['today']:.3f}")]
    rows += [(f"{part} s, summed over configurations", f"{parts['today'][part]:.1f}", f"{parts['now'][part]:.1f}",
              f"{parts['now'][part] / parts['today'][part]:.3f}" if parts["today"][part] else "–")
             for part in parts["today"]]
    rows.append(("t-SNE maps in the run folders / computed", f"{maps['today']} / {maps['today']}",
                 f"{maps['now']} / {reused}", ""))
    points = f"first {args.n} points of MNIST" if args.n else "MNIST"
    environment = (f"this environment as it was (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')})"
                   if args.same_env else "the libraries' default environment")
    record(
        f"a latent-size sweep today vs now: aelat run -m latent_dim={LATENT_SIZES} --method tsne --of all, {points}, "
        "10 epochs",
        shell(["python", "bench/bench_sweep.py", *sys.argv[1:]]),
        rows,
        ("", f"today ({today_name})", "now", "now / today"),
        f"Identical numbers (every metrics.json representation, analyse's tables and every map's arrays): {same}{difference and ': '}"
        f"{difference}. Each sweep one `aelat run -m` process (basic launcher: one configuration after another) "
        f"into a fresh output_dir, {environment}. Now computes each distinct map once per output_dir (the map "
        "cache): the raw input's t-SNE, the same in every configuration, once instead of once per latent size; "
        "analyse's measurements of the raw input and of the untrained encoder's first layers once (the profile "
        "cache); and a t-SNE map that uses one thread in a worker process while analyse and the scores of the "
        "representations that are not maps go on (jobs=auto), the configurations sharing those workers.",
        save=True,
    )


if __name__ == "__main__":
    main()
