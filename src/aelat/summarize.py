"""Sweeps in one table: every run's metrics.json -> summary.csv, summary.md and plots against latent size.

``summary.csv`` has one row per run and representation: the run's folder name, dataset, model,
latent_dim, seed, train.epochs, the representation and its dim, then every scalar metric with a
dotted name (``structure.knn_accuracy_10``, ``distribution.gaussianity.pooled.mmd2``, ...). Lists,
matrices, per-class blocks and the metrics' settings are left out.

Runs are grouped into *families*: runs whose configs differ only in ``latent_dim`` and ``seed``
(the axes of a sweep), so a single run made under other settings (more epochs, another
learning rate, other evaluate settings) is never averaged into a sweep's numbers. A family is
named ``<dataset>-<model>-e<epochs>-<hash>``, the hash covering the rest of its config.

Runs of one family and latent size differ only in ``seed``. ``summary_seeds.csv`` gives, per
family, latent size, representation and every metric, the mean across seeds with its 95% Student t
interval; ``summary.md`` opens with the sweep's Findings (:mod:`aelat.sweep_findings`; the claims
behind them in ``findings.json``) and gives, per family and (latent_dim, representation), the
mean ± t half-width of the :data:`KEY_METRICS`.
Every file goes into one folder (default ``<first folder>/summary``); ``summary.json`` there lists
them, so that a later summary removes the figures of families that are gone.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from aelat import artifacts
from aelat.artifacts import Run
from aelat.config import load_saved
from aelat.data import dataset_digest
from aelat.errors import AelatError, ArtifactError
from aelat.metrics.confidence import t_interval
from aelat.reading import read_regular_bytes
from aelat.sweep_findings import sweep_findings

CSV, MARKDOWN, RECORD, SEEDS_CSV = "summary.csv", "summary.md", "summary.json", "summary_seeds.csv"
FOLDER = "summary"  # the default output folder, inside the first folder searched
ID_COLUMNS = ("run", "family", "dataset", "model", "latent_dim", "seed", "train.epochs", "representation", "dim")
GROUP = ("family", "dataset", "model", "latent_dim", "representation")
# Config keys a family does not fix: the sweep's axes, and settings that change no number.
NOT_FAMILY = ("latent_dim", "seed", "output_dir", "device", "report", "train.checkpoint_every", "evaluate.cache",
              "embed.cache", "analyse.cache")
# (title, column, file stem, format) of the metrics the markdown table and the plots show.
KEY_METRICS = (
    ("kNN@10", "structure.knn_accuracy_10", "knn10", ".3f"),
    ("linear probe", "structure.probe_accuracy", "probe", ".3f"),
    ("GMM NMI", "structure.gmm_nmi", "gmm_nmi", ".3f"),
    ("between-class variance share", "distribution.between_class_variance_share", "variance_share", ".3f"),
    ("intrinsic dim. (TwoNN)", "distribution.intrinsic_dimension.pooled.twonn", "twonn", ".2f"),
    ("MMD² to its Gaussian, pooled", "distribution.gaussianity.pooled.mmd2", "mmd2", ".3g"),
)
SKIPPED_BLOCKS = ("per_class", "settings", "versus_gmm")  # versus_gmm: a comparison, not a score
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


def collect_rows(paths: Iterable[Path]) -> tuple[list[dict], dict[str, dict], list[dict]]:
    """One row per run and representation (see the module docstring), each family's settings
    (:func:`family_settings`) and the runs (their identifying columns, ``config`` = the family, and
    ``metrics``, the metrics.json) for :func:`~aelat.sweep_findings.sweep_findings`; a file that is
    not an aelat metrics.json (another tool's, or damaged) is skipped with a warning."""
    rows, settings, runs = [], {}, []
    for path in paths:
        try:
            _check_current(path)
        except AelatError as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        try:
            metrics = json.loads(read_regular_bytes(path))
            mine = run_rows(path, metrics)
            settings.setdefault(family(metrics["config"]), family_settings(metrics["config"]))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("skipping %s: not an aelat metrics.json (%s: %s)", path, type(exc).__name__, exc)
            continue
        rows += mine
        ids = {key: value for key, value in mine[0].items() if key in ID_COLUMNS and key not in ("representation", "dim")}
        runs.append({**ids, "config": ids["family"], "metrics": metrics})
    return rows, settings, runs


def _check_current(path: Path) -> None:
    """Raise unless the metrics.json at ``path`` is the one `aelat evaluate` recorded for its run, from the
    run's current inputs and data (a run folder's checks, as `aelat report` makes them); another tool's
    file, in a folder with neither config.yaml nor run.json, is left to the parser."""
    folder = path.parent
    if not ((folder / artifacts.CONFIG).exists() or (folder / artifacts.MANIFEST).exists()):
        return
    Run(folder, load_saved(folder / artifacts.CONFIG), dataset_digest).require("evaluate", artifacts.METRICS)


def run_rows(path: Path, metrics: dict) -> list[dict]:
    """The rows of one run's metrics.json."""
    cfg, scores = metrics["config"], metrics["representations"]
    dataset = cfg["dataset"]["name"]
    if dataset == "npz":
        dataset = Path(cfg["dataset"]["path"]).name
    ids = {"run": path.parent.name, "family": family(cfg), "dataset": str(dataset), "model": str(cfg["model"]["name"]),
           "latent_dim": int(cfg["latent_dim"]), "seed": int(cfg["seed"]), "train.epochs": int(cfg["train"]["epochs"])}
    rows = []
    for name, row in scores.items():
        metrics_row = flatten({k: v for k, v in row.items() if k != "dim"})
        rows.append({**ids, "representation": str(name), "dim": row.get("dim"), **metrics_row})
    if not rows:
        raise ValueError("it scores no representation")
    return rows


def family_settings(cfg: dict) -> dict:
    """The settings that define a run's family: its config but :data:`NOT_FAMILY`, as dotted keys."""
    flat = dict(_flat_config(cfg))
    return {key: value for key, value in flat.items()
            if not any(key == skip or key.startswith(f"{skip}.") for skip in NOT_FAMILY)}


def family(cfg: dict) -> str:
    """``<dataset>-<model>-e<epochs>-<hash of the family's settings>``."""
    dataset = cfg["dataset"]["name"] if cfg["dataset"]["name"] != "npz" else Path(cfg["dataset"]["path"]).name
    digest = hashlib.sha256(json.dumps(family_settings(cfg), sort_keys=True).encode()).hexdigest()[:6]
    return f"{dataset}-{cfg['model']['name']}-e{cfg['train']['epochs']}-{digest}"


def _flat_config(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flat_config(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


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
    for key in sorted(groups, key=lambda k: (*k[:4], representation_order(k[4]))):
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


def to_markdown(groups: Sequence[dict], settings: dict[str, dict], findings_text: str = "") -> str:
    """The sweep's Findings, then the mean ± t half-width table of :data:`KEY_METRICS`, one section per
    family, one row per group.

    ``settings`` maps each family to its :func:`family_settings`; a section names the settings in
    which its family differs from the others.
    """
    header = ["latent_dim", "representation", "seeds", *(title for title, *_ in KEY_METRICS)]
    lines = [
        "# aelat sweep summary",
        "",
        findings_text,
        "## Key metrics",
        "",
        "Mean ± half-width of the 95% t interval across seeds (the mean alone for one seed); every run's values are",
        "in summary.csv, every metric's interval in summary_seeds.csv. Runs are grouped into families that differ",
        "only in latent_dim and seed.",
    ]
    differing = sorted({key for a in settings.values() for b in settings.values() for key in a.keys() | b.keys()
                        if a.get(key) != b.get(key)})
    for name in sorted(settings):
        mine = [g for g in groups if g["family"] == name]
        runs = sum(g["n"] for g in mine if g["representation"] == mine[0]["representation"])
        lines += ["", f"## {name}", "", f"{mine[0]['dataset']}, {mine[0]['model']}, {runs} run{'s' * (runs != 1)}"
                  + "".join(f"; {key} = {settings[name].get(key)}" for key in differing), "",
                  "| " + " | ".join(header) + " |", "|---:|---|---:|" + "---:|" * len(KEY_METRICS)]
        for group in mine:
            cells = [str(group["latent_dim"]), group["representation"], str(group["n"])]
            for _, metric, _, fmt in KEY_METRICS:
                cells.append(mean_pm(group["stats"].get(metric), fmt))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def mean_pm(stat: dict | None, fmt: str) -> str:
    """``mean ± t half-width``; the mean alone for one seed; "–" for no value."""
    if stat is None:
        return "–"
    if stat["ci_high"] is None:
        return format(stat["mean"], fmt)
    return f"{format(stat['mean'], fmt)} ± {format(stat['ci_high'] - stat['mean'], fmt)}"


def summarize(dirs: Sequence[Path], out: Path | None = None) -> list[Path]:
    """Write summary.csv, summary.md (opening with the sweep's Findings), summary_seeds.csv,
    findings.json and, per family with two or more latent sizes, one overview
    figure of the key metrics and one plot per key metric into ``out`` (default: ``summary`` in
    the first of ``dirs``); returns the paths written.

    Figure names: ``summary.png`` and ``summary_<metric>.png`` when there is one family, else
    ``summary_<family>.png`` and ``summary_<family>_<metric>.png``.
    """
    from aelat.plots.sweep import plot_metric_vs_latent, plot_overview

    dirs = [Path(d) for d in dirs]
    for folder in dirs:
        if not folder.is_dir():
            raise ArtifactError(f"{folder} is not a folder; pass the output_dir your runs are in")
    out = Path(out) if out is not None else dirs[0] / FOLDER
    if out.exists() and not out.is_dir():
        raise ArtifactError(f"--out {out} is a file; give a folder for summary.csv, summary.md and the plots")
    earlier = _earlier_summary(out)
    paths = find_metrics(dirs)
    if not paths:
        raise ArtifactError(f"no metrics.json under {', '.join(map(str, dirs))}; run `aelat run` first")
    rows, settings, runs = collect_rows(paths)
    if not rows:
        raise ArtifactError(f"no aelat metrics.json under {', '.join(map(str, dirs))} ({len(paths)} other file(s) "
                            "of that name skipped); run `aelat run` first")
    groups = aggregate(rows)
    alpha = min(run["metrics"]["config"]["evaluate"].get("findings", {}).get("alpha", 0.05) for run in runs)
    findings = sweep_findings(runs, alpha=alpha)
    written = [out / CSV, out / MARKDOWN, out / SEEDS_CSV, out / artifacts.FINDINGS]
    artifacts.write_text(written[0], to_csv(rows))
    artifacts.write_text(written[1], to_markdown(groups, settings, findings.markdown()))
    artifacts.write_text(written[2], seeds_csv(groups))
    artifacts.write_json(written[3], findings.to_json())
    plotted = sorted(name for name in settings if len({g["latent_dim"] for g in groups if g["family"] == name}) > 1)
    for name in plotted:
        mine = [g for g in groups if g["family"] == name]
        prefix = "summary" if len(settings) == 1 else f"summary_{name}"
        overview = out / f"{prefix}.png"
        panels = [(title, metric) for title, metric, _, _ in KEY_METRICS]
        if plot_overview(mine, panels, name, overview):
            written.append(overview)
        for title, metric, stem, _ in KEY_METRICS:
            path = out / f"{prefix}_{stem}.png"
            if plot_metric_vs_latent(mine, metric, title, f"{title} — {name}", path):
                written.append(path)
    _remove_gone(out, earlier, written)
    artifacts.write_json(out / RECORD, {"files": [p.name for p in written], "families": sorted(settings),
                                        "plotted": plotted})
    return written


def _is_summary_name(name: str) -> bool:
    """Whether summarize writes files of this name (the other files of its folder are the user's)."""
    return Path(name).name == name and (name in (CSV, MARKDOWN, SEEDS_CSV, RECORD, artifacts.FINDINGS) or (
        name.startswith("summary") and name.endswith(".png")))


def _earlier_summary(out: Path) -> list[str]:
    """The files an earlier summary wrote into ``out`` (per its summary.json); refuses a folder where a file
    of a name summarize writes is not one of them (a run folder's findings.json, a user's summary.md)."""
    if not out.is_dir():
        return []
    try:
        files = json.loads(read_regular_bytes(out / RECORD))["files"]
        earlier = [name for name in files if isinstance(name, str) and _is_summary_name(name)]
    except FileNotFoundError:
        earlier = []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"--out {out} holds a {RECORD} that summarize did not write ({type(exc).__name__}); "
                            "choose another --out") from exc
    theirs = sorted(p.name for p in out.iterdir() if _is_summary_name(p.name) and p.name not in {*earlier, RECORD})
    if theirs:
        raise ArtifactError(f"--out {out} holds {', '.join(theirs)}, which summarize did not write there; choose "
                            "another --out (an empty folder, or an earlier summary's)")
    return earlier


def _remove_gone(out: Path, earlier: Sequence[str], written: Sequence[Path]) -> None:
    """Delete the files the earlier summary in ``out`` wrote that this one did not."""
    keep = {p.name for p in written} | {RECORD}
    for name in earlier:
        if name not in keep:
            (out / name).unlink(missing_ok=True)
