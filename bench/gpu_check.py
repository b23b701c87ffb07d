"""Check aelat's CUDA path against the CPU on MNIST: the same pipeline on both devices, numbers within
stated tolerances, timings recorded in bench/RESULTS.md.

`aelat run dataset=npz dataset.path=MNIST latent_dim=16 train.epochs=10 --method tsne --of latent`
runs once with ``device=cuda`` (data on the GPU, training, encoding) and once with ``device=cpu``,
each into its own output_dir; maps and evaluation run on the CPU in both. Then every scalar the two
metrics.json files hold for a representation is compared, and every epoch's losses in train_log.csv:

* raw input and PCA do not touch the GPU: their numbers must be equal (:data:`EXACT`);
* the untrained encoder differs only by float32 rounding in one forward pass (:data:`FORWARD`);
* the trained latent, its t-SNE map and the losses follow a training run whose rounding differs
  (other kernels, other reduction orders), so they agree within :data:`TRAINED`.

Gated metrics are the class structure (kNN, probe, clustering, silhouette), the neighbourhood scores
of the map, reconstruction MSE, the between-class variance share and the intrinsic dimensions; the
other distribution numbers (MMD², p-values, sliced Wasserstein) are reported, not gated. Exit code 1
when a gated number is out of tolerance. About 5-8 min on a machine with one GPU and 16 cores.

    bash bench/gpu_check.sh [--epochs 10] [--data MNIST.npz]           # one command, on a GPU machine
    python bench/gpu_check.py --devices cpu,cpu --smoke                # the comparison on CPU only (tests)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "datasets" / "mnist.npz"

# (absolute, relative) tolerance: |a - b| <= absolute + relative * |b|
EXACT = (0.0, 0.0)
FORWARD = (0.005, 1e-4)
TRAINED = {
    "structure": (0.015, 0.0),  # accuracies, NMI, ARI, silhouette: within 1.5 points
    "neighbourhood": (0.015, 0.0),  # trustworthiness, continuity, kNN preservation of the map
    "recon_mse": (0.0, 0.10),  # reconstruction error within 10 %
    "between_class_variance_share": (0.03, 0.0),
    "intrinsic_dimension": (0.0, 0.10),  # TwoNN / MLE within 10 %
    "loss": (0.0, 0.03),  # every epoch's train and test loss within 3 %
}
GATED_DISTRIBUTION = ("between_class_variance_share", "intrinsic_dimension")


def tolerance(representation: str, path: tuple[str, ...]) -> tuple[float, float] | None:
    """The tolerance of one metric (its path in metrics.json), or None when it is reported but not gated."""
    if representation in ("raw", "pca", "tsne(raw)", "tsne(pca)"):
        return EXACT
    group = path[0]
    if group == "distribution" and path[1] not in GATED_DISTRIBUTION:
        return None
    if representation == "untrained" or representation.endswith("(untrained)"):
        return FORWARD
    return TRAINED.get(path[1] if group == "distribution" else group)


def scalars(tree, path: tuple[str, ...] = ()):
    """(path, value) of every number in a nested dict, skipping settings and counts."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key not in ("settings", "classes", "class_counts", "n_points", "n_samples", "dim", "rank"):
                yield from scalars(value, (*path, str(key)))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, float(tree)


def compare(reference: dict, other: dict) -> list[dict]:
    """One row per number of two runs' metrics.json representations: values, difference, tolerance, ok."""
    rows = []
    for name, scores in reference.items():
        measured = dict(scalars(other.get(name, {})))
        for path, value in scalars(scores):
            got = measured.get(path, math.nan)
            allowed = tolerance(name, path)
            limit = None if allowed is None else allowed[0] + allowed[1] * abs(value)
            ok = None if limit is None else bool(abs(got - value) <= limit)
            rows.append({"representation": name, "metric": ".".join(path), "reference": value, "other": got,
                         "difference": got - value, "limit": limit, "ok": ok})
    return rows


def compare_losses(reference: Path, other: Path) -> list[dict]:
    """One row per epoch and loss column of two train_log.csv files, within TRAINED['loss']."""
    read = lambda path: list(csv.DictReader(open(path)))  # noqa: E731
    rows = []
    absolute, relative = TRAINED["loss"]
    for a, b in zip(read(reference), read(other)):
        for column in ("train_loss", "test_loss", "test_recon_mse"):
            value, got = float(a[column]), float(b[column])
            limit = absolute + relative * abs(value)
            rows.append({"representation": "training", "metric": f"epoch {a['epoch']} {column}", "reference": value,
                         "other": got, "difference": got - value, "limit": limit, "ok": abs(got - value) <= limit})
    return rows


def pipeline(device: str, data: Path, epochs: int, out: Path, extra: list[str]) -> tuple[float, Path]:
    """Wall seconds of `aelat run` on ``device``, and its run folder."""
    aelat = Path(sys.executable).with_name("aelat")
    command = [str(aelat), "run", "dataset=npz", f"dataset.path={data}", "latent_dim=16", f"train.epochs={epochs}",
               f"device={device}", f"output_dir={out}", *extra, "--method", "tsne", "--of", "latent"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"aelat run on {device} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, (out / "latest").resolve()


def stage_seconds(run: Path) -> dict[str, float]:
    return {name: entry["seconds"] for name, entry in json.loads((run / "run.json").read_text())["stages"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="cuda,cpu", help="the device checked, then the reference")
    parser.add_argument("--data", type=Path, default=MNIST, help="an npz in aelat's format (default: MNIST)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="digits, 2 epochs, common.SMOKE's short settings: check the script runs")
    args = parser.parse_args()
    checked, reference = args.devices.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        extra = []
        data = args.data
        if args.smoke:
            sys.path.insert(0, str(ROOT / "bench"))
            from common import SMOKE, digits_npz

            data = digits_npz(tmp)
            extra = SMOKE
        epochs = 2 if args.smoke else args.epochs
        walls, runs = {}, {}
        for side, device in (("checked", checked), ("reference", reference)):
            walls[side], runs[side] = pipeline(device, data, epochs, tmp / side, extra)
        metrics = {side: json.loads((run / "metrics.json").read_text())["representations"] for side, run in runs.items()}
        rows = compare(metrics["reference"], metrics["checked"])
        rows += compare_losses(runs["reference"] / "train_log.csv", runs["checked"] / "train_log.csv")
        seconds = {side: stage_seconds(run) for side, run in runs.items()}
    failed = [r for r in rows if r["ok"] is False]
    gated = [r for r in rows if r["ok"] is not None]
    worst = max(gated, key=lambda r: abs(r["difference"]) - r["limit"])  # the nearest to (or furthest past) its limit
    for r in failed:
        print(f"out of tolerance: {r['representation']} {r['metric']}: {reference} {r['reference']:.6g}, "
              f"{checked} {r['other']:.6g} (allowed ±{r['limit']:.3g})")
    if args.smoke:
        print(f"smoke: {checked} vs {reference} on digits, {len(gated)} numbers gated, {len(failed)} out of tolerance")
        sys.exit(1 if failed else 0)
    sys.path.insert(0, str(ROOT / "bench"))
    from common import record

    stages = [s for s in seconds["reference"] if s in seconds["checked"]]
    table = [(stage, f"{seconds['checked'][stage]:.1f}", f"{seconds['reference'][stage]:.1f}",
              f"{seconds['checked'][stage] / seconds['reference'][stage]:.3f}") for stage in stages]
    table.append(("whole `aelat run` (wall)", f"{walls['checked']:.1f}", f"{walls['reference']:.1f}",
                  f"{walls['checked'] / walls['reference']:.3f}"))
    record(
        f"aelat on {checked} vs {reference}: MNIST, latent 16, {epochs} epochs, t-SNE of the latent, evaluate",
        f"bash bench/gpu_check.sh {' '.join(sys.argv[1:])}".strip(),
        table,
        ("stage", f"{checked} s", f"{reference} s", f"{checked} / {reference}"),
        f"Numbers: {len(gated)} gated ({len(rows) - len(gated)} reported only), {len(failed)} out of tolerance"
        f"{': ' + ', '.join(r['representation'] + ' ' + r['metric'] for r in failed) if failed else ''}. "
        f"Largest gated difference: {worst['representation']} {worst['metric']} {worst['difference']:+.4g} "
        f"(allowed ±{worst['limit']:.3g}). Tolerances (bench/gpu_check.py): raw and PCA equal; untrained encoder "
        f"±{FORWARD[0]}; trained latent and its map: structure and neighbourhood ±{TRAINED['structure'][0]}, "
        f"reconstruction MSE and intrinsic dimension ±10 %, variance share ±{TRAINED['between_class_variance_share'][0]}, "
        f"losses per epoch ±3 %. Machine threads: {os.cpu_count()} cores.",
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
