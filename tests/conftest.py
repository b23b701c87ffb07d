"""Shared fixtures: a tiny, fast configuration and a CLI runner that writes into tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

# `make test` runs the tests in two or more processes at once (pytest-xdist), so they compete for the
# cores: OpenMP threads sleep at once instead of spinning for descheduled siblings (README "On a busy
# machine"). Set before aelat loads, which would otherwise set its own spin count; tests/test_runtime.py
# checks aelat's default in fresh interpreters without it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def own_cores() -> None:
    """In a pytest-xdist worker, keep this process and what it starts to its share of the cores.

    The workers' aelat processes would otherwise each size their threads to every core and compete for
    them; with a share each (aelat's threads follow CPU affinity) the whole suite took 1170 s against
    1347 s here (2 workers on 2 cores), and 32 against 38 min of CPU. Tests of thread counts set their own.
    """
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if worker is None or count is None or not hasattr(os, "sched_setaffinity"):
        return
    cores, index = sorted(os.sched_getaffinity(0)), int(worker.removeprefix("gw"))
    os.sched_setaffinity(0, cores[index::int(count)] or [cores[index % len(cores)]])


own_cores()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from aelat.cli import app  # noqa: E402

MNIST_NPZ = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist.npz"
# Few epochs and a small net keep a whole digits pipeline to a few seconds on 2 cores; no N2D clustering
# (its UMAP costs seconds per run; test_evaluate covers it).
FAST = ["train.epochs=3", "model.hidden=[64]", "latent_dim=4", "evaluate.n2d.of=[]"]
# One configuration of a sweep (the sweep, summarize and SLURM tests), smaller still. No snapshots:
# analyse's training dynamics (most of a small run's time) are not what those tests check.
SWEEP_FAST = ["train.epochs=2", "model.hidden=[32]", "train.snapshots=[]", "evaluate.distribution.n_bootstrap=20",
              "evaluate.n2d.of=[]"]
MAPS = ["--method", "pca", "--of", "latent"]  # the cheapest map a run can draw


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "outputs"


@pytest.fixture
def aelat(out: Path):
    """Invoke the CLI in-process with output_dir in tmp_path; returns (exit code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str, overrides: bool = True):
        argv = list(args) + ([f"output_dir={out}"] if overrides else [])
        result = runner.invoke(app, argv, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def cli(out: Path, *args: str):
    """Invoke the CLI in-process with ``output_dir=out``; asserts it succeeds and returns the result."""
    result = CliRunner().invoke(app, [*args, f"output_dir={out}"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture(scope="session")
def explored_run(tmp_path_factory) -> Path:
    """A digits run with PCA maps of every representation and a t-SNE map of the latent (read-only:
    report.html and the TensorBoard export are tested on it)."""
    out = tmp_path_factory.mktemp("explored") / "outputs"
    runner = CliRunner()
    for args in (["train", *FAST], ["encode"], ["embed", "--method", "pca", "--of", "all"],
                 ["embed", "--method", "tsne", "--of", "latent"], ["evaluate"]):
        result = runner.invoke(app, [*args, f"output_dir={out}"], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    return (out / "latest").resolve()


@pytest.fixture
def mnist_npz() -> Path:
    if not MNIST_NPZ.is_file():
        pytest.skip(f"real MNIST not found at {MNIST_NPZ} (CI has it; see README)")
    return MNIST_NPZ


def write_npz(path: Path, n_train: int = 40, n_test: int = 12, shape=(6, 6), n_classes: int = 3, **replace):
    """A small random image dataset in aelat's npz format; ``replace`` swaps individual arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "Xtr": rng.integers(0, 256, size=(n_train, *shape), dtype=np.uint8),
        "ytr": np.arange(n_train) % n_classes,
        "Xte": rng.integers(0, 256, size=(n_test, *shape), dtype=np.uint8),
        "yte": np.arange(n_test) % n_classes,
    }
    arrays.update(replace)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


os.environ.setdefault("COLUMNS", "120")
