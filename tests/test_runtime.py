"""Threads: one setting sizes every pool, OpenMP threads sleep instead of spinning, small t-SNE maps run on one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from aelat.embedders import map_parameters, tsne
from aelat.errors import ConfigError
from aelat.runtime import available_cores, current_threads, use_threads
from aelat.sweep import job_threads

from conftest import FAST

# Loads the OpenMP runtimes aelat brings (scikit-learn's and openTSNE's libgomp, one library; torch's)
# the way the CLI does.
LOAD_RUNTIMES = "import aelat.cli, aelat.stages.train, aelat.stages.evaluate; import torch; torch.ones(64).sum()"


def spin_counts(code: str, env: dict) -> list[str]:
    """How long each loaded libgomp lets an idle thread spin before it sleeps (GOMP_SPINCOUNT as it started)."""
    env = {**env, "OMP_DISPLAY_ENV": "VERBOSE"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [line.split("=")[1].strip(" '") for line in done.stderr.splitlines() if "GOMP_SPINCOUNT" in line]


def python_output(code: str) -> str:
    """What ``python -c code`` prints, in a fresh process (the runtimes' settings are read as they load)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_openmp_threads_spin_briefly_in_every_runtime():
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    assert spin_counts(LOAD_RUNTIMES, env) == ["10000", "10000"]  # scikit-learn's and openTSNE's libgomp, torch's
    assert spin_counts("import torch; torch.ones(64).sum()", env) == ["300000"]  # libgomp's default


@pytest.mark.parametrize("setting, spin", [({"OMP_WAIT_POLICY": "ACTIVE"}, "30000000000"),
                                           ({"OMP_WAIT_POLICY": "PASSIVE"}, "0"), ({"GOMP_SPINCOUNT": "500"}, "500")])
def test_a_wait_setting_the_user_made_is_kept(setting, spin):
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    assert set(spin_counts(LOAD_RUNTIMES, {**env, **setting})) == {spin}


SUBNORMAL = "numpy.array([1e-39], dtype=numpy.float32) * numpy.float32(1)"  # zero where this thread flushes


def test_subnormal_floats_flush_to_zero_in_torch_worker_threads_inside_the_block_only():
    """A product landing in the subnormal range is zero inside denormals_flushed, also where torch splits
    the work over its threads (each thread has its own setting); after the block NumPy in this thread
    keeps subnormals again, and a flush set before the block stays set."""
    code = (
        "import numpy, torch\n"
        "from aelat.runtime import denormals_flushed, use_threads\n"
        "with denormals_flushed():\n"
        "    use_threads(2)\n"
        "    x = torch.full((4_000_000,), 1e-20) * torch.full((4_000_000,), 1e-20)\n"
        "    counts = [torch.get_num_threads(), int(torch.count_nonzero(x)),\n"
        "              int(torch.count_nonzero(torch.full((8,), 1e-39))), int(numpy.count_nonzero(%s))]\n"
        "counts.append(int(numpy.count_nonzero(%s)))\n"
        "torch.set_flush_denormal(True)\n"
        "with denormals_flushed():\n"
        "    pass\n"
        "print(*counts, int(numpy.count_nonzero(%s)))" % (SUBNORMAL, SUBNORMAL, SUBNORMAL)
    )
    assert python_output(code).split() == ["2", "0", "0", "0", "1", "0"]
    unflushed = code.replace("with denormals_flushed():\n    use", "if True:\n    use")
    assert python_output(unflushed).split()[:4] == ["2", "4000000", "8", "1"]  # without it, torch keeps them


def test_a_run_leaves_the_callers_arithmetic_as_it_found_it(tmp_path):
    """aelat.run trains (flushing subnormals while torch computes) and evaluates in the caller's process:
    afterwards NumPy there keeps subnormals, as evaluate in a process of its own or a worker does."""
    code = (
        "import numpy, aelat\n"
        f"aelat.run([*{FAST!r}, 'evaluate.distribution.n_bootstrap=20', 'evaluate.neighbourhood.sample_size=200', "
        f"'train.snapshots=[]', 'output_dir={tmp_path}'], methods=['pca'], of='latent')\n"
        f"print(int(numpy.count_nonzero({SUBNORMAL})))"
    )
    assert python_output(code).split()[-1] == "1"


def test_threads_sizes_torch_blas_and_openmp_alike():
    code = (
        "import json, torch, numpy, sklearn.cluster, openTSNE\n"
        "from threadpoolctl import threadpool_info\n"
        "from aelat.runtime import use_threads\n"
        "use_threads(1)\n"
        "print(json.dumps([torch.get_num_threads(), sorted({p['num_threads'] for p in threadpool_info()})]))"
    )
    torch_threads, pools = json.loads(python_output(code))
    assert torch_threads == 1 and pools == [1]


def test_available_cores_follow_cpu_affinity():
    code = "from aelat.runtime import available_cores, current_threads; print(available_cores(), current_threads())"
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
    assert available_cores() == len(os.sched_getaffinity(0))


def test_threads_config_applies_to_the_stage(aelat):
    import torch

    threads = available_cores() + 1  # not what this process would choose by itself
    try:
        code, _, stderr = aelat("train", "train.epochs=1", "model.hidden=[16]", "latent_dim=2", f"threads={threads}")
        assert code == 0, stderr
        assert torch.get_num_threads() == threads and current_threads() == threads
    finally:
        use_threads(None)
    assert current_threads() == available_cores()


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_threads_is_one_config_error(value):
    from aelat.config import compose

    with pytest.raises(ConfigError, match="threads"):
        compose([f"threads={value}"])


def test_tsne_n_jobs_auto_is_one_thread_for_small_inputs_and_threads_from_there():
    try:
        use_threads(3)
        assert map_parameters("tsne", tsne.PARALLEL_FROM - 1, {"n_jobs": "auto"})["n_jobs"] == 1
        assert map_parameters("tsne", tsne.PARALLEL_FROM, {"n_jobs": "auto"})["n_jobs"] == 3
        assert map_parameters("tsne", tsne.PARALLEL_FROM, {})["n_jobs"] == 3
        assert map_parameters("tsne", 100, {"n_jobs": 2})["n_jobs"] == 2  # a number is kept
        assert map_parameters("umap", 100, {"n_neighbors": 5}) == {"n_neighbors": 5}
    finally:
        use_threads(None)


@pytest.mark.parametrize("value", ["0", "many", "true"])
def test_bad_tsne_n_jobs_is_one_config_error(value):
    from aelat.config import compose

    with pytest.raises(ConfigError, match="embed.tsne.n_jobs"):
        compose([f"embed.tsne.n_jobs={value}"])


def test_jobs_side_by_side_share_the_cores(monkeypatch):
    cores = 4  # whatever the cores here (a test process may have one)
    monkeypatch.setattr("aelat.sweep.available_cores", lambda: cores)
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert job_threads(OmegaConf.create({"_target_": joblib, "n_jobs": -1})) == 1
    assert job_threads(OmegaConf.create({"_target_": joblib, "n_jobs": 1})) == cores
    assert job_threads(OmegaConf.create({"_target_": joblib, "n_jobs": 2})) == cores // 2
    slurm = "aelat.slurm.SlurmLauncher"
    assert job_threads(OmegaConf.create({"_target_": slurm, "cpus_per_task": 2})) == 2
    assert job_threads(OmegaConf.create({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"})) is None


def test_umap_sizes_numba_to_threads():
    import numpy as np

    from aelat.embedders.umap import umap_map

    rng = np.random.default_rng(0)
    try:
        use_threads(1)
        umap_map(rng.normal(size=(40, 3)), rng.normal(size=(5, 3)), 0, {"n_epochs": 10})
        import numba

        assert numba.get_num_threads() == 1
    finally:
        use_threads(None)
