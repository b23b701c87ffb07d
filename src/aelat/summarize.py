"""Sweeps in one table: every run's metrics.json -> summary.csv, summary.md and plots against latent size.

``summary.csv`` has one row per run and representation: the run's folder name, dataset, model,
latent_dim, seed, train.epochs, the representation and its dim, then every scalar metric with a
dotted name (``structure.knn_accuracy_10``, ``distribution.gaussianity.pooled.mmd2``, ...). Lists,
matrices, per-class blocks and the metrics' settings are left out.

``summary.md`` gives, per (dataset, model, latent_dim, representation), the mean ± standard deviation
across seeds (sample standard deviation, ddof=1; 0 for one seed) of the :data:`KEY_METRICS`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from aelat import artifacts
from aelat.errors import ArtifactError

CSV, MARKDOWN = "summary.csv", "summary.md"
ID_COLUMNS = ("run", "dataset", "model", "latent_dim", "seed", "train.epochs", "representation", "dim")
GROUP = ("dataset", "model", "latent_dim", "representation")
# (title, column, file stem, format) of the metrics the markdown table and the plots show.
KEY_METRICS = (
    ("kNN@10", "structure.knn_accuracy_10", "knn10", ".3f"),
    ("linear probe", "structure.probe_accuracy", "probe", ".3f"),
    ("GMM NMI", "structure.gmm_nmi", "gmm_nmi", ".3f"),
    ("between-class variance share", "distribution.between_class_variance_share", "variance_share", ".3f"),
    ("intrinsic dim. (TwoNN)", "distribution.intrinsic_dimension.pooled.twonn", "twonn", ".2f"),
    ("MMD² to its Gaussian, pooled", "distribution.gaussianity.pooled.mmd2", "mmd2", ".3g"),
)
SKIPPED_BLOCKS = ("per_class", "settings")
ORDER = tuple(artifacts.REPRESENTATIONS)  # raw, pca, untrained, latent; maps after them
log = logging.getLogger(__name__)


def find_metrics(dirs: Sequence[Path]) -> list[Path]:
    """Every metrics.json under ``dirs`` (recursively; links such as ``latest`` and hidden folders skipped)."""
    found: dict[Path, Path] = {}
    for folder in dirs:
        for root, subdirs, files in os.walk(folder):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
            if artifacts.METRICS in files:
                path = Path(root) / artifacts.METRICS
                found.setdefault(path.resolve(), path)
    return sorted(found.values(), key=lambda p: str(p))


def flatten(block: dict, prefix: str = "") -> dict[str, float]:
    """Numeric scalars of a nested metrics dict with dotted names; lists and per-class blocks are left out."""
    out: dict[str, float] = {}
    for key, value in block.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if key not in SKIPPED_BLOCKS:
                out |= flatten(value, f"{name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def collect_rows(paths: Iterable[Path]) -> list[dict]:
    """One row per run and representation (see the module docstring); a file that is not an aelat
    metrics.json (another tool's, or damaged) is skipped with a warning."""
    rows = []
    for path in paths:
        try:
            rows += run_rows(path, json.loads(path.read_text()))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("skipping %s: not an aelat metrics.json (%s: %s)", path, type(exc).__name__, exc)
    return rows


def run_rows(path: Path, metrics: dict) -> list[dict]:
    """The rows of one run's metrics.json."""
    cfg, scores = metrics["config"], metrics["representations"]
    dataset = cfg["dataset"]["name"]
    if dataset == "npz":
        dataset = Path(cfg["dataset"]["path"]).name
    ids = {"run": path.parent.name, "dataset": str(dataset), "model": str(cfg["model"]["name"]),
           "latent_dim": int(cfg["latent_dim"]), "seed": int(cfg["seed"]), "train.epochs": int(cfg["train"]["epochs"])}
    rows = []
    for name, row in scores.items():
        metrics_row = flatten({k: v for k, v in row.items() if k != "dim"})
        rows.append({**ids, "representation": str(name), "dim": row.get("dim"), **metrics_row})
    if not rows:
        raise ValueError("it scores no representation")
    return rows


def columns(rows: Sequence[dict]) -> list[str]:
    """The CSV's columns: the identifying ones, then every metric in first-seen order."""
    seen = dict.fromkeys(ID_COLUMNS)
    for row in rows:
        seen |= dict.fromkeys(row)
    return list(seen)


def to_csv(rows: Sequence[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(rows), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def representation_order(name: str) -> tuple:
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def aggregate(rows: Sequence[dict], metrics: Sequence[str] = tuple(m[1] for m in KEY_METRICS)) -> list[dict]:
    """Per (dataset, model, latent_dim, representation): n, seeds, and per metric its values, mean, std, min, max."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in GROUP), []).append(row)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], representation_order(k[3]))):
        members = groups[key]
        stats = {}
        for metric in metrics:
            values = np.array([r[metric] for r in members if r.get(metric) is not None], dtype=float)
            if len(values):
                std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
                stats[metric] = {"values": values, "mean": float(values.mean()), "std": std,
                                 "min": float(values.min()), "max": float(values.max())}
        out.append({**dict(zip(GROUP, key)), "n": len(members), "seeds": sorted(r["seed"] for r in members),
                    "stats": stats})
    return out


def to_markdown(groups: Sequence[dict]) -> str:
    """The mean ± std table of :data:`KEY_METRICS`, one row per group."""
    header = ["dataset", "model", "latent_dim", "representation", "seeds", *(title for title, *_ in KEY_METRICS)]
    lines = [
        "# aelat sweep summary",
        "",
        "Mean ± standard deviation across seeds (ddof=1); every run's values are in summary.csv.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|---|---:|---|---:|" + "---:|" * len(KEY_METRICS),
    ]
    for group in groups:
        cells = [str(group[key]) for key in GROUP] + [str(group["n"])]
        for _, metric, _, fmt in KEY_METRICS:
            stat = group["stats"].get(metric)
            cells.append("–" if stat is None else f"{format(stat['mean'], fmt)} ± {format(stat['std'], fmt)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summarize(dirs: Sequence[Path], out: Path | None = None) -> list[Path]:
    """Write summary.csv, summary.md, one overview figure of the key metrics and one plot per key metric
    (per dataset and model) into ``out`` (default: the first of ``dirs``); returns the paths written."""
    from aelat.plots.sweep import plot_metric_vs_latent, plot_overview

    dirs = [Path(d) for d in dirs]
    for folder in dirs:
        if not folder.is_dir():
            raise ArtifactError(f"{folder} is not a folder; pass the output_dir your runs are in")
    out = Path(out) if out is not None else dirs[0]
    if out.exists() and not out.is_dir():
        raise ArtifactError(f"--out {out} is a file; give a folder for summary.csv, summary.md and the plots")
    paths = find_metrics(dirs)
    if not paths:
        raise ArtifactError(f"no metrics.json under {', '.join(map(str, dirs))}; run `aelat run` first")
    rows = collect_rows(paths)
    if not rows:
        raise ArtifactError(f"no aelat metrics.json under {', '.join(map(str, dirs))} ({len(paths)} other file(s) "
                            "of that name skipped); run `aelat run` first")
    groups = aggregate(rows)
    written = [out / CSV, out / MARKDOWN]
    artifacts.write_text(written[0], to_csv(rows))
    artifacts.write_text(written[1], to_markdown(groups))
    combos = sorted({(g["dataset"], g["model"]) for g in groups})
    for dataset, model in combos:
        mine = [g for g in groups if (g["dataset"], g["model"]) == (dataset, model)]
        prefix = "summary" if len(combos) == 1 else f"summary_{dataset}-{model}"
        overview = out / f"{prefix}.png"
        panels = [(title, metric) for title, metric, _, _ in KEY_METRICS]
        if plot_overview(mine, panels, f"{dataset}, {model}", overview):
            written.append(overview)
        for title, metric, stem, _ in KEY_METRICS:
            path = out / f"{prefix}_{stem}.png"
            if plot_metric_vs_latent(mine, metric, title, f"{title} — {dataset}, {model}", path):
                written.append(path)
    return written
