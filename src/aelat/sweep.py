"""Multirun: ``aelat run -m latent_dim=2,4,8 seed=0,1`` through Hydra's sweeper and launchers.

``@hydra.main`` owns ``sys.argv``, so the Typer command (:func:`multirun`) sets ``sys.argv`` to
``[prog, "--multirun", *overrides]`` and calls :func:`task`, the Hydra task function. Each job
validates its config and calls the same pipeline as ``aelat run`` (:func:`aelat.pipeline.run_pipeline`),
so every launcher works unchanged: the basic one (sequential, in-process; the default), ``joblib``
(local processes) and ``submitit_local`` / ``slurm`` (submitit jobs).

A job never raises: it writes ``aelat_status.json`` (done, skipped or failed, with the error) into
its Hydra job folder ``<output_dir>/.multirun/<timestamp>/<job number>/``. After the launcher
returns, :func:`multirun` reads them all, prints one line per configuration and fails (exit 1)
when any configuration failed, naming each.

Threads: jobs that run side by side must not each use every core. Unless the config sets
``threads``, under ``hydra/launcher=joblib`` a job uses ``cores // n_jobs`` threads (aelat.runtime),
so the plugin's default ``n_jobs: -1`` (one job per core) runs one thread per job and
``hydra.launcher.n_jobs=2`` on 16 cores runs two jobs of 8 threads (less memory: each job holds its
dataset). aelat ships no ``conf/hydra/launcher/joblib.yaml``: a file of that name would shadow
the plugin's config through Hydra's deprecated schema matching (a warning in every job); under submitit a job uses
``cpus_per_task`` threads, or 1 when that is unset (``submitit_local`` starts every job at once).
The basic launcher runs one job at a time with the usual threads; its jobs share one set of worker
processes for maps, scores and figures (:func:`aelat.background.keep_workers`). On SLURM, aelat.slurm
watches the jobs itself (a job that cannot start or dies without a result fails its configuration).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Sequence

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from aelat.config import CONFIG_DIR
from aelat.runtime import available_cores, end_with_parent, set_default_threads

SETTINGS_ENV = "AELAT_SWEEP"  # how the CLI's options (command, maps, --force) reach jobs in other processes
STATUS = "aelat_status.json"
SWEEPS = ".multirun"  # under output_dir: one folder per sweep, one per job inside
# Launchers whose jobs run in local child processes, which must end with the aelat process.
LOCAL_LAUNCHERS = ("joblib", "submitit_launcher.LocalLauncher")


@hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base=None)
def task(cfg: DictConfig) -> None:
    """Hydra task function: one configuration of a sweep; records its outcome instead of raising."""
    settings = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
    hc = HydraConfig.get()
    status = {"overrides": job_name(hc.overrides.task), "run": None, "status": "failed", "error": None}
    if os.getpid() != settings.get("parent", os.getpid()) and any(
        name in str(hc.launcher.get("_target_", "")) for name in LOCAL_LAUNCHERS
    ):
        end_with_parent()
    try:
        set_default_threads(job_threads(hc.launcher))
        status |= _run_job(cfg, settings)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one failed configuration must not stop the others
        from aelat.errors import AelatError, one_line

        status["error"] = one_line(exc)
        if not isinstance(exc, (AelatError, OSError)):
            status["traceback"] = traceback.format_exc()
        if settings.get("debug"):
            traceback.print_exc()
    from aelat.artifacts import write_json

    write_json(Path(hc.runtime.output_dir) / STATUS, status)


def job_name(overrides: Sequence[str]) -> list[str]:
    """The overrides that name a job: those of the values the sweep varies (all when it varies none)."""
    varied = tuple(json.loads(os.environ.get(SETTINGS_ENV) or "{}").get("varied", ()))
    return [o for o in overrides if o.split("=")[0].lstrip("+~") in varied] or list(overrides)


def record_failure(job_dir: Path, overrides: Sequence[str], error: str) -> None:
    """The status of a job that could not record its own (a launcher saw it fail: never started, killed)."""
    from aelat.artifacts import write_json

    if not (job_dir / STATUS).is_file():
        write_json(job_dir / STATUS, {"overrides": job_name(overrides), "run": None, "status": "failed", "error": error})


def _run_job(cfg: DictConfig, settings: dict) -> dict:
    from aelat import artifacts
    from aelat.artifacts import Run
    from aelat.pipeline import run_pipeline
    from aelat.config import validate
    from aelat.data import dataset_digest

    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, False)
    cfg = validate(cfg)
    run = Run(artifacts.run_dir_for(cfg), cfg, dataset_digest)
    outcome = run_pipeline(
        run,
        settings.get("methods", ["tsne", "pca"]),
        settings.get("of", "all"),
        force=settings.get("force", False),
        train_only=settings.get("command") == "train",
    )
    return {"run": run.path.name, "status": outcome}


def job_threads(launcher: DictConfig) -> int | None:
    """Threads of one job when jobs run side by side (see the module docstring); None: all cores."""
    target = str(launcher.get("_target_", ""))
    if "joblib" in target:
        n_jobs = int(launcher.get("n_jobs") or -1)
        jobs = n_jobs if n_jobs > 0 else max(1, available_cores() + 1 + n_jobs)
        return max(1, available_cores() // jobs)
    if "submitit" in target.lower() or "slurm" in target.lower():
        return int(launcher.get("cpus_per_task") or 1)
    return None


def first_values(parsed: Sequence) -> list[str]:
    """``key=value`` of each swept key's first value, for the sweeps that list their values (a choice or a
    range; a glob's values are known only to Hydra's config loader)."""
    from hydra.errors import HydraException

    firsts = []
    for override in parsed:
        if override.is_sweep_override() and not override.is_hydra_override():
            with contextlib.suppress(HydraException, StopIteration):
                firsts.append(f"{override.get_key_element()}={next(iter(override.sweep_string_iterator()))}")
    return firsts


def multirun(command: str, overrides: Sequence[str], methods: Sequence[str], of: str, force: bool,
             debug: bool = False) -> list[dict]:
    """Launch the sweep the overrides describe; returns each job's status (see :data:`STATUS`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from aelat.background import keep_workers
    from aelat.config import compose, extra_search_path, quoted
    from aelat.errors import ConfigError

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(" ".join(str(exc).split())) from None
    # The values every job shares decide output_dir (and are checked once, before launching), with each
    # swept key at its first value where that composes (a dataset=npz sweeping dataset.path needs a path;
    # a bad value among the swept ones fails its own job, not the sweep).
    fixed = [o.input_line for o in parsed if not o.is_sweep_override() and not o.is_hydra_override()]
    try:
        shared = compose([*fixed, *first_values(parsed)])
    except ConfigError:
        shared = compose(fixed)
    output_dir = Path(shared.output_dir).resolve()
    sweep_dir = output_dir / SWEEPS / time.strftime("%Y-%m-%d_%H-%M-%S") / f"{time.time_ns() % 10**9:09d}"
    sweep_dir.mkdir(parents=True, exist_ok=True)  # here, so an unwritable output_dir is aelat's one line, not Hydra's traceback
    ours = [f"hydra.sweep.dir={quoted(str(sweep_dir))}", "hydra.job.chdir=False"]
    if not any(o.key_or_group == "hydra/job_logging" for o in parsed):
        ours.append("hydra/job_logging=none")  # aelat logs its own way; no log file per job
    varied = [o.key_or_group for o in parsed if o.is_sweep_override()]
    settings = {"command": command, "methods": list(methods), "of": of, "force": force, "debug": debug,
                "varied": varied, "parent": os.getpid()}

    argv, env = sys.argv, os.environ.get(SETTINGS_ENV)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level  # Hydra's logging set-up points root at its console
    sys.argv = [argv[0] if argv else "aelat", "--multirun", *extra_search_path(), *overrides, *ours]
    os.environ[SETTINGS_ENV] = json.dumps(settings)
    if debug:
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        with keep_workers():  # the basic launcher's configurations, one after another here, share them
            task()
    except SystemExit as exc:  # Hydra reports its own errors (bad override, missing plugin), then exits
        if exc.code not in (0, None):
            raise ConfigError(f"the sweep did not start or stopped early (Hydra's message is above); "
                              f"jobs' folders: {sweep_dir}") from None
    finally:
        sys.argv = argv
        root.handlers[:] = handlers
        root.setLevel(level)
        if env is None:
            os.environ.pop(SETTINGS_ENV, None)
        else:
            os.environ[SETTINGS_ENV] = env
    return collect(sweep_dir)


def collect(sweep_dir: Path) -> list[dict]:
    """The status of every job of a sweep, in job order; a job that left none (crashed, killed) failed."""
    jobs = [p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir() or (p / STATUS).is_file()] if sweep_dir.is_dir() else []
    statuses = []
    for job in sorted(jobs, key=lambda p: (len(p.name), p.name)):
        path = job / STATUS
        if path.is_file():
            status = json.loads(path.read_text())
        else:
            overrides = OmegaConf.load(job / ".hydra" / "overrides.yaml") if (job / ".hydra" / "overrides.yaml").is_file() else []
            status = {"overrides": list(overrides), "run": None, "status": "failed",
                      "error": f"the job left no {STATUS} (crashed or killed); see its logs under {sweep_dir}"}
        status["job"] = str(job)
        statuses.append(status)
    return statuses


def summary(statuses: list[dict]) -> list[str]:
    """One line per configuration (done, skipped, failed with its error), then the counts."""
    lines = []
    for status in statuses:
        line = f"{status['status']}: {describe(status)}"
        if status["status"] == "skipped":
            line += ": complete for this config; --force re-runs it"
        elif status["status"] == "failed":
            line += f": {status['error']}"
        lines.append(line)
    counts = {key: sum(s["status"] == key for s in statuses) for key in ("done", "skipped", "failed")}
    lines.append(f"sweep: {len(statuses)} configurations, " + ", ".join(f"{n} {k}" for k, n in counts.items())
                 + (f"; jobs' folders under {Path(statuses[0]['job']).parent}" if statuses else ""))
    return lines


def raise_for_failures(statuses: list[dict]) -> None:
    """An AelatError naming every failed configuration (or saying that none ran)."""
    from aelat.errors import AelatError

    if not statuses:
        raise AelatError("the sweep ran no configuration")
    failed = [s for s in statuses if s["status"] == "failed"]
    if failed:
        raise AelatError(f"{len(failed)} of {len(statuses)} configurations failed: "
                         + "; ".join(describe(s) for s in failed))


def describe(status: dict) -> str:
    """``<run folder> [overrides]``, the name a sweep's summary gives a configuration."""
    overrides = " ".join(status.get("overrides") or []) or "no overrides"
    return f"{status['run']} [{overrides}]" if status.get("run") else f"[{overrides}]"
