"""What a result depends on is recorded; the deterministic mode gives the same bits whatever the threads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aelat import artifacts
from aelat.artifacts import Run, run_dir_for
from aelat.config import compose
from aelat.data import dataset_digest
from aelat.errors import ConfigError
from aelat.runtime import use_threads
from aelat.stages import encode as encode_stage
from aelat.stages import train as train_stage

SMALL = ["model.hidden=[32]", "latent_dim=3", "train.epochs=2"]


def _environment_in_a_fresh_process(setup: str) -> dict:
    probe = f"import json; {setup}; from aelat.artifacts import environment; print(json.dumps(environment()))"
    return json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                     check=True).stdout)


def test_environment_names_the_cpu_the_thread_pools_and_torch():
    plain = _environment_in_a_fresh_process("import numpy")
    assert plain["cpu"] and plain["machine"] and plain["cores_available"] >= 1
    blas = [pool for pool in plain["thread_pools"] if pool["internal_api"] in ("openblas", "mkl", "blis")]
    assert blas and all(pool["num_threads"] >= 1 and pool["version"] for pool in blas)
    assert "torch" not in plain  # evaluate and embed never load torch, so nothing to say about it
    limited = _environment_in_a_fresh_process(
        "import torch; torch.set_num_threads(1); "
        "from threadpoolctl import threadpool_limits; limit = threadpool_limits(1)"
    )
    assert {pool["num_threads"] for pool in limited["thread_pools"]} == {1}
    assert limited["torch"]["threads"] == 1 and limited["torch"]["deterministic_algorithms"] is False
    assert limited["torch"]["cuda"] == torch.version.cuda
    assert artifacts.versions()["environment"]["cpu"] == plain["cpu"]


def _trained(out: Path, *overrides: str, threads: int) -> Run:
    """Train (and encode) a small digits model with ``threads=threads`` (whatever the cores here)."""
    cfg = compose([*SMALL, f"output_dir={out}", f"threads={threads}", *overrides])
    run = Run(run_dir_for(cfg), cfg, dataset_digest)
    try:
        train_stage.run(run)
        encode_stage.run(run)
    finally:
        use_threads(None)
    return run


def test_deterministic_mode_gives_the_same_bits_whatever_the_thread_count(tmp_path):
    a = _trained(tmp_path / "a", "train.deterministic=true", threads=2)
    b = _trained(tmp_path / "b", "train.deterministic=true", threads=3)
    weights_a = torch.load(a.file(artifacts.MODEL), weights_only=True)["state_dict"]
    weights_b = torch.load(b.file(artifacts.MODEL), weights_only=True)["state_dict"]
    assert all(torch.equal(weights_a[key], weights_b[key]) for key in weights_a)
    assert artifacts.checksum(a.file(artifacts.LATENTS)) == artifacts.checksum(b.file(artifacts.LATENTS))
    recorded = a.manifest()["stages"]["train"]["environment"]["torch"]
    assert recorded["threads"] == 1 and recorded["deterministic_algorithms"] is True
    # the settings come back afterwards, for whatever else runs in this process
    assert not torch.are_deterministic_algorithms_enabled()


def test_each_stage_records_the_environment_it_ran_in(tmp_path):
    run = _trained(tmp_path, threads=2)
    stages = run.manifest()["stages"]
    assert stages["train"]["environment"]["torch"]["threads"] == 2
    assert stages["train"]["environment"]["torch"]["deterministic_algorithms"] is False
    assert stages["encode"]["environment"]["cpu"] == artifacts.environment()["cpu"]


def test_deterministic_must_be_a_boolean():
    with pytest.raises(ConfigError, match="train.deterministic='maybe' is not true or false"):
        compose(["train.deterministic=maybe"])
