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
from omegaconf import OmegaConf
from rich.text import Text

from aelat import __version__, artifacts
from aelat.background import Background
from aelat.config import compose
from aelat.embedders import EMBEDDERS
from aelat.errors import AelatError, one_line
from aelat.locking import run_lock
from aelat.pipeline import evaluate_and_report, open_run, refresh_report, run_pipeline, run_steps, score_pipeline, scored_run, sources
from aelat.report import REPORT, terminal_tables, write_report
from aelat.runtime import console

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


def print_version(value: bool) -> None:
    if value:
        print(f"aelat {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=print_version, is_eager=True,
                                 help="Print aelat's version and exit."),
) -> None:
    state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="aelat: %(levelname)s: %(message)s")


# The commands that write where --out says, not into output_dir: a file-system error names that option.
WRITES_TO = {"export": "--out DIR", "summarize": "--out DIR"}


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
            print_error("error:", one_line(exc, WRITES_TO.get(command.__name__, "output_dir=DIR")))
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
    run_steps(open_run(None, overrides, new=True), [stage.run], ["train"])


@app.command()
@reports_errors
def encode(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Encode train and test with the trained model and the baselines: latents.npz."""
    from aelat.stages import encode as stage

    run_steps(open_run(run_dir, overrides), [stage.run], ["encode"])


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
    chosen = sources(of, method, run)
    with Background() as background:  # maps side by side where each leaves cores idle
        run_steps(run, [*(functools.partial(stage.run, method=method, source=source, background=background)
                          for source in chosen), lambda run: background.finish()],
                  [artifacts.embedding_stage(method, source) for source in chosen])


@app.command()
@reports_errors
def analyse(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Why Q looks as it does: dynamics.csv (over training), layers.csv (layer by layer), geometry.csv
    (the encoder's Jacobian), holes.json (model=vae); report.md gains their sections when it exists."""
    from aelat.stages import analyse as stage

    def analyse_and_report(run: artifacts.Run) -> None:
        for name in stage.run(run):
            print(run.file(name))
        report = refresh_report(run)
        if report is not None:
            print_report_path(report)

    run_steps(open_run(run_dir, overrides), [analyse_and_report], ["analyse", "report"])


@app.command()
@reports_errors
def evaluate(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Score every representation: metrics.json, report.md and tables."""
    run_steps(open_run(run_dir, overrides), [functools.partial(evaluate_and_report, on_report=show_results)],
              ["evaluate", "report"])


@app.command()
@reports_errors
def report(overrides: Optional[List[str]] = OVERRIDES, run_dir: Optional[Path] = RUN_DIR) -> None:
    """Re-render report.md, report.html and their figures from the run's artifacts (report.* overrides apply)."""
    run = open_run(run_dir, overrides)
    with run_lock(run.path):
        print_report_path(write_report(run))


@app.command("score")
@reports_errors
def score_embeddings(
    file: Path = typer.Argument(..., help="npz with z_train, y_train, z_test, y_test (class_names optional)"),
    overrides: Optional[List[str]] = OVERRIDES,
    raw: Optional[Path] = typer.Option(
        None, "--raw", help="npz with Xtr, ytr, Xte, yte: the same samples' input, for the raw and PCA baselines"),
    method: List[str] = typer.Option([], "--method", help="2-D maps to draw (repeatable; none by default)"),
    of: str = typer.Option("all", "--of", help="What to map: latent | raw | pca | all"),
) -> None:
    """Score embeddings made outside aelat like its own latent: a run folder with metrics.json and report.md."""
    run = scored_run(file.resolve(), raw.resolve() if raw else None, overrides or [])
    score_pipeline(run, method, of, on_report=show_results)


@app.command("config")
@reports_errors
def show_config(overrides: Optional[List[str]] = OVERRIDES,
                run_dir: Optional[Path] = typer.Option(None, "--run", help="Show this run's saved config instead")) -> None:
    """Print the composed config (with --run: that run's, the overrides on top); every key: aelat/schema.py."""
    cfg = open_run(run_dir, overrides).cfg if run_dir else compose(overrides or [])
    print(OmegaConf.to_yaml(cfg), end="")


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
    """Train, encode, embed, analyse and evaluate one configuration (skipped when complete; -m: a sweep)."""
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
    for line in sweeps.summary(statuses):
        out.print(line)
    sweeps.raise_for_failures(statuses)


def print_metrics(metrics: dict) -> None:
    """The structure and distribution tables, one row per representation."""
    out = console(stderr=False, width=max(120, console(stderr=False).width))
    for table in terminal_tables(metrics):
        out.print(table)


def show_results(metrics: dict, report_path: Path) -> None:
    print_metrics(metrics)
    print_report_path(report_path)


def print_report_path(path: Path) -> None:
    console().print(f"report: {path}")


if __name__ == "__main__":
    sys.exit(app())
