"""Reliability: bad input, crashes, concurrent and stale runs never lose work or give a silent wrong answer.

* every bad input is exit 1 and one line on stderr (after ``run: ...``) that says what is wrong and
  how to fix it, and leaves the output folder exactly as it was (files and modification times);
* a run folder is held by one aelat process at a time (``run.lock``);
* SIGKILL at any moment leaves every artifact old-and-complete or new-and-complete;
* the same config and seed give the same arrays and metrics.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from typer.testing import CliRunner

from aelat import artifacts
from aelat.cli import app
from aelat.locking import LOCK
from aelat.models import load_checkpoint
from conftest import FAST, write_npz

AELAT = Path(sys.executable).with_name("aelat")
ENV = {**os.environ, "COLUMNS": "120"}
# Smaller evaluation samples: the scores are not under test here, only that they are written whole.
EVAL_FAST = [
    "evaluate.distribution.n_bootstrap=10",
    "evaluate.distribution.n_directions=20",
    "evaluate.distribution.n_id_samples=500",
    "evaluate.neighbourhood.sample_size=300",
    "evaluate.silhouette.sample_size=500",
]
# Starts the real CLI in a fresh interpreter that has already imported aelat, then waits for a line
# on stdin: concurrent tests can release several processes at one moment, whatever the import time.
LAUNCHER = "import sys; from aelat.cli import app; sys.stdin.readline(); app(args=sys.argv[1:], prog_name='aelat')"


def invoke(out: Path | str | None, *args: str):
    """The CLI in-process, writing into ``out`` (None: no output_dir override); returns (exit code, stdout, stderr)."""
    result = CliRunner().invoke(app, [*args, *([f"output_dir={out}"] if out is not None else [])], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` (and the folder) with its type, size and modification time."""
    if not folder.exists():
        return {}
    paths = [folder, *folder.rglob("*")]
    return {str(p.relative_to(folder)): (p.is_dir(), os.lstat(p).st_size, os.lstat(p).st_mtime_ns) for p in paths}


def one_error_line(stderr: str) -> str:
    """The error line, after checking it is stderr's only line but for ``run: ...``."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("aelat: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], stderr
    before = "".join(lines[:-1])  # the run line, which rich may fold when the path is long
    assert before == "" or (before.startswith("run: ") and "error" not in before), stderr
    return errors[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """An output folder holding one trained and encoded FAST digits run."""
    out = tmp_path_factory.mktemp("trained") / "outputs"
    assert invoke(out, "train", *FAST)[0] == 0 and invoke(out, "encode")[0] == 0
    return out


@pytest.fixture(scope="module")
def trained_d1(tmp_path_factory) -> Path:
    """The same with a one-dimensional latent."""
    out = tmp_path_factory.mktemp("trained_d1") / "outputs"
    args = [*FAST, "latent_dim=1"]
    assert invoke(out, "train", *args)[0] == 0 and invoke(out, "encode")[0] == 0
    return out


def copy_run(source: Path, out: Path) -> Path:
    shutil.copytree(source, out, symlinks=True)
    return (out / "latest").resolve()


def bad_npz(**replace):
    return lambda tmp_path, run_dir: ["dataset=npz", f"dataset.path={write_npz(tmp_path / 'bad.npz', **replace)}"]


def damage_model(content: bytes | None):
    def damage(tmp_path, run_dir):
        model = run_dir / artifacts.MODEL
        model.write_bytes(content if content is not None else model.read_bytes()[: model.stat().st_size // 2])
        return []

    return damage


def damage_checkpoint(tmp_path, run_dir):
    (run_dir / artifacts.CHECKPOINT).write_bytes(b"garbage" * 100)
    return []


def not_a_run(tmp_path, run_dir):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "notes.txt").write_text("not a run")
    return ["--run", str(tmp_path / "elsewhere")]


def needs_no_cuda(tmp_path, run_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    return []


def npz_at(path: Path) -> list[str]:
    return ["dataset=npz", f"dataset.path='{path}'"]  # quoted: Hydra reads [ as a list


def raw_npz(**arrays):
    """An npz written as given (np.savez, pickles allowed), not completed by write_npz."""
    def setup(tmp_path, run_dir):
        np.savez(tmp_path / "bad.npz", **arrays)
        return npz_at(tmp_path / "bad.npz")

    return setup


def dataset_file(content: bytes, name: str = "bad.npz"):
    def setup(tmp_path, run_dir):
        (tmp_path / name).write_bytes(content)
        return npz_at(tmp_path / name)

    return setup


def dataset_folder(tmp_path, run_dir):
    (tmp_path / "data.npz").mkdir()
    return npz_at(tmp_path / "data.npz")


def huge_header(tmp_path, run_dir):
    """Xtr's .npy header claims 10^6 images of 1000 x 1000 (931 GiB); the file holds 36 bytes of them."""
    path = write_npz(tmp_path / "bad.npz")
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        member = io.BytesIO()
        np.lib.format.write_array_header_1_0(member, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 1000, 1000)})
        archive.writestr("Xtr.npy", member.getvalue() + bytes(36))
    return npz_at(path)


def bracketed_missing(tmp_path, run_dir):
    return npz_at(tmp_path / "[old]" / "[/red]" / "data.npz")  # "[/red]" would even make rich markup fail


def edit(name: str, change):
    """Replace a run file's text with ``change(text)``."""
    def setup(tmp_path, run_dir):
        path = run_dir / name
        path.write_text(change(path.read_text()))
        return []

    return setup


def without_block(key: str):
    """config.yaml without the top-level block ``key:``."""
    def change(text: str) -> str:
        lines, out, skipping = text.splitlines(), [], False
        for line in lines:
            if not line.startswith(" "):
                skipping = line.startswith(f"{key}:")
            if not skipping:
                out.append(line)
        return "\n".join(out) + "\n"

    return change


def manifest_without_outputs(text: str) -> str:
    manifest = json.loads(text)
    del manifest["stages"]["train"]["outputs"]
    return json.dumps(manifest)


def output_dir(kind: str):
    def setup(tmp_path, run_dir):
        (tmp_path / "afile").write_text("a file of the user's")
        return {
            "file": ["output_dir=" + str(tmp_path / "afile")],
            "under-file": ["output_dir=" + str(tmp_path / "afile" / "sub")],
            "proc": ["output_dir=/proc/aelat-x"],
            "too-long": ["output_dir=" + str(tmp_path / ("x" * 300))],
        }[kind]

    return setup


def latest_as(kind: str):
    def setup(tmp_path, run_dir):
        latest = run_dir.parent / "latest"
        latest.unlink()
        if kind == "folder":
            latest.mkdir()
            (latest / "mine.txt").write_text("mine")
        elif kind == "file":
            latest.write_text("mine")
        else:
            latest.symlink_to("gone-run")
        return []

    return setup


def lock_links_to_a_victim(tmp_path, run_dir):
    (tmp_path / "victim.txt").write_text("precious")
    (run_dir / LOCK).symlink_to(tmp_path / "victim.txt")
    return []


def run_is_a_file(tmp_path, run_dir):
    (tmp_path / "afile").write_text("a file of the user's")
    return ["--run", str(tmp_path / "afile")]


EMPTY = np.zeros((0, 6, 6), np.uint8)
# id: (command, setup(tmp_path, run_dir) -> extra args, args, what is wrong, the fix it names)
CASES = {
    "unknown-dataset": ("train", None, ["dataset=imagenet"], "unknown dataset 'imagenet'", "choose one of: cifar10"),
    "unknown-model": ("train", None, ["model=transformer"], "unknown model 'transformer'", "choose one of: conv"),
    "unknown-method": ("embed", None, ["--method", "isomap"], "unknown embed method 'isomap'", "choose one of: tsne"),
    "mistyped-key": ("train", None, ["latent_dimm=3"], "no such config key", "did you mean 'latent_dim'"),
    "mistyped-key-on-a-run": (
        "evaluate", lambda tmp_path, run_dir: ["--run", str(run_dir)], ["evaluate.knn.kss=[1]"],
        "no such config key", "did you mean 'evaluate.knn.ks'",
    ),
    "latent-0": ("train", None, ["latent_dim=0"], "latent_dim=0 is too small", "it must be >= 1"),
    "latent-negative": ("train", None, ["latent_dim=-1"], "latent_dim=-1 is too small", "it must be >= 1"),
    "latent-abc": ("train", None, ["latent_dim=abc"], "latent_dim='abc' is not an integer", "whole number >= 1"),
    "epochs-0": ("train", None, ["train.epochs=0"], "train.epochs=0 is too small", "it must be >= 1"),
    "batch-too-large": (
        "train", None, [*FAST, "train.batch_size=5000"], "exceeds the 1347 training samples", "lower it"
    ),
    "npz-missing-key": ("train", bad_npz(yte=None), FAST, "lacks yte", "it needs Xtr, ytr, Xte, yte"),
    "npz-lengths": (
        "train", bad_npz(ytr=np.arange(39) % 3), FAST, "ytr has shape (39,) but Xtr holds 40 samples", "ytr"
    ),
    "npz-float-labels": (
        "train", bad_npz(ytr=np.linspace(0, 2, 40)), FAST, "ytr has dtype float64", "labels must be integers"
    ),
    "npz-nan": ("train", bad_npz(Xtr=np.full((40, 6, 6), np.nan)), FAST, "NaN or inf", "clean the data"),
    "npz-one-class": (
        "train", bad_npz(ytr=np.zeros(40, int), yte=np.zeros(12, int)), FAST, "all samples have label 0", ">= 2 classes"
    ),
    "npz-empty": (
        "train", bad_npz(Xtr=EMPTY, ytr=np.zeros(0, int), Xte=EMPTY, yte=np.zeros(0, int)), FAST,
        "Xtr has shape (0, 6, 6)", "n >= 1 samples",
    ),
    "run-not-a-run": ("encode", not_a_run, [], "is not an aelat run (no config.yaml)", "pass a folder `aelat train` made"),
    "model-truncated": ("encode", damage_model(None), [], "model.pt changed after `aelat train`", "re-run `aelat train`"),
    "model-garbage": (
        "encode", damage_model(b"garbage" * 100), [], "model.pt changed after `aelat train`", "re-run `aelat train`"
    ),
    "checkpoint-garbage": (
        "train", damage_checkpoint, FAST, "checkpoint.pt is not a readable training checkpoint",
        "delete it to train from the start",
    ),
    "stale-latents": (
        "evaluate", lambda tmp_path, run_dir: ["--run", str(run_dir)], ["train.lr=0.5"],
        "latents.npz was made under another config", "re-run `aelat encode`",
    ),
    "pca-map-of-1d": ("embed", None, ["--method", "pca"], "a pca map needs >= 2 dimensions but latent has 1", "use --method tsne"),
    "cuda-absent": ("train", needs_no_cuda, [*FAST, "device=cuda"], "torch sees no CUDA device", "use device=auto or device=cpu"),
    "unwritable-output": (
        "train", None, FAST, "cannot write /sys/aelat-x: permission denied", "choose a writable output_dir=DIR"
    ),
    # data
    "dataset-path-a-folder": ("train", dataset_folder, FAST, "data.npz is a folder", "point it at an .npz file"),
    "npz-zero-bytes": ("train", dataset_file(b""), FAST, "is not a readable .npz file", "write it with numpy.savez"),
    "npz-text": ("train", dataset_file(b"Xtr,ytr\n1,2\n"), FAST, "is not a readable .npz file", "numpy.savez"),
    "npz-mixed-dtypes": (
        "train", bad_npz(Xtr=np.full((40, 6, 6), 0.5, np.float32)), FAST, "Xtr is float32 (floats), Xte is uint8",
        "store every split alike",
    ),
    "npz-test-class-absent": (
        "train", bad_npz(yte=np.arange(12) % 4), FAST, "test class(es) 3 have no training samples",
        "add them to the training split",
    ),
    "npz-one-sample-per-class": (
        "train", bad_npz(n_train=3), FAST, "has 1 training sample", "every class needs >= 2",
    ),
    "npz-single-training-sample": (
        "train", bad_npz(n_train=1), FAST, "test class(es) 1, 2 have no training samples", "add them to the training",
    ),
    "npz-constant-images": (
        "train", bad_npz(Xtr=np.zeros((40, 6, 6), np.uint8)), FAST, "every training image is the same", "check the file",
    ),
    "npz-object-array": (
        "train", raw_npz(Xtr=np.array([None] * 40, dtype=object), ytr=np.arange(40) % 3,
                         Xte=np.zeros((12, 6, 6), np.uint8), yte=np.arange(12) % 3),
        FAST, "Xtr holds Python objects", "store numbers",
    ),
    "brackets-survive": ("train", bracketed_missing, FAST, "/[old]/[/red]/data.npz does not exist", "point it at an .npz"),
    # resources
    "npz-huge-declared-shape": (
        "train", huge_header, FAST, "Xtr declares shape (1000000, 1000, 1000)", "the file is corrupt, write it again",
    ),
    # the run's config
    "config-empty": ("encode", edit("config.yaml", lambda t: ""), [], "config.yaml holds nothing", "restore it"),
    "config-mapping-empty": ("encode", edit("config.yaml", lambda t: "{}"), [], "config.yaml holds nothing", "restore it"),
    "config-list": ("encode", edit("config.yaml", lambda t: "- a\n- b\n"), [], "config.yaml holds list", "restore it"),
    "config-truncated": ("encode", edit("config.yaml", lambda t: t[: len(t) // 3]), [], "config.yaml", "restore it"),
    "config-not-yaml": ("encode", edit("config.yaml", lambda t: "model: [unclosed\n"), [], "config.yaml is unreadable",
                        "restore it"),
    "config-missing-block": (
        "encode", edit("config.yaml", without_block("evaluate")), [], "config.yaml lacks evaluate.", "restore it"
    ),
    "config-bad-value": (
        "encode", edit("config.yaml", lambda t: t.replace("latent_dim: 4", "latent_dim: abc")), [],
        "config.yaml: latent_dim='abc' is not an integer", "whole number",
    ),
    "config-interpolation": (
        "encode", edit("config.yaml", lambda t: t.replace("seed: 0", "seed: ${oc.env:HOME}")), [],
        "seed='${oc.env:HOME}', an interpolation", "replace it with the plain value",
    ),
    # the manifest
    "manifest-empty": ("encode", edit("run.json", lambda t: ""), [], "run.json is unreadable", "delete it"),
    "manifest-list": ("encode", edit("run.json", lambda t: "[]"), [], "run.json is damaged (no 'stages'", "delete it"),
    "manifest-mapping-empty": ("encode", edit("run.json", lambda t: "{}"), [], "run.json is damaged", "delete it"),
    "manifest-truncated": ("encode", edit("run.json", lambda t: t[: len(t) // 2]), [], "run.json is unreadable",
                           "delete it"),
    "manifest-missing-key": (
        "encode", edit("run.json", manifest_without_outputs), [], "stage 'train' has no outputs checksums", "delete it"
    ),
    # output_dir and latest
    "output-dir-a-file": ("train", output_dir("file"), FAST, "afile is a file, not a folder", "choose another output_dir"),
    "output-dir-under-a-file": (
        "train", output_dir("under-file"), FAST, "afile is a file, not a folder", "choose another output_dir"
    ),
    "sweep-output-dir-a-file": (
        "run", output_dir("file"), ["-m", "seed=0,1", *FAST], "afile is a file, not a folder", "choose another output_dir"
    ),
    "output-dir-in-proc": ("train", output_dir("proc"), FAST, "cannot write /proc/aelat-x", "choose a writable output_dir"),
    "output-dir-name-too-long": (
        "train", output_dir("too-long"), FAST, "longer than the file system allows", "choose a shorter output_dir"
    ),
    "latest-a-folder": ("encode", latest_as("folder"), [], "latest is a folder, not the link aelat keeps", "rename or move it"),
    "latest-a-folder-new-run": (
        "train", latest_as("folder"), FAST, "latest is a folder, not the link aelat keeps", "rename or move it"
    ),
    "latest-a-file": ("encode", latest_as("file"), [], "latest is a file, not the link aelat keeps", "rename or move it"),
    "latest-dangling": ("encode", latest_as("dangling"), [], "gone-run, which is gone", "pass --run DIR"),
    "run-a-file": ("encode", run_is_a_file, [], "afile is not a folder", "pass a run folder"),
    # artifacts
    "lock-a-symlink": ("encode", lock_links_to_a_victim, [], "run.lock is a symbolic link, which aelat never follows",
                       "delete it"),
    "report-before-evaluate": (
        "report", lambda tmp_path, run_dir: ["--run", str(run_dir), "output_dir="], [], "metrics.json is missing",
        "make it with `aelat evaluate`",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_1_and_changes_nothing(case, trained, trained_d1, tmp_path):
    """Nothing under tmp_path (the outputs, the user's files beside them) changes, not even a time."""
    command, setup, args, wrong, fix = CASES[case]
    out = tmp_path / "outputs"
    run_dir = copy_run(trained_d1 if case == "pca-map-of-1d" else trained, out)
    extra = setup(tmp_path, run_dir) if setup else []
    before = snapshot(tmp_path)
    target = next((arg.split("=", 1)[1] or None for arg in extra if arg.startswith("output_dir=")), out)
    target = "/sys/aelat-x" if case == "unwritable-output" else target
    extra = [arg for arg in extra if not arg.startswith("output_dir=")]

    code, stdout, stderr = invoke(target, command, *extra, *args)

    assert code == 1, (stdout, stderr)
    line = one_error_line(stderr)
    assert wrong in line and fix in line, line
    assert snapshot(tmp_path) == before
    assert not Path("/sys/aelat-x").exists() and not Path("/proc/aelat-x").exists()


def test_tsne_map_of_a_1d_latent_works(trained_d1, tmp_path):
    """The pca map refuses a 1-d latent (above); t-SNE maps it."""
    run_dir = copy_run(trained_d1, tmp_path / "outputs")
    code, _, stderr = invoke(tmp_path / "outputs", "embed", "--method", "tsne", "embed.tsne.n_jobs=1", "embed.max_points=300")
    assert code == 0, stderr
    emb = artifacts.read_npz(run_dir / "embedding_tsne.npz")
    assert emb["train"].shape == (300, 2) and np.isfinite(emb["train"]).all()


def test_console_script_hides_the_traceback_unless_debug(tmp_path):
    out = tmp_path / "outputs"
    plain = subprocess.run([AELAT, "train", "latent_dim=abc", f"output_dir={out}"], capture_output=True, text=True, env=ENV)
    assert plain.returncode == 1
    assert one_error_line(plain.stderr) == "aelat: error: latent_dim='abc' is not an integer; give a whole number >= 1"
    debug = subprocess.run(
        [AELAT, "--debug", "train", "latent_dim=abc", f"output_dir={out}"], capture_output=True, text=True, env=ENV
    )
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("aelat.errors.ConfigError: latent_dim='abc'")
    assert not out.exists()


# --- locking ---------------------------------------------------------------------------------


def launch(*args: str) -> subprocess.Popen:
    """An aelat process, imported and waiting for ``release``."""
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=ENV,
    )


def release(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()


def assert_complete_train(run_dir: Path, epochs: int) -> None:
    """model.pt loads, train_log.csv has every epoch, and run.json's checksums match the files."""
    load_checkpoint(run_dir / artifacts.MODEL, torch.device("cpu"))
    log = (run_dir / artifacts.TRAIN_LOG).read_text().splitlines()
    assert len(log) == epochs + 1, log
    outputs = json.loads((run_dir / artifacts.MANIFEST).read_text())["stages"]["train"]["outputs"]
    assert outputs == {name: artifacts.checksum(run_dir / name) for name in outputs}
    assert not (run_dir / LOCK).exists()


def test_same_run_twice_at_once_second_is_refused(tmp_path):
    out = tmp_path / "outputs"
    # seconds of training: the first still holds the run when the second starts
    args = ["train", "train.epochs=40", "latent_dim=4", f"output_dir={out}"]
    first, second = launch(*args), launch(*args)  # both import now, in parallel
    release(first)
    deadline = time.monotonic() + 120
    locks = []
    while not locks or not locks[0].read_text().strip():  # the first holds the lock (and wrote its pid)
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
        locks = list(out.glob(f"*/{LOCK}"))
    release(second)
    second_out, second_err = second.communicate(timeout=120)
    first_out, first_err = first.communicate(timeout=300)

    assert first.returncode == 0, first_err
    assert second.returncode == 1, second_err
    run_dir = locks[0].parent
    assert one_error_line(second_err) == (
        f"aelat: error: {run_dir} is in use by another aelat process (pid {first.pid}); "
        "wait for it or pass another output_dir"
    )
    assert_complete_train(run_dir, epochs=40)
    assert (out / "latest").resolve() == run_dir


def test_two_configurations_at_once_both_complete(tmp_path):
    out = tmp_path / "outputs"
    processes = [launch("train", *FAST, f"seed={seed}", f"output_dir={out}") for seed in (1, 2)]
    release(*processes)
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    runs = sorted(p for p in out.iterdir() if p.name != "latest")
    assert [p.name[:16] for p in runs] == ["digits-mlp-d4-s1", "digits-mlp-d4-s2"]
    for run_dir in runs:
        assert_complete_train(run_dir, epochs=3)
    assert (out / "latest").resolve() in runs
    assert sorted(p.name for p in out.iterdir()) == sorted([*(p.name for p in runs), "latest"])  # no .latest.<pid>


# --- SIGKILL ---------------------------------------------------------------------------------


def check_artifacts(run_dir: Path) -> None:
    """Every artifact run.json lists is whole: it loads as what it claims to be."""
    manifest = json.loads((run_dir / artifacts.MANIFEST).read_text())
    for stage, entry in manifest["stages"].items():
        for name in entry["outputs"]:
            path = run_dir / name
            assert path.is_file(), (stage, name)
            if name.endswith(".npz"):
                assert artifacts.read_npz(path)
            elif name == artifacts.MODEL:
                load_checkpoint(path, torch.device("cpu"))
            elif name.endswith(".json"):
                json.loads(path.read_text())
            elif name.endswith((".png", ".gif")):
                with Image.open(path) as image:
                    image.verify()
            elif name == artifacts.TRAIN_LOG:
                assert len(path.read_text().splitlines()) == 4  # header + 3 epochs
            elif name.endswith(".csv"):  # analyse's tables: a header and whole rows
                lines = [line.split(",") for line in path.read_text().splitlines()]
                assert len(lines) > 1 and {len(line) for line in lines} == {len(lines[0])}
            elif name.endswith(".md"):
                assert path.read_text().strip()
    OmegaConf.load(run_dir / artifacts.CONFIG)


def without_timings(log: Path) -> list[list[str]]:
    """train_log.csv without its last column (seconds)."""
    return [line.split(",")[:-1] for line in log.read_text().splitlines()]


def leftovers(folder: Path) -> set[str]:
    """Names a killed process may leave: atomic_path's ``.<name>.*`` temporaries, ``.latest.<pid>``, the lock."""
    return {p.name for p in folder.iterdir() if p.name.startswith(".") or p.name == LOCK}


def test_sigkill_at_any_moment_leaves_old_or_new_complete_artifacts(tmp_path):
    out = tmp_path / "outputs"
    args = [AELAT, "run", *FAST, *EVAL_FAST, "--method", "pca", "--of", "latent", f"output_dir={out}"]
    started = time.monotonic()
    first = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=300)
    duration = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    run_dir = (out / "latest").resolve()
    complete = {p.name: artifacts.checksum(p) for p in run_dir.iterdir() if p.name != artifacts.MANIFEST}
    check_artifacts(run_dir)
    weights = torch.load(run_dir / artifacts.MODEL, weights_only=True)["state_dict"]
    losses = without_timings(run_dir / artifacts.TRAIN_LOG)

    rng = random.Random(0)
    n = 6
    moments = [duration * (0.1 + 0.85 * (i + rng.random()) / n) for i in range(n)]  # one in each sixth
    for moment in moments:  # --force: re-run every stage over the complete run (else it is skipped)
        process = subprocess.Popen([*args, "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
                                   start_new_session=True)
        try:
            process.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        check_artifacts(run_dir)
        names = {p.name for p in run_dir.iterdir()}
        # the same config and seed: what a killed run had finished is byte-identical to the old
        changed = {name for name in names & complete.keys() if artifacts.checksum(run_dir / name) != complete[name]}
        # torch.save stamps each file with a random serialization id, the log holds timings: compare contents
        assert changed <= {"config.yaml", artifacts.MODEL, artifacts.TRAIN_LOG} | {n for n in complete if n.endswith(".png")}, (
            moment, changed
        )
        now = torch.load(run_dir / artifacts.MODEL, weights_only=True)["state_dict"]
        assert now.keys() == weights.keys() and all(torch.equal(now[k], weights[k]) for k in now)
        assert without_timings(run_dir / artifacts.TRAIN_LOG) == losses
        stray = names - complete.keys() - {artifacts.MANIFEST}
        assert stray <= leftovers(run_dir), (moment, stray)
        manifest = json.loads((run_dir / artifacts.MANIFEST).read_text())
        read = {name for entry in manifest["stages"].values() for name in entry["outputs"]}
        assert not stray & read, stray

    code, _, stderr = invoke(out, "run", *FAST, *EVAL_FAST, "--method", "pca", "--of", "latent")  # resumes
    assert code == 0, stderr
    check_artifacts(run_dir)
    assert not (run_dir / LOCK).exists()
    manifest = json.loads((run_dir / artifacts.MANIFEST).read_text())
    for entry in manifest["stages"].values():
        assert entry["outputs"] == {name: artifacts.checksum(run_dir / name) for name in entry["outputs"]}


# --- reproducibility ---------------------------------------------------------------------------


def test_same_config_and_seed_give_identical_arrays_and_metrics(tmp_path):
    """On CPU, with a t-SNE and a pca map (t-SNE single-threaded for speed: n_jobs=-1 was as reproducible,
    identical over 4 repeats of 1347 points, but ~8x slower on a busy 2-core machine)."""
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        code, _, stderr = invoke(
            out, "run", *FAST, *EVAL_FAST, "device=cpu", "embed.max_points=500", "embed.tsne.n_jobs=1",
            "--method", "tsne", "--method", "pca", "--of", "latent",
        )
        assert code == 0, stderr
        runs.append((out / "latest").resolve())
    a, b = runs
    for name in (artifacts.LATENTS, "embedding_tsne.npz", "embedding_pca.npz"):
        left, right = artifacts.read_npz(a / name), artifacts.read_npz(b / name)
        assert left.keys() == right.keys()
        for key in left:
            np.testing.assert_array_equal(left[key], right[key], err_msg=f"{name}:{key}")
    metrics = [json.loads((run / artifacts.METRICS).read_text()) for run in runs]
    for m in metrics:
        m["config"].pop("output_dir")  # the one thing that differs, by design
    assert metrics[0] == metrics[1]
