"""``hydra/launcher=slurm``: hydra-submitit-launcher's SLURM launcher with aelat's own wait (aelat.slurm)."""

from __future__ import annotations

from typing import Sequence

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher


class SlurmLauncher(SubmititSlurmLauncher):
    """Submits like submitit's launcher; a job that cannot start or dies without a result fails its configuration."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        from aelat.slurm import launch

        return launch(self, job_overrides, initial_job_idx)
