"""Which run a command works on, which of its stages are due, and running them in order.

Which run:
  * ``run_dir`` given (``--run DIR``): that folder, with its saved config (``key=value`` overrides
    apply on top);
  * else, overrides that change what training reads (dataset, model, latent_dim, seed, train.*):
    the folder of the composed config, as ``aelat train`` names it (so shell sweeps work);
  * else ``<output_dir>/latest``, the newest run, with the overrides (embed.*, evaluate.*, ...) on top.

The CLI (:mod:`aelat.cli`) and sweeps (:mod:`aelat.sweep`) both call this module; it never imports them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from omegaconf import OmegaConf

from aelat import artifacts
from aelat.artifacts import Run
from aelat.background import Background
from aelat.config import STAGE_KEYS, apply_overrides, compose, load_saved, quoted, validate
from aelat.data import dataset_digest
from aelat.embedders import REPEATS
from aelat.errors import ArtifactError, ConfigError
from aelat.explorer import HTML
from aelat.locking import run_lock
from aelat.runtime import console
from aelat.report import REPORT, write_report

# Called with (metrics, report path) once evaluate and report have run.
OnReport = Callable[[dict, Path], None]


def open_run(run_dir: Optional[Path], overrides: Optional[Sequence[str]], new: bool = False) -> Run:
    """The run a command works on (see the module docstring)."""
    overrides = list(overrides or [])
    if run_dir is None and (new or names_a_run(overrides)):
        cfg = compose(overrides)
        run = Run(artifacts.run_dir_for(cfg), cfg, dataset_digest)
    else:
        run_dir = Path(os.path.realpath(run_dir)) if run_dir else artifacts.latest_run(compose(overrides).output_dir)
        if not run_dir.is_dir():
            raise ArtifactError(f"--run {run_dir} is not a folder; pass a run folder `aelat train` made")
        run = Run(run_dir, apply_overrides(load_saved(run_dir / artifacts.CONFIG), overrides), dataset_digest)
    artifacts.check_latest(run.path.parent)
    console().print(f"run: {run.path}")
    return run


def names_a_run(overrides: Sequence[str]) -> bool:
    """Whether an override changes what training reads (dataset, model, latent_dim, seed, train.*)."""
    keys = (override.split("=")[0].lstrip("+~") for override in overrides)
    return any(key.split(".")[0] in STAGE_KEYS["train"] for key in keys)


def sources(of: str, method: str | None = None, run: Run | None = None) -> list[str]:
    """The representations ``--of`` names: one of them, or all (those the run's latents.npz holds, once
    it exists), less those whose ``method`` map repeats another map (pca of pca)."""
    from aelat.stages.embed import check_source

    if of != "all":
        check_source(of)
        return [of]
    held = list(artifacts.REPRESENTATIONS)
    if run is not None and run.file(artifacts.LATENTS).is_file():
        held = artifacts.representations_in(run.file(artifacts.LATENTS))
    return [source for source in held if (method, source) not in REPEATS]


def method_names(methods: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(methods))  # --method pca --method pca draws one map


def evaluate_and_report(run: Run, on_report: OnReport | None = None, background: Background | None = None) -> None:
    """Score every representation, then render report.md from the scores (its figures in ``background``'s
    workers when given)."""
    from aelat.stages import evaluate as evaluate_stage

    metrics = evaluate_stage.run(run)
    path = write_report(run, background)
    if on_report is not None:
        on_report(metrics, path)


def refresh_report(run: Run) -> Path | None:
    """Re-render report.md (e.g. after `aelat analyse`) when the scores it shows are current; its path, else None."""
    try:
        run.require("evaluate", artifacts.METRICS)
    except ArtifactError:
        return None
    return write_report(run)


def pipeline_steps(run: Run, methods: Sequence[str], of: str, train_only: bool = False,
                   on_report: OnReport | None = None, background: Background | None = None) -> list:
    """The stages of `aelat run` in order: (name, the (manifest stage, artifact) pairs it makes, what runs it).

    The maps are those asked for and every other map the run already records, so that evaluate,
    which scores every map of the run, never meets one made from older latents. With ``background``,
    what the maps and scores steps hand to worker processes is recorded after analyse, before evaluate.
    """
    from aelat.stages import analyse as analyse_stage
    from aelat.stages import embed as embed_stage
    from aelat.stages import encode as encode_stage
    from aelat.stages import evaluate as evaluate_stage
    from aelat.stages import train as train_stage

    def train_and_mark() -> None:
        train_stage.run(run)
        artifacts.mark_latest(run.path)

    steps = [("train", [("train", artifacts.MODEL)], train_and_mark)]
    if train_only:
        return steps
    steps.append(("encode", [("encode", artifacts.LATENTS)], functools.partial(encode_stage.run, run)))
    asked = [(name, source) for name in method_names(methods) for source in sources(of, name)]
    recorded = [artifacts.embedding_of(stage) for stage in run.manifest()["stages"] if stage.startswith("embed:")]
    for name, source in dict.fromkeys([*asked, *recorded]):
        if (name, source) in REPEATS:
            continue  # an old run's map that is another's twin (pca(pca) = pca(raw)) is neither remade nor scored
        stage = artifacts.embedding_stage(name, source)
        made = [(stage, f"{artifacts.embedding_stem(name, source)}.npz")]
        steps.append((stage, made, functools.partial(embed_stage.run, run, name, source, background)))
    # evaluate's scores of the representations that are not maps, into the score cache, while the maps are
    # computed in the background (no artifact of its own: evaluate reads them from the cache); then analyse
    steps.append(("scores", [], functools.partial(evaluate_stage.prescore, run, background)))
    steps.append(("analyse", [("analyse", artifacts.LAYERS)], functools.partial(analyse_stage.run, run)))

    def maps_then_evaluate() -> None:
        if background is not None:
            background.finish()
        evaluate_and_report(run, on_report, background)

    steps.append(("evaluate", [("evaluate", artifacts.METRICS), ("report", REPORT), ("report", HTML)],
                  maps_then_evaluate))
    return steps


def run_pipeline(run: Run, methods: Sequence[str], of: str, *, force: bool = False, train_only: bool = False,
                 on_report: OnReport | None = None) -> str:
    """Run `aelat run`'s stages (only train with ``train_only``) on one configuration, resuming.

    Stages whose artifacts run.json records as made under the current config and intact
    (``Run.require``) are kept; from the first missing, stale or changed one on, every stage runs
    again; ``force`` re-runs all. Returns "skipped" when nothing had to run, else "done".
    """
    artifacts.check_latest(run.path.parent)
    with run_lock(run.path), Background() as background:
        steps = pipeline_steps(run, methods, of, train_only=train_only, on_report=on_report, background=background)
        start = 0 if force else first_incomplete(run, steps)
        if start == len(steps):
            if run.restore_config():
                console().print(f"{run.file(artifacts.CONFIG)} had been edited; wrote it again from this run's settings")
            return "skipped"
        run.will_make(stage for _, made, _ in steps[start:] for stage, _ in made)
        if start > 0:
            console().print(f"resume: {run.path.name} from {steps[start][0]} (earlier stages are complete)")
        for _, _, step in steps[start:]:
            step()
        artifacts.mark_latest(run.path)
    return "done"


def run_steps(run: Run, steps: Sequence[Callable[[Run], object]], making: Iterable[str]) -> None:
    """Run ``steps`` on ``run`` in order while holding its lock, then point ``latest`` at it.

    ``making``: the manifest stages the steps write, checked first (``Run.will_make``).
    """
    with run_lock(run.path):
        run.will_make(making)
        for step in steps:
            step(run)
        artifacts.mark_latest(run.path)


def first_incomplete(run: Run, steps: list) -> int:
    """Index of the first step with an artifact missing, stale or changed (len(steps) if none): the one it
    names, or any other its stage recorded (report.md's findings.json, evaluate's moments.npz, ...)."""
    try:
        recorded = run.manifest()["stages"]
    except ArtifactError:
        return 0
    for index, (_, made, _) in enumerate(steps):
        try:
            for stage, name in made:
                for other in dict.fromkeys([name, *recorded.get(stage, {}).get("outputs", ())]):
                    run.require(stage, other)
        except ArtifactError:
            return index
    return len(steps)


def scored_run(file: Path, raw: Optional[Path], overrides: Sequence[str]) -> Run:
    """The run of embeddings made outside aelat (``model=external``): ``file``'s codes, ``raw``'s input."""
    from aelat.stages.external import read_embeddings

    if raw is not None and Path(raw).resolve() == Path(file).resolve():
        raise ConfigError(f"--raw {raw} is the embeddings file itself; give the raw input's npz (Xtr ytr Xte yte), "
                          "or leave --raw out")
    for override in overrides:  # what the embeddings and --raw decide; any other setting applies
        key = override.split("=", 1)[0].lstrip("+~")
        if key in ("latent_dim", "model", "dataset", "dataset.path", "dataset.name") or key.startswith("model."):
            raise ConfigError(f"aelat score takes {key} from the embeddings file and --raw; remove {override}")
    dim = read_embeddings(file)["z_train"].shape[1]
    composed = compose([*overrides, "dataset=npz", f"dataset.path={quoted(str(raw or file))}"])
    cfg = validate(OmegaConf.to_container(composed) | {"model": {"name": "external", "path": str(file)},
                                                       "latent_dim": dim})
    run = Run(artifacts.run_dir_for(cfg), cfg, dataset_digest)
    console().print(f"run: {run.path}")
    return run


def score_pipeline(run: Run, methods: Sequence[str], of: str, on_report: OnReport | None = None) -> None:
    """`aelat score`: import the embeddings (and baselines), draw the maps asked for, evaluate, report."""
    from aelat.stages import embed as embed_stage
    from aelat.stages import external

    def maps(run: Run) -> None:  # of the representations the imported file gave
        with Background() as background:
            for method in method_names(methods):
                for source in sources(of, method, run):
                    embed_stage.run(run, method, source, background)
            background.finish()

    sources(of)  # named even when no map is asked for
    making = ["encode", *(artifacts.embedding_stage(method, source) for method in method_names(methods)
                          for source in sources(of, method)), "evaluate", "report"]
    run_steps(run, [external.run, maps, functools.partial(evaluate_and_report, on_report=on_report)], making)
