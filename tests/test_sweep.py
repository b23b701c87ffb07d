"""Multirun sweeps through Hydra's launchers: one folder per configuration, resume, failures named."""

from __future__ import annotations

import json

import pytest
from conftest import MAPS, SWEEP_FAST, children, running


def run_folders(out):
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))


def reported(out):
    """Run folders whose manifest records the report: the last stage of a configuration."""
    folders = []
    for manifest in out.glob("*/run.json"):
        if manifest.parent.is_symlink():  # outputs/latest
            continue
        if "report" in json.loads(manifest.read_text())["stages"]:  # run.json is replaced whole, never half-written
            folders.append(manifest.parent)
    return folders


def mtimes(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/model.pt") if not p.parent.is_symlink()}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished basic-launcher sweep latent_dim=2,4 x seed=0,1, shared by the resume tests."""
    from typer.testing import CliRunner

    from aelat.cli import app

    out = tmp_path_factory.mktemp("sweep") / "outputs"

    def invoke(*args):
        result = CliRunner().invoke(app, [*args, f"output_dir={out}"], catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    code, stdout, stderr = invoke("run", "-m", *MAPS, *SWEEP_FAST, "latent_dim=2,4", "seed=0,1")
    assert code == 0, stderr
    return out, invoke, stdout


def test_basic_sweep_makes_one_run_folder_per_configuration(swept):
    out, _, stdout = swept
    folders = run_folders(out)
    assert len(folders) == 4, folders
    assert {f.split("-s")[0] for f in folders} == {"digits-mlp-d2", "digits-mlp-d4"}
    assert all((out / f / "metrics.json").is_file() and (out / f / "embedding_pca.npz").is_file() for f in folders)
    assert stdout.count("done: ") == 4 and "4 done, 0 skipped, 0 failed" in stdout
    # Hydra's folders stay under output_dir: one per sweep, one per job inside
    jobs = list((out / ".multirun").glob("*/*/[0-9]"))
    assert len(jobs) == 4 and all((job / "aelat_status.json").is_file() for job in jobs)


def test_rerunning_a_finished_sweep_skips_every_configuration(swept):
    out, invoke, _ = swept
    before = mtimes(out)
    code, stdout, stderr = invoke("run", "-m", *MAPS, *SWEEP_FAST, "latent_dim=2,4", "seed=0,1")
    assert code == 0, stderr
    assert stdout.count("skipped: ") == 4 and "0 done, 4 skipped" in stdout, stdout
    assert mtimes(out) == before


def test_a_missing_metrics_json_reruns_only_that_configuration(swept):
    out, invoke, _ = swept
    target = next(f for f in run_folders(out) if f.startswith("digits-mlp-d4-s1-"))
    (out / target / "metrics.json").unlink()
    before = mtimes(out)
    code, stdout, stderr = invoke("run", "-m", *MAPS, *SWEEP_FAST, "latent_dim=2,4", "seed=0,1")
    assert code == 0, stderr
    assert "1 done, 3 skipped" in stdout and f"done: {target}" in stdout, stdout
    assert (out / target / "metrics.json").is_file()
    assert mtimes(out) == before  # only evaluate ran again: the model was kept
    assert f"resume: {target} from evaluate" in stderr


def test_single_run_of_a_complete_configuration_is_skipped_and_force_reruns_it(swept):
    out, invoke, _ = swept
    code, _, stderr = invoke("run", *MAPS, *SWEEP_FAST, "latent_dim=2", "seed=0")
    assert code == 0 and "skip: digits-mlp-d2-s0-" in stderr, stderr
    name = next(f for f in run_folders(out) if f.startswith("digits-mlp-d2-s0-"))
    before = (out / name / "model.pt").stat().st_mtime_ns
    code, _, stderr = invoke("train", "-m", "--force", *SWEEP_FAST, "latent_dim=2", "seed=0")
    assert code == 0, stderr
    assert (out / name / "model.pt").stat().st_mtime_ns > before


def test_a_failing_configuration_is_named_and_the_others_complete(swept):
    out, invoke, _ = swept
    code, stdout, stderr = invoke("run", "-m", *MAPS, "train.epochs=2", "evaluate.distribution.n_bootstrap=20",
                                  "model.hidden=[32],[0]", "latent_dim=2", "seed=5")
    assert code == 1
    assert "failed: [model.hidden=[0]]: model.hidden entries=0 is too small" in stdout, stdout
    assert "done: digits-mlp-d2-s5-" in stdout and "1 done, 0 skipped, 1 failed" in stdout
    assert "1 of 2 configurations failed: [model.hidden=[0]]" in stderr and "Traceback" not in stderr
    assert any(f.startswith("digits-mlp-d2-s5-") for f in run_folders(out))


def test_killed_sweep_resumes_with_only_the_rest(tmp_path):
    """SIGKILL a sweep once some configurations are complete; re-running it completes only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    out = tmp_path / "outputs"
    command = [str(Path(sys.executable).with_name("aelat")), "run", "-m", *MAPS, *SWEEP_FAST, "latent_dim=2,3,4",
               f"output_dir={out}"]
    sweep = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not reported(out) and sweep.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    complete = {path.name: (path / "model.pt").stat().st_mtime_ns for path in reported(out)}
    assert 1 <= len(complete) < 3, complete

    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(complete)} skipped" in done.stdout and f"{3 - len(complete)} done" in done.stdout, done.stdout
    assert len(reported(out)) == 3
    for name, mtime in complete.items():  # the finished configurations were not touched again
        assert (out / name / "model.pt").stat().st_mtime_ns == mtime


def test_submitit_local_launcher_runs_without_a_cluster(aelat, out):
    code, stdout, stderr = aelat("run", "-m", *MAPS, *SWEEP_FAST, "latent_dim=2", "seed=0,1",
                                 "hydra/launcher=submitit_local")
    assert code == 0, stdout + stderr
    assert "2 done" in stdout and len(run_folders(out)) == 2
    statuses = [json.loads(p.read_text()) for p in (out / ".multirun").glob("*/*/*/aelat_status.json")]
    assert sorted(s["overrides"][0] for s in statuses) == ["seed=0", "seed=1"]


def test_a_bad_sweep_override_is_one_error_line(aelat):
    code, _, stderr = aelat("run", "-m", "dataset=imagenet,digits")
    assert code == 1 and "aelat: error:" in stderr


def test_killing_a_joblib_sweep_ends_its_workers(tmp_path):
    """SIGKILL the aelat process of a joblib sweep while both jobs train: its workers end too, within
    seconds, instead of training on and writing into the run folders."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    out = tmp_path / "outputs"
    command = [str(Path(sys.executable).with_name("aelat")), "run", "-m", *MAPS, *SWEEP_FAST, "train.epochs=5000",
               "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"output_dir={out}"]
    sweep = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(list(out.glob("*/run.lock"))) < 2:  # both jobs hold their run: they are training
            assert sweep.poll() is None and time.monotonic() < deadline, "the sweep ended before both jobs started"
            time.sleep(0.2)
        workers = [pid for pid in children(sweep.pid) if running(pid)]
        assert len(workers) >= 2, workers
        sweep.kill()
        sweep.wait()
        deadline = time.monotonic() + 30
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if running(pid)]
        assert not list(out.glob("*/model.pt"))  # they stopped mid-training: nothing was recorded
    finally:  # whatever happened, leave no process of this test behind (workers share the sweep's group)
        try:
            os.killpg(sweep.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        sweep.wait()


def test_a_sweep_over_dataset_files_runs_each(aelat, out, tmp_path):
    """dataset=npz needs dataset.path to compose: swept, its first value stands in for the shared check."""
    from conftest import write_npz

    first, second = write_npz(tmp_path / "first.npz"), write_npz(tmp_path / "second.npz", n_train=48)
    code, stdout, stderr = aelat("train", "-m", "dataset=npz", f"dataset.path={first},{second}", "train.epochs=1",
                                 "train.batch_size=8", "model.hidden=[8]", "latent_dim=2", "train.snapshots=[]")
    assert code == 0, stderr
    assert "2 done, 0 skipped, 0 failed" in stdout, stdout
    assert sorted(p.name.split("-")[0] for p in out.iterdir() if p.name.endswith(tuple("0123456789abcdef"))
                  and (p / "model.pt").is_file()) == ["first.npz", "second.npz"]
