"""Sweeps on a real SLURM cluster (``hydra/launcher=slurm``): the shipped defaults schedule on a small
node, a killed job fails only its configuration, a job that cannot start ends the wait with its reason.

They need a running cluster: ../shared/slurm/start_slurm.sh starts a one-node one (root, Debian
packages; .ci/run does it before `make test`); without one they skip, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import MAPS, SWEEP_FAST

AELAT = str(Path(sys.executable).with_name("aelat"))


def _cluster_answers() -> bool:
    if shutil.which("sbatch") is None or shutil.which("scontrol") is None:
        return False
    try:
        done = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and " is UP" in done.stdout


pytestmark = pytest.mark.skipif(
    not _cluster_answers(),
    reason="no SLURM cluster answers `scontrol ping`; start one with ../shared/slurm/start_slurm.sh "
           "(root, installs Debian's slurm packages; .ci/run does it)",
)


@pytest.fixture
def sweep(tmp_path):
    """Start `aelat run -m ... hydra/launcher=slurm` under a job name of its own; cancel its jobs afterwards."""
    name = f"aelat-test-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "outputs"
    started = []

    def start(*overrides: str) -> subprocess.Popen:
        command = [AELAT, "run", "-m", *SWEEP_FAST, *MAPS, *overrides, f"output_dir={out}", "hydra/launcher=slurm",
                   f"hydra.launcher.name={name}"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "COLUMNS": "200"})
        started.append(process)
        return process

    start.name, start.out = name, out
    yield start
    subprocess.run(["scancel", "--name", name], capture_output=True)
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def finish(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def test_a_sweep_with_the_shipped_defaults_runs_on_the_cluster(sweep):
    code, stdout, stderr = finish(sweep("latent_dim=2,3"))
    assert code == 0, stdout + stderr
    assert "2 done, 0 skipped, 0 failed" in stdout, stdout
    folders = [p for p in sweep.out.iterdir() if p.name.startswith("digits-mlp-d")]
    assert len(folders) == 2 and all((p / "metrics.json").is_file() for p in folders)
    assert "sacct" not in stdout + stderr  # accounting is off here: submitit's sacct warnings must not show


def running_task(name: str, timeout: float = 300) -> tuple[str, str]:
    """(array task id like 7_1, its own job id) of the first running task of the named jobs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = subprocess.run(["squeue", "--noheader", "--array", "--states=RUNNING", "--name", name,
                                 "--format=%i %A"], capture_output=True, text=True).stdout.split()
        if listed:
            return listed[0], listed[1]
        time.sleep(0.2)
    pytest.fail(f"no task of {name} started within {timeout} s")


def job_python(job_id: str, timeout: float = 120) -> int:
    """The pid of the task's Python process (submitit's job runner)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = subprocess.run(["scontrol", "listpids", job_id], capture_output=True, text=True).stdout.split("\n")
        for line in listed[1:]:
            if not line.split():
                continue
            pid = int(line.split()[0])
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            argv = command.split(b"\0")
            if Path(argv[0].decode()).name.startswith("python") and b"submitit.core._submit" in argv:
                return pid
        time.sleep(0.1)
    pytest.fail(f"job {job_id} started no Python process within {timeout} s")


def test_a_killed_job_fails_its_configuration_and_the_others_complete(sweep):
    sizes = [2, 3, 4]
    process = sweep(f"latent_dim={','.join(map(str, sizes))}")
    task, job_id = running_task(sweep.name)
    os.kill(job_python(job_id), signal.SIGKILL)
    killed = sizes[int(task.split("_")[1])]

    code, stdout, stderr = finish(process)
    assert code == 1, stdout + stderr
    assert f"failed: [latent_dim={killed}]: SLURM job {task} ended FAILED without a result" in stdout, stdout
    assert "2 done, 0 skipped, 1 failed" in stdout, stdout
    done = {int(line.split("[latent_dim=")[1].rstrip("]")) for line in stdout.splitlines() if line.startswith("done:")}
    assert done == set(sizes) - {killed}
    statuses = [json.loads(p.read_text()) for p in sweep.out.glob(".multirun/*/*/*/aelat_status.json")]
    assert sorted(s["status"] for s in statuses) == ["done", "done", "failed"]


def test_a_job_that_cannot_start_ends_the_sweep_with_its_reason(sweep):
    started = time.monotonic()
    code, stdout, stderr = finish(sweep("latent_dim=2", "seed=0,1", "hydra.launcher.cpus_per_task=4096"), timeout=300)
    assert code == 1, stdout + stderr
    failed = [line for line in stdout.splitlines() if line.startswith("failed: [seed=")]
    assert len(failed) == 2 and all("cannot start: pending with reason PartitionConfig" in f for f in failed), stdout
    assert "lower hydra.launcher.cpus_per_task" in stdout
    assert time.monotonic() - started < 240
    left = subprocess.run(["squeue", "--noheader", "--name", sweep.name], capture_output=True, text=True).stdout
    assert left.strip() == ""  # cancelled, not left pending
