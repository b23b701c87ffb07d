"""Sweeps in one table: every run's metrics.json -> summary.csv, summary.md and plots against latent size.

``summary.csv`` has one row per run and representation: the run's folder name, dataset, model,
latent_dim, seed, train.epochs, the representation and its dim, then every scalar metric with a
dotted name (``structure.knn_accuracy_10``, ``distribution.gaussianity.pooled.mmd2``, ...). Lists,
matrices, per-class blocks and the metrics' settings are left out.

Runs that differ only in ``seed`` form a group (same dataset, model, latent_dim and every other
setting; ``config`` in the CSV is a short hash of the rest). ``summary_seeds.csv`` gives, per group,
representation and every metric, the mean across seeds with its 95% Student t interval;
``summary.md`` opens with the sweep's Findings (:mod:`aelat.sweep_findings`; the claims behind them
in ``findings.json``) and tabulates the :data:`KEY_METRICS` as mean ± t half-width.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from aelat import artifacts
from aelat.errors import ArtifactError
from aelat.metrics.confidence import t_interval
from aelat.sweep_findings import sweep_findings

CSV, MARKDOWN, SEEDS_CSV = "summary.csv", "summary.md", "summary_seeds.csv"
ID_COLUMNS = ("run", "dataset", "model", "latent_dim", "seed", "train.epochs", "representation", "dim", "config")
GROUP = ("dataset", "model", "latent_dim", "representation", "config")
# Config keys that may differ within a group: the seed, the latent size and where or how a run is done.
NOT_CONFIG = ("seed", "latent_dim", "output_dir", "device", "hydra")
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


def load_runs(paths: Iterable[Path]) -> list[dict]:
    """Each metrics.json with what identifies its run: ``run``, ``dataset``, ``model``, ``latent_dim``,
    ``seed``, ``train.epochs``, ``config`` (a short hash of every other setting) and ``metrics``."""
    runs = []
    for path in paths:
        try:
            metrics = json.loads(path.read_text())
            cfg = metrics["config"]
            metrics["representations"]
        except (ValueError, KeyError) as exc:
            raise ArtifactError(f"{path} is not an aelat metrics.json ({exc}); re-run `aelat evaluate` there") from None
        dataset = cfg["dataset"]["name"]
        if dataset == "npz":
            dataset = Path(cfg["dataset"]["path"]).name
        rest = {key: value for key, value in cfg.items() if key not in NOT_CONFIG}
        rest["evaluate"] = {key: value for key, value in rest.get("evaluate", {}).items() if key != "cache"}
        config = hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
        runs.append({"run": path.parent.name, "dataset": dataset, "model": cfg["model"]["name"],
                     "latent_dim": cfg["latent_dim"], "seed": cfg["seed"], "train.epochs": cfg["train"]["epochs"],
                     "config": config, "metrics": metrics})
    return runs


def collect_rows(paths: Iterable[Path], runs: Sequence[dict] | None = None) -> list[dict]:
    """One row per run and representation (see the module docstring); ``runs`` from `load_runs`, if loaded."""
    rows = []
    for run in runs if runs is not None else load_runs(paths):
        ids = {key: value for key, value in run.items() if key != "metrics"}
        for name, row in run["metrics"]["representations"].items():
            metrics_row = flatten({k: v for k, v in row.items() if k != "dim"})
            rows.append({**ids, "representation": name, "dim": row.get("dim"), **metrics_row})
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


def aggregate(rows: Sequence[dict], metrics: Sequence[str] | None = None) -> list[dict]:
    """Per group of :data:`GROUP` (runs differing only in seed): n, seeds, and per metric (default: every
    metric column) its values, mean, std (ddof=1; 0 for one seed), min, max and 95% t interval
    ``ci_low``, ``ci_high`` (None for one seed)."""
    if metrics is None:
        metrics = [column for column in columns(rows) if column not in ID_COLUMNS]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in GROUP), []).append(row)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[4], k[2], representation_order(k[3]))):
        members = groups[key]
        stats = {}
        for metric in metrics:
            values = np.array([r[metric] for r in members if r.get(metric) not in (None, "")], dtype=float)
            if len(values):
                t = t_interval(values)
                stats[metric] = {"values": values, "mean": float(values.mean()), "std": t["std"] or 0.0,
                                 "min": float(values.min()), "max": float(values.max()),
                                 "ci_low": t["ci_low"], "ci_high": t["ci_high"]}
        out.append({**dict(zip(GROUP, key)), "n": len(members), "seeds": sorted(r["seed"] for r in members),
                    "stats": stats})
    return out


def seeds_csv(groups: Sequence[dict]) -> str:
    """summary_seeds.csv: one row per group and metric with n, mean, std and the 95% t interval."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*GROUP, "seeds", "metric", "mean", "std", "ci_low", "ci_high"])
    for group in groups:
        for metric, stat in group["stats"].items():
            writer.writerow([*(group[key] for key in GROUP), group["n"], metric, stat["mean"], stat["std"],
                             "" if stat["ci_low"] is None else stat["ci_low"],
                             "" if stat["ci_high"] is None else stat["ci_high"]])
    return buffer.getvalue()


def to_markdown(groups: Sequence[dict], findings_text: str = "") -> str:
    """The sweep's Findings, then the mean ± t half-width table of :data:`KEY_METRICS`, one row per group
    (a config column only when the groups differ in more than seed and latent size)."""
    shown = [key for key in GROUP if key != "config" or len({g["config"] for g in groups}) > 1]
    header = [*shown, "seeds", *(title for title, *_ in KEY_METRICS)]
    lines = [
        "# aelat sweep summary",
        "",
        findings_text,
        "## Key metrics",
        "",
        "Mean ± half-width of the 95% t interval across seeds (the mean alone for one seed); every run's "
        "values are in summary.csv, every metric's interval in summary_seeds.csv.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "".join("---:|" if key in ("latent_dim",) else "---|" for key in shown) + "---:|" + "---:|" * len(KEY_METRICS),
    ]
    for group in groups:
        cells = [str(group[key]) for key in shown] + [str(group["n"])]
        for _, metric, _, fmt in KEY_METRICS:
            stat = group["stats"].get(metric)
            if stat is None:
                cells.append("–")
            elif stat["ci_high"] is None:
                cells.append(format(stat["mean"], fmt))
            else:
                cells.append(f"{format(stat['mean'], fmt)} ± {format(stat['ci_high'] - stat['mean'], fmt)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summarize(dirs: Sequence[Path], out: Path | None = None) -> list[Path]:
    """Write summary.csv, summary.md (opening with the sweep's Findings), summary_seeds.csv, findings.json,
    one overview figure of the key metrics and one plot per key metric (per dataset and model) into
    ``out`` (default: the first of ``dirs``); returns the paths written."""
    from aelat.plots.sweep import plot_metric_vs_latent, plot_overview

    dirs = [Path(d) for d in dirs]
    for folder in dirs:
        if not folder.is_dir():
            raise ArtifactError(f"{folder} is not a folder; pass the output_dir your runs are in")
    paths = find_metrics(dirs)
    if not paths:
        raise ArtifactError(f"no metrics.json under {', '.join(map(str, dirs))}; run `aelat run` first")
    out = Path(out) if out is not None else dirs[0]
    runs = load_runs(paths)
    rows = collect_rows(paths, runs)
    groups = aggregate(rows)
    alpha = min(run["metrics"]["config"]["evaluate"].get("findings", {}).get("alpha", 0.05) for run in runs)
    findings = sweep_findings(runs, alpha=alpha)
    written = [out / CSV, out / MARKDOWN, out / SEEDS_CSV, out / artifacts.FINDINGS]
    artifacts.write_text(written[0], to_csv(rows))
    artifacts.write_text(written[1], to_markdown(groups, findings.markdown()))
    artifacts.write_text(written[2], seeds_csv(groups))
    artifacts.write_json(written[3], findings.to_json())
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
