"""Maps computed in worker processes (jobs): the same arrays and scores as in the process, results
recorded in order, an error raised once the others are recorded, and a killed worker reported in one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from joblib import Parallel, delayed
from aelat import artifacts
from aelat.background import Background, WorkerDied, keep_workers
from aelat.plots.drawing import Figures
from aelat.runtime import use_threads
from aelat.stages.embed import map_jobs
from conftest import FAST, children, cli, running

AELAT = Path(sys.executable).with_name("aelat")
# A short t-SNE on a sample: what is under test is where a map is computed, not the map.
TSNE_FAST = ["embed.max_points=400", "embed.tsne.n_iter=100", "embed.tsne.early_exaggeration_iter=50"]


def square(x):
    return x * x


def fails(x):
    raise ValueError(f"no value for {x}")


def dies(x):
    os.kill(os.getpid(), signal.SIGKILL)


def test_results_are_recorded_in_order_and_the_first_error_after_the_others():
    recorded = []
    with Background() as background:
        for x, function in ((2, square), (3, fails), (4, square), (5, fails)):
            background.submit(2, f"item {x}", recorded.append, function, x)
        with pytest.raises(ValueError, match="no value for 3"):
            background.finish()
    assert recorded == [4, 16]


def test_joblib_loky_parallel_still_works_beside_it():
    """The workers are the command's own: joblib's loky backend (Hydra's joblib launcher) keeps working."""
    recorded = []
    with Background() as background:
        background.submit(2, "item 6", recorded.append, square, 6)
        assert Parallel(n_jobs=2)(delayed(square)(x) for x in range(3)) == [0, 1, 4]
        background.finish()
    assert recorded == [36] and Parallel(n_jobs=2)(delayed(square)(x) for x in range(3)) == [0, 1, 4]


def worker_pids(jobs: int = 2) -> set[int]:
    """The processes of one command's ``jobs`` workers: the pids its tasks ran in, each worker taking one."""
    recorded = []
    with tempfile.TemporaryDirectory() as met, Background() as background:
        for _ in range(jobs):
            background.submit(jobs, "a pid", recorded.append, pid_once_all_met, met, jobs)
        background.finish()
    return set(recorded)


def pid_once_all_met(met: str, jobs: int) -> int:
    """This worker's pid, once ``jobs`` workers have signed in ``met`` (so that each takes one task)."""
    Path(met, str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(os.listdir(met)) < jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.getpid()


def test_commands_inside_keep_workers_share_their_workers_which_stop_at_its_end():
    first = worker_pids()
    assert first.isdisjoint(worker_pids())  # each command its own workers
    with keep_workers():
        kept = worker_pids()
        assert len(kept) == 2 and worker_pids() == kept and worker_pids() == kept
        assert worker_pids(jobs=1).isdisjoint(kept)  # another count: other workers
    assert not any(running(pid) for pid in kept | first)


def test_a_command_that_fails_inside_keep_workers_stops_them_and_the_next_starts_new_ones():
    with keep_workers():
        kept = worker_pids()
        with pytest.raises(ValueError, match="no value for 7"), Background() as background:
            background.submit(2, "item 7", print, fails, 7)
            background.finish()
        assert not any(running(pid) for pid in kept)
        again = worker_pids()
        assert len(again) == 2 and again.isdisjoint(kept)
        with pytest.raises(WorkerDied), Background() as background:  # a worker killed: a new set after it
            background.submit(2, "the tsne map of raw", print, dies, 0)
            background.finish()
        assert worker_pids().isdisjoint(again)


def test_a_kept_worker_that_died_while_idle_is_replaced():
    with keep_workers():
        victim = min(worker_pids())
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while running(victim) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # for loky to notice
        again = worker_pids()
        assert len(again) == 2 and victim not in again


def test_a_killed_worker_is_reported_with_what_it_computed():
    recorded = []
    with Background() as background:
        background.submit(2, "the tsne map of raw", recorded.append, dies, 1)
        died = r"the tsne map of raw was not computed: a worker process died \(SIGKILL\(-9\)\); run again, or with jobs=1"
        with pytest.raises(WorkerDied, match=died):
            background.finish()
    assert recorded == []


def leaves_a_temporary_then_dies(where: Path):
    import tempfile

    folder = tempfile.mkdtemp()
    Path(folder, "half.png").write_bytes(b"half")
    where.write_text(folder)
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_worker_leaves_no_temporary_files(tmp_path):
    where = tmp_path / "where"
    with Background() as background:
        background.submit(2, "a figure", print, leaves_a_temporary_then_dies, where)
        with pytest.raises(WorkerDied):
            background.finish()
        left = Path(where.read_text())
        assert left.is_dir()  # made by the worker, in the command's own folder
    assert not left.exists() and not left.parent.exists()
    assert left.parent.name.startswith("aelat-workers-")


def test_the_folder_of_a_killed_command_is_removed_by_the_next(tmp_path):
    killed = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = Path(tempfile.gettempdir()) / f"aelat-workers-{int(killed.stdout)}-left"  # its process has ended
    (gone / "aelat-figure-x").mkdir(parents=True)
    live = Path(tempfile.mkdtemp(prefix=f"aelat-workers-{os.getpid()}-"))  # a running command's: kept
    try:
        with Background() as background:
            background.submit(2, "item 7", print, square, 7)
            background.finish()
        assert not gone.exists() and live.is_dir()
    finally:
        shutil.rmtree(gone, ignore_errors=True)
        shutil.rmtree(live, ignore_errors=True)


def writes_its_process(label, path):
    Path(path).write_text(f"{label} {os.getpid()}")


def test_figures_drawn_in_workers_are_written_by_the_stage_to_its_outputs(tmp_path):
    outputs = artifacts.Outputs(tmp_path)
    with Background() as background:
        draw = Figures(outputs, background, jobs=2)
        draw("a.png", writes_its_process, "a")
        draw("b.png", writes_its_process, "b")
        assert outputs("a.png").read_text() == ""  # written by finish, here
        draw.finish()
    labels = [outputs(name).read_text().split() for name in ("a.png", "b.png")]
    assert [label for label, _ in labels] == ["a", "b"]
    assert all(int(pid) != os.getpid() for _, pid in labels)  # drawn in a worker
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(path.name for path in outputs.files.values())
    Figures(outputs)("c.png", writes_its_process, "c")  # no background: drawn here
    assert outputs("c.png").read_text() == f"c {os.getpid()}"


def test_auto_jobs_are_the_threads_one_map_leaves():
    threads = 4  # whatever the cores here (a test process may have one)
    try:
        use_threads(threads)
        assert map_jobs("auto", "tsne", {"n_jobs": 1}) == threads
        assert map_jobs("auto", "tsne", {"n_jobs": 2}) == 2
        assert map_jobs("auto", "tsne", {"n_jobs": threads}) == 1
        assert map_jobs("auto", "tsne", {"n_jobs": -1}) == 1
        assert map_jobs("auto", "umap", {}) == threads
        assert map_jobs(3, "tsne", {"n_jobs": threads}) == 3
    finally:
        use_threads(None)


def runs_of(out: Path) -> Path:
    return next(p for p in out.iterdir() if p.name.startswith("digits-"))


def maps_of(run: Path) -> dict:
    arrays = {}
    for path in sorted(run.glob("embedding_*.npz")):
        with np.load(path) as npz:
            arrays |= {f"{path.name}:{key}": npz[key] for key in npz.files}
    return arrays


def test_a_run_with_maps_in_workers_gives_the_numbers_of_a_run_without(tmp_path):
    """Workers (maps, scores computed before the maps, report figures) against none: the same maps, metrics
    and report, byte for byte."""
    together, apart = tmp_path / "workers", tmp_path / "in_process"
    done = cli(together, "run", *FAST, *TSNE_FAST, "jobs=2", "--method", "tsne", "--of", "all")
    assert done.stderr.count("computing in a worker process") == 4
    cli(apart, "run", *FAST, *TSNE_FAST, "jobs=1", "evaluate.cache=false", "--method", "tsne", "--of", "all")
    a, b = runs_of(together), runs_of(apart)
    maps = maps_of(a), maps_of(b)
    assert maps[0].keys() == maps[1].keys() and len(maps[0]) == 4 * 5
    for key in maps[0]:
        np.testing.assert_array_equal(maps[0][key], maps[1][key], err_msg=key)
    metrics = [json.loads((run / artifacts.METRICS).read_text()) for run in (a, b)]
    assert metrics[0]["representations"] == metrics[1]["representations"]
    assert metrics[0]["comparisons"] == metrics[1]["comparisons"]
    # the workers' maps went into the map cache like maps computed in the process
    assert len(list((together / ".cache" / "maps").glob("*.npz"))) == 4
    # the report's figures, drawn in the workers, are the bytes drawn in the process; so is the rest
    report = sorted(path.name for path in a.glob("report*"))
    assert "report_dynamics_maps.gif" in report and "report_latent_corner.png" in report
    assert report == sorted(path.name for path in b.glob("report*"))
    for name in report:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_killed_worker_ends_the_command_with_one_line_and_records_no_map(tmp_path):
    out = tmp_path / "outputs"
    cli(out, "train", *FAST)
    cli(out, "encode", *FAST)
    run = runs_of(out)
    before = json.loads((run / artifacts.MANIFEST).read_text())
    # a t-SNE long enough to be caught in the worker
    process = subprocess.Popen([AELAT, "embed", "--method", "tsne", "--of", "all", *FAST, "jobs=2",
                                "embed.tsne.n_iter=20000", f"output_dir={out}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        worker = wait_for_worker(process.pid, timeout=120)
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("aelat: error:")]
    assert len(errors) == 1 and "was not computed: a worker process died" in errors[0], stderr
    assert "SIGKILL" in errors[0] and "jobs=1" in errors[0]
    after = json.loads((run / artifacts.MANIFEST).read_text())
    assert after["stages"].keys() == before["stages"].keys()  # no map recorded, nothing else touched
    assert not list(run.glob("embedding_*"))


def test_a_killed_command_leaves_no_worker_computing(tmp_path):
    """SIGKILL an aelat command while its worker computes a long map: the worker ends within seconds
    instead of finishing a map no one will read."""
    out = tmp_path / "outputs"
    cli(out, "train", *FAST)
    cli(out, "encode", *FAST)
    process = subprocess.Popen([AELAT, "embed", "--method", "tsne", "--of", "all", *FAST, "jobs=2",
                                "embed.tsne.n_iter=20000", f"output_dir={out}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        worker = wait_for_worker(process.pid, timeout=120)
        process.kill()
        process.wait()
        deadline = time.monotonic() + 20
        while running(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(worker)
    finally:  # whatever happened, leave no process of this test behind (the workers share its group)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        for scratch in Path(tempfile.gettempdir()).glob(f"aelat-workers-{process.pid}-*"):  # the next command's to remove
            shutil.rmtree(scratch)


def wait_for_worker(parent: int, timeout: float) -> int:
    """The pid of a loky worker process under ``parent`` once one is computing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(parent):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"LokyProcess" in command:  # not its resource tracker
                time.sleep(3)  # past its start, into the map
                return child
        time.sleep(0.2)
    raise AssertionError("no worker process appeared")
