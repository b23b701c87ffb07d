"""aelat's command line: compose the config, find the run folder, call the stages.

Which run a command works on:
  * ``--run DIR``: that folder, with its saved config (``key=value`` overrides apply on top);
  * else, overrides that change what training reads (dataset, model, latent_dim, seed, train.*):
    the folder of the composed config, as ``aelat train`` names it (so shell sweeps work);
  * else ``<output_dir>/latest``, the newest run, with the overrides (embed.*, evaluate.*, ...) on top.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import List, Optional

import typer
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from aelat import artifacts
from aelat.artifacts import Run
from aelat.config import STAGE_KEYS, apply_overrides, compose, validate
from aelat.embedders import EMBEDDERS
from aelat.errors import AelatError, ArtifactError
from aelat.report import (
    DISTRIBUTION_COLUMNS,
    STRUCTURE_COLUMNS,
    format_value,
    lookup,
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


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING)


def reports_errors(command):
    """Turn aelat's exceptions into one line on stderr and exit code 1 (tracebacks with --debug)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (AelatError, PermissionError) as exc:
            if state["debug"]:
                raise
            if isinstance(exc, PermissionError):
                exc = f"cannot write {exc.filename}: permission denied; choose a writable output_dir=DIR"
            Console(stderr=True).print(f"[bold red]aelat: error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def open_run(run_dir: Optional[Path], overrides: Optional[List[str]], new: bool = False) -> Run:
    """The run a command works on (see the module docstring)."""
    overrides = overrides or []
    if run_dir is None and (new or names_a_run(overrides)):
        cfg = compose(overrides)
        run = Run(artifacts.run_dir_for(cfg), cfg)
    else:
        run_dir = run_dir or artifacts.latest_run(compose(overrides).output_dir)
        if not (run_dir / artifacts.CONFIG).is_file():
            raise ArtifactError(f"{run_dir} is not an aelat run (no {artifacts.CONFIG}); pass a folder `aelat train` made")
        run = Run(run_dir, apply_overrides(validate(OmegaConf.load(run_dir / artifacts.CONFIG)), overrides))
    Console(stderr=True).print(f"run: {run.path}", highlight=False)
    return run


def names_a_run(overrides: List[str]) -> bool:
    """Whether an override changes what training reads (dataset, model, latent_dim, seed, train.*)."""
    keys = (override.split("=")[0].lstrip("+~") for override in overrides)
    return any(key.split(".")[0] in STAGE_KEYS["train"] for key in keys)


def finished(run: Run) -> None:
    artifacts.mark_latest(run.path)


@app.command()
@reports_errors
def train(overrides: Optional[List[str]] = OVERRIDES) -> None:
    """Train the autoencoder: model.pt, train_log.csv, config.yaml."""
    from aelat.stages import train as stage

    run = open_run(None, overrides, new=True)
    stage.run(run)
    finished(run)


@app.command()
@reports_errors
def encode(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Encode train and test with the trained model and the baselines: latents.npz."""
    from aelat.stages import encode as stage

    run = open_run(run_dir, overrides)
    stage.run(run)
    finished(run)


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
    for source in sources(of):
        stage.run(run, method, source)
    finished(run)


def sources(of: str) -> list[str]:
    return list(artifacts.REPRESENTATIONS) if of == "all" else [of]


@app.command()
@reports_errors
def evaluate(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Score every representation: metrics.json, report.md and tables."""
    from aelat.stages import evaluate as stage

    run = open_run(run_dir, overrides)
    print_metrics(stage.run(run))
    print_report_path(write_report(run))
    finished(run)


@app.command()
@reports_errors
def report(run_dir: Optional[Path] = RUN_DIR) -> None:
    """Re-render report.md and its figures from the run's artifacts."""
    run = open_run(run_dir, [])
    print_report_path(write_report(run))


@app.command("run")
@reports_errors
def run_all(
    overrides: Optional[List[str]] = OVERRIDES,
    method: List[str] = typer.Option(["tsne", "pca"], "--method", help="2-D maps to draw (repeatable)"),
    of: str = typer.Option("all", "--of", help=f"What to map: {' | '.join(artifacts.REPRESENTATIONS)} | all"),
) -> None:
    """Train, encode, embed and evaluate one configuration."""
    from aelat.stages import embed as embed_stage
    from aelat.stages import encode as encode_stage
    from aelat.stages import evaluate as evaluate_stage
    from aelat.stages import train as train_stage

    run = open_run(None, overrides, new=True)
    train_stage.run(run)
    finished(run)
    encode_stage.run(run)
    for name in method:
        for source in sources(of):
            embed_stage.run(run, name, source)
    print_metrics(evaluate_stage.run(run))
    print_report_path(write_report(run))
    finished(run)


TERMINAL_COLUMNS = {
    "structure": ("dim", "kNN@1", "kNN@5", "kNN@10", "probe", "k-means acc", "GMM acc", "silhouette", "recon MSE"),
    "distribution": tuple(title for title, _, _ in DISTRIBUTION_COLUMNS),
}


def print_metrics(metrics: dict) -> None:
    """The structure and distribution tables, one row per representation."""
    scores = with_summaries(metrics["representations"])
    console = Console(width=max(120, Console().width))
    tables = (
        ("structure", "class structure (test set)", STRUCTURE_COLUMNS),
        ("distribution", "distribution of Q", DISTRIBUTION_COLUMNS),
    )
    for kind, title, columns in tables:
        shown = [c for c in table_columns(scores, columns) if c[0] in TERMINAL_COLUMNS[kind]]
        table = Table(title=f"aelat — {title}")
        table.add_column("representation")
        for name, _, _ in shown:
            table.add_column(name, justify="right")
        for name, row in scores.items():
            if kind not in row:
                continue
            table.add_row(name, *(format_value(lookup(row, path), fmt) for _, path, fmt in shown))
        console.print(table)


def print_report_path(path: Path) -> None:
    Console(stderr=True).print(f"report: {path}", highlight=False)


if __name__ == "__main__":
    sys.exit(app())
