"""SLURM sweeps that always end: submit as hydra-submitit-launcher does, then watch the jobs with squeue.

hydra-submitit-launcher submits one array job per sweep and waits in submitit's ``Job.results()``,
which learns that a job ended from ``sacct``. Where SLURM accounting is off (small clusters, CI) sacct
fails on every poll, each time with a warning, and a job that died without writing its result (killed,
out of memory, its node lost) keeps that wait going for ever; a job that can never start (it asks for
more CPUs or memory than any node has) pends for ever in silence. So aelat's launcher
(``hydra/launcher=slurm``, the class in ``hydra_plugins/aelat_launcher``) submits the same way and
then waits on its own, asking ``squeue`` (which slurmctld answers with or without accounting) for the
state of every task of the array:

* a task whose result file exists is done (its result is read as submitit reads it);
* a task that ended (FAILED, CANCELLED, OUT_OF_MEMORY, TIMEOUT, NODE_FAIL, ...) and whose result does
  not appear within :data:`RESULT_GRACE_S` failed, with SLURM's state, reason and exit code;
* a task that pends for a reason that does not clear by waiting (:func:`never_clears`: the request
  exceeds the partition, an invalid account, ...) for :data:`STUCK_AFTER_S` is cancelled and failed;
* a task that left slurmctld's memory without a result failed too.

A failed task's configuration gets an ``aelat_status.json`` naming the job and the reason; the others
complete, and the sweep ends with one line per configuration (aelat.sweep). sacct is never called,
so its warnings never appear. Ctrl-C cancels the sweep's jobs that have not finished.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)

POLL_S = 2.0  # between two squeue calls
RESULT_GRACE_S = 30.0  # how long a result file may lag behind the end of its task (shared file systems)
STUCK_AFTER_S = 20.0  # how long a task pends for a reason that never clears before it is cancelled
ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
         "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT"}
# Pending reasons that waiting does not clear: the job must be submitted differently.
_NEVER_CLEARS = {"PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints", "InvalidAccount",
                 "InvalidQOS", "AccountNotAllowed", "QOSNotAllowed", "DependencyNeverSatisfied"}
_PER_JOB_LIMIT = re.compile(r"^(Assoc|QOS)Max\w*PerJob\w*$")  # a per-job limit the request exceeds
HINTS = {
    "PartitionConfig": "the request exceeds what the partition's nodes have; lower hydra.launcher.cpus_per_task, "
                       "mem_gb or gpus_per_node, or pick another hydra.launcher.partition (`sinfo -N -l` lists nodes)",
    "OUT_OF_MEMORY": "raise hydra.launcher.mem_gb",
    "TIMEOUT": "raise hydra.launcher.timeout_min",
}


def never_clears(reason: str) -> bool:
    """Whether a PENDING task's reason (squeue's ``%r``) stays until the job is changed or cancelled."""
    return reason in _NEVER_CLEARS or bool(_PER_JOB_LIMIT.match(reason))


@dataclass
class Task:
    """One configuration's SLURM task, as the watch sees it."""

    job: Any  # submitit.Job
    state: str = "PENDING"
    reason: str = ""
    stuck_since: float | None = None
    ended_at: float | None = None
    failure: str | None = None

    @property
    def id(self) -> str:
        return str(self.job.job_id)

    @property
    def finished(self) -> bool:
        return self.failure is not None or self.job.paths.result_pickle.exists()


def launch(launcher, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
    """Submit the sweep's configurations as one array job and wait for every task (see the module docstring).

    Returns one ``hydra.core.utils.JobReturn`` per configuration; a failed task's is empty (COMPLETED,
    no value) and its ``aelat_status.json`` says why.
    """
    from hydra.core.utils import JobReturn, JobStatus

    jobs = submit(launcher, job_overrides, initial_job_idx)
    tasks = [Task(job) for job in jobs]
    try:
        watch(tasks)
    except KeyboardInterrupt:
        cancel([task.id for task in tasks if not task.finished])
        raise
    returns = []
    for index, (task, overrides) in enumerate(zip(tasks, job_overrides)):
        if task.failure is None:
            returns.append(task.job.results()[0])
            continue
        log.info("SLURM job %s: %s", task.id, task.failure)
        _record_failure(launcher, list(overrides), initial_job_idx + index, f"SLURM job {task.id} {task.failure}")
        returns.append(JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED))
    return returns


def submit(launcher, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
    """The submission half of hydra-submitit-launcher's ``BaseSubmititLauncher.launch`` (1.2), unchanged."""
    import os

    import submitit
    from hydra.core.singleton import Singleton
    from hydra.core.utils import filter_overrides
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    executor_name = launcher._EXECUTOR
    init_keys = {"max_num_timeout"}
    init_params = {"folder": launcher.params["submitit_folder"]}
    init_params |= {f"{executor_name}_{k}": v for k, v in launcher.params.items() if k in init_keys}
    executor = submitit.AutoExecutor(cluster=executor_name, **init_params)
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{
        key if key in shared else f"{executor_name}_{key}": value
        for key, value in launcher.params.items() if key not in init_keys | {"submitit_folder"}
    })
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if "mode" in launcher.config.hydra.sweep:
        os.chmod(sweep_dir, mode=int(str(launcher.config.hydra.sweep.mode), 8))
    params = []
    for index, overrides in enumerate(job_overrides):
        number = initial_job_idx + index
        log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
        params.append((list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}", Singleton.get_state()))
    return executor.map_array(launcher, *zip(*params))


def watch(tasks: list[Task], poll_s: float = POLL_S) -> None:
    """Poll squeue until every task has its result or a failure (``Task.failure``)."""
    while True:
        now = time.monotonic()
        pending = [task for task in tasks if not task.finished]
        if not pending:
            return
        states = queue_states({task.id.split("_")[0] for task in pending})
        for task in pending:
            _update(task, states.get(task.id), now)
        stuck = [task for task in pending if task.failure and task.state == "PENDING"]
        cancel([task.id for task in stuck])
        time.sleep(poll_s)


def _update(task: Task, seen: tuple[str, str] | None, now: float) -> None:
    """Advance one unfinished task from what squeue says of it (None: slurmctld no longer knows it)."""
    if seen is None:
        task.state, task.reason = "GONE", ""
    else:
        task.state, task.reason = seen
    if task.state == "PENDING" and never_clears(task.reason):
        task.stuck_since = now if task.stuck_since is None else task.stuck_since
        if now - task.stuck_since >= STUCK_AFTER_S:
            hint = HINTS.get(task.reason, "change the job's request (hydra.launcher.*)")
            task.failure = f"cannot start: pending with reason {task.reason}; {hint}"
        return
    task.stuck_since = None
    if task.state not in ENDED and task.state != "GONE":
        return
    task.ended_at = now if task.ended_at is None else task.ended_at
    if now - task.ended_at < RESULT_GRACE_S:
        return  # the result file may still be on its way
    if task.state == "GONE":
        task.failure = "left SLURM's queue without a result (killed or lost; its state is unknown without accounting)"
        return
    detail = job_detail(task.id)
    hint = HINTS.get(task.state)
    task.failure = (f"ended {task.state} without a result (reason {task.reason or 'none'}, exit code "
                    f"{detail.get('ExitCode', '?')}); its log: {task.job.paths.stderr}" + (f"; {hint}" if hint else ""))


def queue_states(array_ids: set[str]) -> dict[str, tuple[str, str]]:
    """``{task id: (state, reason)}`` for every task of the array jobs that slurmctld still knows."""
    states = {}
    for array_id in sorted(array_ids):
        done = subprocess.run(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%r", "--jobs",
                               array_id], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:  # "Invalid job id": the array left slurmctld's memory
            continue
        for line in done.stdout.splitlines():
            task_id, state, reason = (line.strip().split("|") + ["", ""])[:3]
            states[task_id] = (state, reason)
    return states


def job_detail(task_id: str) -> dict[str, str]:
    """``scontrol show job``'s fields of one task (empty when slurmctld no longer knows it)."""
    done = subprocess.run(["scontrol", "show", "job", "--oneliner", task_id], capture_output=True, text=True,
                          timeout=60)
    fields = (field.partition("=") for field in done.stdout.split()) if done.returncode == 0 else ()
    return {key: value for key, _, value in fields}


def cancel(task_ids: Sequence[str]) -> None:
    if task_ids:
        subprocess.run(["scancel", *task_ids], capture_output=True, timeout=60)


def _record_failure(launcher, overrides: list[str], number: int, error: str) -> None:
    """Write the failed configuration's ``aelat_status.json`` in its Hydra job folder."""
    from omegaconf import open_dict

    from aelat.sweep import record_failure

    config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, overrides)
    with open_dict(config.hydra.job):
        config.hydra.job.num = number
    record_failure(Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir), overrides, error)
