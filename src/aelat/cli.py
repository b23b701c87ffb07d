"""aelat's command line: a thin Typer face over :mod:`aelat.pipeline` and the stages.

Each command parses its options, finds its run (:func:`aelat.pipeline.open_run`), calls the stage
code and turns aelat's errors into one line on stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text

from aelat import artifacts
from aelat.config import compose
from aelat.embedders import EMBEDDERS
from aelat.errors import AelatError, one_line
from aelat.locking import run_lock
from aelat.pipeline import evaluate_and_report, open_run, run_pipeline, sources
from aelat.runtime import console
from aelat.report import (
    REPORT,
    DISTRIBUTION_COLUMNS,
    STRUCTURE_COLUMNS,
    cell,
    table_columns,
    with_summaries,
    write_report,
)

app = typer.Typer(
    help="Train autoencoders, draw their latent distribution Q = g#P and measure it against baselines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
state = {"debug": False}

OVERRIDES = typer.Argument(None, help="Hydra overrides, e.g. latent_dim=8 dataset=mnist train.epochs=5")
RUN_DIR = typer.Option(None, "--run", help="Run folder to work on (default: from the overrides, else outputs/latest)")
MULTIRUN = typer.Option(
    False, "-m", "--multirun", help="Sweep: one run per combination of comma-separated values (Hydra's launchers)"
)


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="aelat: %(levelname)s: %(message)s")


def reports_errors(command):
    """Turn every exception into one line on stderr (:func:`aelat.errors.one_line`) and exit code 1,
    Ctrl-C into one line and exit code 130; ``--debug`` shows the traceback instead."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise
        except KeyboardInterrupt:
            if state["debug"]:
                raise
            print_error("interrupted;", "finished artifacts are kept (training also in checkpoint.pt): "
                                       "run the same command again to resume")
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the one place every error becomes a line
            if state["debug"]:
                raise
            print_error("error:", one_line(exc))
            raise typer.Exit(1) from None

    return wrapper


def print_error(label: str, message: str) -> None:
    """``aelat: <label> <message>`` on stderr; the message is plain text (brackets in paths survive)."""
    console().print(Text.assemble((f"aelat: {label}", "bold red"), " ", message))


@app.command()
@reports_errors
def train(
    overrides: Optional[List[str]] = OVERRIDES,
    multirun: bool = MULTIRUN,
    force: bool = typer.Option(False, "--force", help="With -m: train configurations already trained, too"),
) -> None:
    """Train the autoencoder: model.pt, train_log.csv, config.yaml."""
    from aelat.stages import train as stage

    if multirun:
        return sweep("train", overrides, [], "latent", force)
    run = open_run(None, overrides, new=True)
    with run_lock(run.path):
        run.will_make(["train"])
        stage.run(run)
        artifacts.mark_latest(run.path)


@app.command()
@reports_errors
def encode(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Encode train and test with the trained model and the baselines: latents.npz."""
    from aelat.stages import encode as stage

    run = open_run(run_dir, overrides)
    with run_lock(run.path):
        run.will_make(["encode"])
        stage.run(run)
        artifacts.mark_latest(run.path)


@app.command()
@reports_errors
def embed(
    overrides: Optional[List[str]] = OVERRIDES,
    method: str = typer.Option("tsne", "--method", help=f"2-D map: {' | '.join(EMBEDDERS)}"),
    of: str = typer.Option("latent", "--of", help=f"What to map: {' | '.join(artifacts.REPRESENTATIONS)} | all"),
    run_dir: Optional[Path] = RUN_DIR,
) -> None:
    """Draw a 2-D map of the latent or a baseline: embedding_<method>[_<source>].npz and .png."""
    from aelat.stages import embed as stage

    run = open_run(run_dir, overrides)
    with run_lock(run.path):
        run.will_make(artifacts.embedding_stage(method, source) for source in sources(of, method))
        for source in sources(of, method):
            stage.run(run, method, source)
        artifacts.mark_latest(run.path)


@app.command()
@reports_errors
def evaluate(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Score every representation: metrics.json, report.md and tables."""
    run = open_run(run_dir, overrides)
    with run_lock(run.path):
        run.will_make(["evaluate", "report"])
        evaluate_and_report(run, show_results)
        artifacts.mark_latest(run.path)


@app.command()
@reports_errors
def report(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Re-render report.md, report.html and their figures from the run's artifacts (report.* overrides apply)."""
    run = open_run(run_dir, overrides)
    with run_lock(run.path):
        print_report_path(write_report(run))


@app.command()
@reports_errors
def summarize(
    dirs: Optional[List[Path]] = typer.Argument(None, help="Folders to search for metrics.json (default: output_dir)"),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write the summary into (default: summary/ in the first folder)"),
) -> None:
    """Collect every run's metrics.json into summary.csv, summary.md and plots against latent size."""
    from aelat.summarize import summarize as write_summary

    for path in write_summary(dirs or [Path(compose([]).output_dir)], out):
        print(path)


@app.command()
@reports_errors
def export(
    run_dir: Optional[Path] = RUN_DIR,
    tensorboard: bool = typer.Option(False, "--tensorboard", help="TensorBoard projector files (tensors, metadata, sprite)"),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write (default: <run>/tensorboard)"),
    max_points: int = typer.Option(10000, "--max-points", min=1, help="Test points exported (a seeded sample)"),
) -> None:
    """Export a run's test points: --tensorboard writes what `tensorboard --logdir OUT` shows as Projector."""
    from aelat.export import export_tensorboard

    if not tensorboard:
        raise AelatError("name a format: aelat export --tensorboard")
    run = open_run(run_dir, [])
    with run_lock(run.path):
        folder = export_tensorboard(run, out, max_points)
    print(folder)
    console().print(f"open it with: tensorboard --logdir {folder}  (then the Projector tab)")


@app.command("run")
@reports_errors
def run_all(
    overrides: Optional[List[str]] = OVERRIDES,
    method: List[str] = typer.Option(["tsne", "pca"], "--method", help="2-D maps to draw (repeatable)"),
    of: str = typer.Option("all", "--of", help=f"What to map: {' | '.join(artifacts.REPRESENTATIONS)} | all"),
    multirun: bool = MULTIRUN,
    force: bool = typer.Option(False, "--force", help="Re-run every stage, even of complete configurations"),
) -> None:
    """Train, encode, embed and evaluate one configuration (skipped when complete; -m: a sweep)."""
    if multirun:
        return sweep("run", overrides, method, of, force)
    run = open_run(None, overrides, new=True)
    if run_pipeline(run, method, of, force=force, on_report=show_results) == "skipped":
        console().print(f"skip: {run.path.name}: complete for this config; --force re-runs it")
        print_metrics(json.loads(run.file(artifacts.METRICS).read_text()))
        print_report_path(run.file(REPORT))


def sweep(command: str, overrides: Optional[List[str]], methods: List[str], of: str, force: bool) -> None:
    """A Hydra multirun of ``command`` over the sweep overrides: one line per configuration, exit 1 on failures."""
    from aelat import sweep as sweeps

    statuses = sweeps.multirun(command, overrides or [], methods, of, force, debug=state["debug"])
    out = console(stderr=False, width=max(120, console(stderr=False).width))
    for status in statuses:
        line = f"{status['status']}: {sweeps.describe(status)}"
        if status["status"] == "skipped":
            line += ": complete for this config; --force re-runs it"
        elif status["status"] == "failed":
            line += f": {status['error']}"
        out.print(line)
    failed = [s for s in statuses if s["status"] == "failed"]
    counts = {key: sum(s["status"] == key for s in statuses) for key in ("done", "skipped", "failed")}
    out.print(f"sweep: {len(statuses)} configurations, " + ", ".join(f"{n} {k}" for k, n in counts.items())
              + (f"; jobs' folders under {Path(statuses[0]['job']).parent}" if statuses else ""))
    if not statuses:
        raise AelatError("the sweep ran no configuration")
    if failed:
        raise AelatError(f"{len(failed)} of {len(statuses)} configurations failed: "
                            + "; ".join(sweeps.describe(s) for s in failed))


TERMINAL_COLUMNS = {
    "structure": ("dim", "kNN@1", "kNN@5", "kNN@10", "probe", "k-means acc", "GMM acc", "silhouette", "recon MSE"),
    "distribution": tuple(column[0] for column in DISTRIBUTION_COLUMNS),
}


def print_metrics(metrics: dict) -> None:
    """The structure and distribution tables, one row per representation."""
    scores = with_summaries(metrics["representations"])
    out = console(stderr=False, width=max(120, console(stderr=False).width))
    tables = (
        ("structure", "class structure (test set)", STRUCTURE_COLUMNS),
        ("distribution", "distribution of Q", DISTRIBUTION_COLUMNS),
    )
    for kind, title, columns in tables:
        shown = [c for c in table_columns(scores, columns) if c[0] in TERMINAL_COLUMNS[kind]]
        table = Table(title=f"aelat — {title}")
        table.add_column("representation")
        for column in shown:
            table.add_column(column[0], justify="right")
        for name, row in scores.items():
            if kind not in row:
                continue
            table.add_row(name, *(cell(row, column) for column in shown))
        out.print(table)


def show_results(metrics: dict, report_path: Path) -> None:
    print_metrics(metrics)
    print_report_path(report_path)


def print_report_path(path: Path) -> None:
    console().print(f"report: {path}")


if __name__ == "__main__":
    sys.exit(app())
