"""aelat.slurm's watch without a cluster: how a task's SLURM state becomes done, failed or still waiting.

The same paths run against a real cluster in tests/test_slurm.py; here squeue's answers are given, so
the rules (never-clearing reasons, the grace for a late result, a task slurmctld forgot) are checked
on every machine.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from aelat import slurm


def task(tmp_path: Path, job_id: str = "7_0") -> slurm.Task:
    paths = SimpleNamespace(result_pickle=tmp_path / f"{job_id}_result.pkl", stderr=tmp_path / f"{job_id}.err")
    return slurm.Task(SimpleNamespace(job_id=job_id, paths=paths))


@pytest.mark.parametrize("reason", ["PartitionConfig", "InvalidAccount", "QOSMaxCpuPerJobLimit",
                                    "AssocMaxWallDurationPerJobLimit"])
def test_a_task_pending_for_a_reason_that_never_clears_fails_after_a_while(tmp_path, reason):
    t = task(tmp_path)
    slurm._update(t, ("PENDING", reason), now=100.0)
    assert t.failure is None  # not at once: squeue's first answers can lag behind the scheduler
    slurm._update(t, ("PENDING", reason), now=100.0 + slurm.STUCK_AFTER_S)
    assert t.failure.startswith(f"cannot start: pending with reason {reason}")


@pytest.mark.parametrize("reason", ["Resources", "Priority", "None", "BeginTime", "ReqNodeNotAvail"])
def test_a_task_pending_for_a_reason_that_clears_keeps_waiting(tmp_path, reason):
    t = task(tmp_path)
    for now in (0.0, 1e6):
        slurm._update(t, ("PENDING", reason), now=now)
    assert t.failure is None and not t.finished


def test_a_task_that_ended_without_a_result_fails_after_the_grace(tmp_path, monkeypatch):
    monkeypatch.setattr(slurm, "job_detail", lambda task_id: {"ExitCode": "137:0"})
    t = task(tmp_path)
    slurm._update(t, ("RUNNING", "None"), now=0.0)
    slurm._update(t, ("FAILED", "NonZeroExitCode"), now=10.0)
    assert t.failure is None  # the result file may lag on a shared file system
    slurm._update(t, ("FAILED", "NonZeroExitCode"), now=10.0 + slurm.RESULT_GRACE_S)
    assert t.failure.startswith("ended FAILED without a result (reason NonZeroExitCode, exit code 137:0)")


def test_out_of_memory_names_the_setting_to_raise(tmp_path, monkeypatch):
    monkeypatch.setattr(slurm, "job_detail", lambda task_id: {"ExitCode": "0:125"})
    t = task(tmp_path)
    slurm._update(t, ("OUT_OF_MEMORY", "OutOfMemory"), now=0.0)
    slurm._update(t, ("OUT_OF_MEMORY", "OutOfMemory"), now=slurm.RESULT_GRACE_S)
    assert "ended OUT_OF_MEMORY" in t.failure and t.failure.endswith("raise hydra.launcher.mem_gb")


def test_a_task_slurm_forgot_fails_and_one_with_its_result_is_done(tmp_path):
    gone, done = task(tmp_path, "7_0"), task(tmp_path, "7_1")
    for now in (0.0, slurm.RESULT_GRACE_S):
        slurm._update(gone, None, now=now)
    assert gone.failure.startswith("left SLURM's queue without a result")
    done.job.paths.result_pickle.write_bytes(b"result")
    assert done.finished and done.failure is None


def test_watch_cancels_the_tasks_that_cannot_start_and_returns_when_all_are_settled(tmp_path, monkeypatch):
    stuck, ok = task(tmp_path, "8_0"), task(tmp_path, "8_1")
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(slurm.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(slurm.time, "sleep", lambda seconds: None)

    def queue(array_ids):
        ok.job.paths.result_pickle.write_bytes(b"result")  # 8_1 finishes during the first poll
        return {"8_0": ("PENDING", "PartitionConfig")}

    cancelled = []
    monkeypatch.setattr(slurm, "queue_states", queue)
    monkeypatch.setattr(slurm, "cancel", lambda ids: cancelled.extend(ids))
    slurm.watch([stuck, ok])
    assert stuck.failure.startswith("cannot start") and ok.failure is None
    assert cancelled == ["8_0"]
