"""Trust: no stale or forged number, no file touched outside aelat's own, nothing half-written.

Each test builds on a small complete run (a 40 + 12 sample npz, pca maps of the latent and of the raw
input, evaluate with small samples), copied for every test, and checks one guarantee of
README "When things go wrong": changed data or inputs are stale at every stage, a report never pairs
a map with scores made before it, one-off settings never rewrite a run's config, forged cache entries
are computed again, a failed write (full disk, read-only folder) leaves run.json consistent with the
files, and aelat touches no file but its own.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from aelat import artifacts, score_cache
from aelat.cli import app
from aelat.locking import LOCK, run_lock
from aelat.stages import embed as embed_stage
from conftest import MAPS, write_npz

TINY = ["train.epochs=2", "train.batch_size=8", "model.hidden=[16]", "latent_dim=3"]
EVAL = ["evaluate.distribution.n_bootstrap=10", "evaluate.distribution.k=5", "evaluate.neighbourhood.sample_size=30"]


def cli(out: Path, *args: str):
    """The CLI in-process writing into ``out``: (exit code, stdout, stderr). ``report`` (which takes no
    overrides) gets ``--run out/latest``."""
    args = [*args, "--run", str(out / "latest")] if args[0] == "report" else [*args, f"output_dir={out}"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def error_line(stderr: str) -> str:
    """stderr's one error line (the last line; no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if line.startswith("aelat: error:")]
    assert len(lines) == 1 and stderr.strip().splitlines()[-1] == lines[0], stderr
    return lines[0]


def consistent(run_dir: Path) -> dict:
    """run.json records only files that are in the folder with its checksums; no temporary is left."""
    manifest = json.loads((run_dir / artifacts.MANIFEST).read_text())
    for stage, entry in manifest["stages"].items():
        for name, digest in entry["outputs"].items():
            assert artifacts.checksum(run_dir / name) == digest, (stage, name)
    assert not [p.name for p in run_dir.iterdir() if artifacts.is_temporary(p.name)]
    assert not (run_dir / LOCK).exists()
    return manifest


def complete_run(root: Path) -> tuple[Path, list[str]]:
    """Write root/data.npz and a complete run of it in root/outputs: (outputs, the overrides naming the run)."""
    args = ["dataset=npz", f"dataset.path={write_npz(root / 'data.npz')}", *TINY]
    out = root / "outputs"
    for command in (["run", *args, *EVAL, *MAPS], ["embed", "--method", "pca", "--of", "raw"], ["evaluate", *EVAL]):
        code, _, stderr = cli(out, *command)
        assert code == 0, stderr
    return out, args


@pytest.fixture(scope="module")
def complete(tmp_path_factory) -> tuple[Path, list[str]]:
    return complete_run(tmp_path_factory.mktemp("complete"))


@pytest.fixture
def copied(complete, tmp_path) -> tuple[Path, Path, list[str]]:
    """A copy of the complete run's outputs (the dataset stays where it is): (outputs, run folder, overrides)."""
    source, args = complete
    out = tmp_path / "outputs"
    shutil.copytree(source, out, symlinks=True)
    return out, (out / "latest").resolve(), args


# --- changed inputs are stale ------------------------------------------------------------------


def test_a_changed_dataset_makes_every_stage_stale(tmp_path):
    out, args = complete_run(tmp_path)
    run_dir = (out / "latest").resolve()
    manifest = consistent(run_dir)
    digests = {entry["dataset"] for entry in manifest["stages"].values()}
    assert len(digests) == 1 and None not in digests  # every stage recorded the same data

    other = np.random.default_rng(5).integers(0, 256, size=(40, 6, 6), dtype=np.uint8)
    write_npz(Path(args[1].split("=", 1)[1]), Xtr=other)  # same shape and labels, other images
    for command in (["evaluate"], ["embed", "--method", "pca"], ["report"], ["encode"]):
        code, _, stderr = cli(out, *command)
        assert code == 1, (command, stderr)
        line = error_line(stderr)
        assert "model.pt was made from other data" in line and "re-run `aelat train`" in line, line

    code, _, stderr = cli(out, "run", *args, *EVAL, *MAPS)  # not "complete for this config"
    assert code == 0, stderr
    assert "skip:" not in stderr
    after = consistent(run_dir)
    assert after["stages"]["train"]["dataset"] != manifest["stages"]["train"]["dataset"]


def test_encode_and_evaluate_notice_a_model_trained_again(copied, tmp_path):
    """model.pt made again with other weights (here: another seed's, recorded as train would record
    it): the latents and maps made from the old model are stale, though their own entries are intact."""
    out, run_dir, args = copied
    other = tmp_path / "other"
    assert cli(other, "train", *args, "seed=1")[0] == 0
    shutil.copy((other / "latest" / artifacts.MODEL), run_dir / artifacts.MODEL)
    manifest = json.loads((run_dir / artifacts.MANIFEST).read_text())
    manifest["stages"]["train"]["outputs"][artifacts.MODEL] = artifacts.checksum(run_dir / artifacts.MODEL)
    (run_dir / artifacts.MANIFEST).write_text(json.dumps(manifest))
    for command in (["evaluate"], ["embed", "--method", "pca"]):
        code, _, stderr = cli(out, *command)
        assert code == 1
        line = error_line(stderr)
        assert "latents.npz was made from an earlier model.pt" in line and "re-run `aelat encode`" in line, line
    code, _, stderr = cli(out, "run", *args, *EVAL, *MAPS)  # remakes every map the run holds, then evaluates
    assert code == 0, stderr
    assert "resume: " in stderr and "from encode" in stderr
    consistent(run_dir)


def test_report_refuses_scores_older_than_a_map_and_maps_it_did_not_score(copied):
    out, run_dir, _ = copied
    assert cli(out, "embed", "--method", "pca", "--of", "untrained")[0] == 0  # a map metrics.json does not score
    code, _, stderr = cli(out, "report")
    assert code == 1
    assert "does not score embedding_pca_untrained.npz, made after it; re-run `aelat evaluate`" in error_line(stderr)
    code, _, stderr = cli(out, "evaluate", *EVAL)
    assert code == 0, stderr
    scores = json.loads((run_dir / artifacts.METRICS).read_text())["representations"]
    assert {"pca(latent)", "pca(raw)", "pca(untrained)"} <= scores.keys()

    code, _, stderr = cli(out, "embed", "--method", "pca", "--of", "all", "embed.max_points=30")  # every map again
    assert code == 0, stderr
    code, _, stderr = cli(out, "report")
    assert code == 1
    line = error_line(stderr)
    assert "metrics.json was made from an earlier embedding_pca" in line and "re-run `aelat evaluate`" in line, line
    consistent(run_dir)


def test_report_checks_the_training_log(copied):
    out, run_dir, _ = copied
    log = run_dir / artifacts.TRAIN_LOG
    log.write_text(log.read_text().replace(",", ";"))
    code, _, stderr = cli(out, "report")
    assert code == 1
    assert "train_log.csv changed after `aelat train` wrote it; re-run `aelat train`" in error_line(stderr)


def test_report_checks_the_votes_and_clusters_it_shows(copied):
    """report.html shows evaluate's predictions.npz: a forged vote or cluster is refused, not drawn."""
    out, run_dir, _ = copied
    path = run_dir / artifacts.PREDICTIONS
    arrays = artifacts.read_npz(path)
    name = next(key for key in arrays if key.endswith(".gmm"))
    arrays[name] = (arrays[name] + 1) % arrays[name].max()
    with path.open("wb") as file:
        np.savez(file, **arrays)
    code, _, stderr = cli(out, "report")
    assert code == 1
    assert "predictions.npz changed after `aelat evaluate` wrote it; re-run `aelat evaluate`" in error_line(stderr)


@pytest.mark.parametrize("name", [artifacts.FINDINGS, "moments.npz"])
def test_run_redoes_a_stage_whose_other_outputs_were_changed(copied, name):
    """`aelat run` checks every file a stage recorded, not only the one it names: a forged findings.json
    (the report's) or moments.npz (evaluate's) is made again, never kept as complete."""
    out, run_dir, args = copied
    path = run_dir / name
    assert name in json.loads((run_dir / artifacts.MANIFEST).read_text())["stages"][
        "report" if name == artifacts.FINDINGS else "evaluate"]["outputs"]
    original = path.read_bytes()
    path.write_bytes(original + b" " if name == artifacts.FINDINGS else original[:-10])
    code, stdout, stderr = cli(out, "run", *args, *EVAL, *MAPS)
    assert code == 0, stderr
    assert "skip" not in stdout + stderr and "resume:" in stdout + stderr
    consistent(run_dir)
    assert path.read_bytes() == original  # made again, as it was


@pytest.mark.parametrize("name", [artifacts.MANIFEST, artifacts.CONFIG, artifacts.METRICS])
def test_a_fifo_in_place_of_a_run_file_is_refused_at_once(copied, name):
    """A named pipe where aelat's own file should be: `aelat report` and `aelat summarize` say so in one
    line or skip it, never wait for a writer."""
    import sys

    out, run_dir, _ = copied
    (run_dir / name).unlink()
    os.mkfifo(run_dir / name)
    command = [str(Path(sys.executable).with_name("aelat")), "report", "--run", str(run_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    if name != artifacts.METRICS:
        assert f"{name} is unreadable (not a regular file)" in error_line(done.stderr), done.stderr
    summary = subprocess.run([command[0], "summarize", str(out), "--out", str(out.parent / "summary")],
                             capture_output=True, text=True, timeout=120)
    assert "Traceback" not in summary.stderr and f"skipping {run_dir / artifacts.METRICS}" in summary.stderr


# --- one-off settings ----------------------------------------------------------------------------


def test_a_one_off_setting_never_rewrites_the_run_config(copied):
    out, run_dir, _ = copied
    config = (run_dir / artifacts.CONFIG).read_text()
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    code, _, stderr = cli(out, "embed", "--method", "pca", "--of", "latent", "embed.max_points=30")
    assert code == 1
    line = error_line(stderr)
    assert "embed.max_points=30 (was None) would leave embedding_pca_raw.npz" in line, line
    assert "`aelat embed --method pca --of all`" in line, line
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before
    assert (run_dir / artifacts.CONFIG).read_text() == config

    code, _, stderr = cli(out, "evaluate", *EVAL)  # the run is intact
    assert code == 0, stderr
    code, _, stderr = cli(out, "embed", "--method", "pca", "--of", "all", "embed.max_points=30")  # every map: allowed
    assert code == 0, stderr
    assert "max_points: 30" in (run_dir / artifacts.CONFIG).read_text()
    code, _, stderr = cli(out, "evaluate", *EVAL)
    assert code == 0, stderr
    consistent(run_dir)


def test_a_hand_edited_config_is_named_and_aelat_run_writes_it_again(copied):
    out, run_dir, args = copied
    config = run_dir / artifacts.CONFIG
    original = yaml.safe_load(config.read_text())
    edited = yaml.safe_load(config.read_text())
    edited["evaluate"]["distribution"]["k"] += 1
    config.write_text(yaml.safe_dump(edited))
    code, _, stderr = cli(out, "report")
    assert code == 1
    line = error_line(stderr)
    assert f"{config} was edited after aelat wrote it, so metrics.json no longer matches it: undo the edit" in line, line
    assert yaml.safe_load(config.read_text()) == edited  # aelat reads it, never changes it here

    code, _, stderr = cli(out, "run", *args, *EVAL, *MAPS)  # the run's own overrides: every stage is current
    assert code == 0, stderr
    assert "had been edited; wrote it again from this run's settings" in stderr and "skip: " in stderr
    assert yaml.safe_load(config.read_text()) == original | {"output_dir": str(out)}  # the copy's place
    code, _, stderr = cli(out, "report")
    assert code == 0, stderr
    consistent(run_dir)


def test_saved_config_never_resolves_interpolations(copied, monkeypatch):
    out, run_dir, _ = copied
    monkeypatch.setenv("AELAT_TEST_SECRET", "s3cr3t-value")
    config = run_dir / artifacts.CONFIG
    config.write_text(config.read_text().replace("seed: 0", "seed: ${oc.env:AELAT_TEST_SECRET}"))
    code, _, stderr = cli(out, "evaluate", *EVAL)
    assert code == 1
    line = error_line(stderr)
    assert "seed='${oc.env:AELAT_TEST_SECRET}', an interpolation" in line and "replace it with the plain value" in line
    assert "s3cr3t-value" not in (run_dir / artifacts.METRICS).read_text() + line


# --- the score cache -------------------------------------------------------------------------


def test_forged_or_moved_cache_entries_are_computed_again(copied, caplog):
    out, run_dir, _ = copied
    truth = json.loads((run_dir / artifacts.METRICS).read_text())["representations"]
    entries = sorted((out / score_cache.FOLDER).glob("*.json"))
    assert entries
    for entry in entries:  # every kNN accuracy, trustworthiness and N2D accuracy set to 0.999
        text = json.loads(entry.read_text())
        for block in (text["scores"], text["scores"].get("structure", {})):
            for key in block:
                if key.startswith(("knn_accuracy", "trustworthiness", "accuracy")):
                    block[key] = 0.999
        entry.write_text(json.dumps(text))
    entries[1].write_text(entries[0].read_text())  # and one entry copied over another's name
    code, _, stderr = cli(out, "evaluate", *EVAL)
    assert code == 0, stderr
    forged = [r.getMessage() for r in caplog.records if "does not match its key and content" in r.getMessage()]
    assert len(forged) == len(entries), forged
    again = json.loads((run_dir / artifacts.METRICS).read_text())["representations"]
    assert again == truth
    caplog.clear()
    code, _, stderr = cli(out, "evaluate", *EVAL)  # the recomputed entries are trusted again
    assert code == 0 and not caplog.records


@pytest.mark.parametrize("kind", ["file", "dangling-link"])
def test_an_unusable_cache_folder_turns_the_cache_off_with_one_warning(copied, kind, caplog):
    out, run_dir, _ = copied
    truth = json.loads((run_dir / artifacts.METRICS).read_text())["representations"]
    folder = out / score_cache.FOLDER
    shutil.rmtree(folder)
    if kind == "file":
        folder.write_text("not a folder")
    else:
        folder.symlink_to(out / "nowhere")
    code, _, stderr = cli(out, "evaluate", *EVAL)
    assert code == 0, stderr
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "score cache" in r.getMessage()]
    assert len(warnings) == 1 and "evaluating without it" in warnings[0], warnings
    assert json.loads((run_dir / artifacts.METRICS).read_text())["representations"] == truth
    assert folder.is_symlink() or folder.read_text() == "not a folder"


# --- maps ----------------------------------------------------------------------------------------


def test_a_map_of_nan_fails_in_one_line_and_records_nothing(copied, monkeypatch):
    out, run_dir, _ = copied
    before = {p.name: artifacts.checksum(p) for p in run_dir.iterdir()}

    def nan_map(train, test, seed, options=None, on_progress=None):
        return np.full((len(train), 2), np.nan, np.float32), np.full((len(test), 2), np.nan, np.float32)

    monkeypatch.setitem(embed_stage.EMBEDDERS, "pca", nan_map)
    # the map cache off: the run's real pca map of the latent is in it, and a hit never calls the embedder
    code, _, stderr = cli(out, "embed", "--method", "pca", "--of", "latent", "embed.cache=false")
    assert code == 1
    assert "the pca map of latent has coordinates that are NaN or infinite, so it was not recorded" in error_line(stderr)
    assert {p.name: artifacts.checksum(p) for p in run_dir.iterdir()} == before


def test_dollars_and_brackets_in_the_dataset_name_are_plain_text(tmp_path):
    """In figure titles ($...$ is not mathtext) and in the progress lines (rich markup would eat [b])."""
    data = write_npz(tmp_path / "a$x^{2}$_[b]_c.npz")
    out = tmp_path / "outputs"
    code, _, stderr = cli(out, "run", "dataset=npz", f"dataset.path='{data}'", *TINY, *EVAL, *MAPS)  # quoted for Hydra
    assert code == 0, stderr
    run_dir = (out / "latest").resolve()
    assert run_dir.name.startswith("a$x^{2}$_[b]_c.npz-mlp")
    assert f"train {run_dir.name}" in stderr
    assert (run_dir / "report_training.png").stat().st_size > 0


# --- the user's files ----------------------------------------------------------------------------


def test_the_lock_never_follows_a_link(copied, tmp_path):
    out, run_dir, _ = copied
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (run_dir / LOCK).symlink_to(victim)
    code, _, stderr = cli(out, "encode")
    assert code == 1
    assert "run.lock is a symbolic link, which aelat never follows; delete it" in error_line(stderr)
    (run_dir / LOCK).unlink()
    os.link(victim, run_dir / LOCK)  # a hard link: truncating it would truncate the victim
    code, _, stderr = cli(out, "encode")
    assert code == 1
    assert "run.lock is not aelat's lock file (a hard link); delete it" in error_line(stderr)
    assert victim.read_text() == "precious\n"


def test_clean_up_deletes_only_aelat_temporaries_and_only_in_a_run(copied, tmp_path):
    out, run_dir, _ = copied
    mine = {".notes.md": "notes", ".gitignore": "*", ".env": "KEY=1", ".latents.npz.backup": "x"}
    for name, text in mine.items():
        (run_dir / name).write_text(text)
    leftover = run_dir / f".{artifacts.LATENTS}{artifacts.TEMPORARY}abc12345"
    leftover.write_text("half")
    (run_dir / artifacts.MODEL).write_bytes(b"damaged")
    code, _, stderr = cli(out, "encode")  # fails after taking the lock
    assert code == 1 and "model.pt changed" in error_line(stderr)
    assert {name: (run_dir / name).read_text() for name in mine} == mine
    assert not leftover.exists()

    elsewhere = tmp_path / "not-a-run"
    elsewhere.mkdir()
    (elsewhere / leftover.name).write_text("someone else's")
    with run_lock(elsewhere):
        pass
    assert (elsewhere / leftover.name).read_text() == "someone else's"


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_latest_is_replaced_only_when_it_is_a_link(tmp_path, kind):
    out = tmp_path / "outputs"
    out.mkdir()
    latest = out / "latest"
    if kind == "folder":
        latest.mkdir()
        (latest / "mine.txt").write_text("mine")
    else:
        latest.write_text("mine")
    code, _, stderr = cli(out, "train", "dataset=npz", f"dataset.path={write_npz(tmp_path / 'd.npz')}", *TINY)
    assert code == 1
    line = error_line(stderr)
    assert f"latest is a {kind}, not the link aelat keeps" in line and "rename or move it" in line
    assert (latest / "mine.txt" if kind == "folder" else latest).read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["latest"]


# --- faults: nothing half-written --------------------------------------------------------------


def failing_write(monkeypatch, at: int, error: int) -> list[Path]:
    """Make the ``at``-th file aelat writes fail. With ENOSPC its temporary is a link to /dev/full, the
    kernel's full device, so the library writing it gets a real 'No space left on device'; with another
    errno, creating the temporary fails as a read-only folder makes it fail. Returns the files written."""
    made = []
    real, mkstemp = artifacts._temporary, tempfile.mkstemp

    def temporary(path: Path) -> Path:
        made.append(path)
        if len(made) != at or error != errno.ENOSPC:
            return real(path)
        tmp = path.parent / f".{path.name}{artifacts.TEMPORARY}devfull0"
        tmp.symlink_to("/dev/full")
        return tmp

    def failing_mkstemp(dir, prefix):
        if len(made) == at and error != errno.ENOSPC:
            raise OSError(error, os.strerror(error), os.path.join(dir, f"{prefix}abcd1234"))
        return mkstemp(dir=dir, prefix=prefix)

    monkeypatch.setattr(artifacts, "_temporary", temporary)
    monkeypatch.setattr(artifacts.tempfile, "mkstemp", failing_mkstemp)
    return made


def target(path: Path) -> str:
    """The name of the file a write makes: ``NAME`` for atomic_path's temporary ``.NAME<TEMPORARY>...``."""
    return path.name[1:].split(artifacts.TEMPORARY)[0] if artifacts.is_temporary(path.name) else path.name


def healthy_writes(monkeypatch, out: Path, command: list[str]) -> list[Path]:
    """The files ``command`` writes, in order, when no write fails."""
    writes = failing_write(monkeypatch, 0, errno.ENOSPC)
    assert cli(out, *command)[0] == 0
    monkeypatch.undo()
    return writes


def test_a_full_disk_at_any_write_leaves_run_json_consistent_with_the_files(copied, monkeypatch):
    """Each stage's command, with its k-th file write failing for every k that writes content: one line
    naming the file, and run.json consistent with the files; then the run is still complete.

    evaluate ends by writing the report, the files of `aelat report`, whose every write fails in turn
    below: under evaluate each write of its own files fails, and the first and last of the report's.
    """
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    out, run_dir, args = copied
    truth = json.loads((run_dir / artifacts.METRICS).read_text())["representations"]
    named = set()
    for command in (["train", *args], ["encode"], ["embed", *MAPS], ["evaluate", *EVAL], ["report"]):
        writes = healthy_writes(monkeypatch, out, command)
        # a stage's outputs are temporaries written through temporaries of their own: fail the inner ones
        content = [k for k, path in enumerate(writes, 1) if path.name != artifacts.LATEST
                   and not (k < len(writes) and writes[k].name.startswith(f".{path.name}{artifacts.TEMPORARY}"))]
        if command[0] == "evaluate":  # it ends writing the report (all but the link): fail the report's first and last
            report = healthy_writes(monkeypatch, out, ["report"])
            assert [target(p) for p in writes[-len(report) - 1:-1]] == [target(p) for p in report], (writes, report)
            in_report = [k for k in content if k >= len(writes) - len(report)]
            content = [k for k in content if k not in in_report[1:-1]]
        assert content, (command, writes)
        for at in content:
            failing_write(monkeypatch, at, errno.ENOSPC)
            code, _, stderr = cli(out, *command)
            monkeypatch.undo()
            assert code == 1, (command, at, stderr)
            line = error_line(stderr)
            assert "no space left on the device; free space there or choose another output_dir" in line, line
            path = Path(line.split("cannot write ", 1)[1].split(": ", 1)[0])
            assert path.parent == run_dir and not artifacts.is_temporary(path.name), line
            named.add(path.name)
            consistent(run_dir)
    assert named >= {artifacts.MODEL, artifacts.TRAIN_LOG, artifacts.CONFIG, artifacts.MANIFEST, artifacts.LATENTS,
                     "embedding_pca.npz", "embedding_pca.png", artifacts.METRICS, artifacts.MOMENTS, "report.md"}, named
    code, _, stderr = cli(out, "run", *args, *EVAL, *MAPS)
    assert code == 0 and "skip: " in stderr, stderr  # every stage is still recorded complete
    consistent(run_dir)
    assert json.loads((run_dir / artifacts.METRICS).read_text())["representations"] == truth


def test_a_read_only_folder_mid_run_names_the_write_that_failed(copied, monkeypatch):
    out, run_dir, args = copied
    made = failing_write(monkeypatch, 3, errno.EROFS)
    code, _, stderr = cli(out, "run", *args, *EVAL, *MAPS, "--force")
    assert code == 1
    line = error_line(stderr)
    assert f"cannot write {run_dir / artifacts.TRAIN_LOG}: read-only file system; choose a writable output_dir=DIR" \
        in line, (line, made)
    assert LOCK not in line
    consistent(run_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_really_full_file_system(tmp_path):
    """A 600 KiB tmpfs: the run fails where the disk fills, in one line, with run.json consistent."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mount -t tmpfs is not permitted here")
    try:
        data = write_npz(tmp_path / "data.npz")
        code, _, stderr = cli(mount, "run", "dataset=npz", f"dataset.path={data}", *TINY, *EVAL, "--of", "all")
        assert code == 1
        assert "no space left on the device" in error_line(stderr)
        run_dir = next(p for p in mount.iterdir() if p.is_dir() and not p.name.startswith("."))
        if (run_dir / artifacts.MANIFEST).exists():
            consistent(run_dir)
        assert not holders(mount, {os.getpid(), *children(os.getpid())}), "aelat left a file open in its output"
    finally:
        unmount(mount)


def holders(mount: Path, pids: set[int]) -> list[str]:
    """What the processes ``pids`` hold under ``mount``: open files, mapped files, working folders."""
    held = []
    for pid in pids:
        proc = Path("/proc", str(pid))
        try:
            links = [proc / "cwd", *(proc / "fd").iterdir()]
            mapped = [line.split()[-1] for line in (proc / "maps").read_text().splitlines()]
        except OSError:  # it ended meanwhile
            continue
        for link in links:
            try:
                mapped.append(os.readlink(link))
            except OSError:
                continue
        held += [f"{pid}: {path}" for path in mapped if path.startswith(str(mount))]
    return held


def children(pid: int) -> set[int]:
    """The processes started by ``pid`` and theirs."""
    found = set()
    for task in Path("/proc", str(pid), "task").glob("*"):
        try:
            found |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            continue
    return found.union(*(children(child) for child in found)) if found else found


def unmount(mount: Path) -> None:
    """Unmount ``mount``; while another process on this machine (not this test's) still uses it, wait
    a little, then detach it lazily (it is freed when that process lets go)."""
    for _ in range(20):
        if not subprocess.run(["umount", str(mount)], capture_output=True).returncode:
            return
        time.sleep(0.5)
    subprocess.run(["umount", "--lazy", str(mount)], check=True)
