"""The installed package: a wheel in a fresh virtual environment runs the pipeline from any folder.

The editable install of the test environment hides a file missing from the package data, so this
builds the wheel from a copy of the sources and installs it where nothing else provides aelat.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from aelat import __version__, artifacts

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_in_a_fresh_venv_runs_from_a_user_folder(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(source)], check=True)
    wheel = next(dist.glob("aelat-*.whl"))

    # The user's own project, a git repository, with a fresh venv that reuses this environment's
    # libraries (torch, ...) through a .pth line: `venv --system-site-packages` would reach the base
    # interpreter, which has none of them. That folder holds no aelat: only its editable-install hook,
    # which a .pth-added folder does not run.
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "--quiet", str(project)], check=True)
    venv = project / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "reuse_test_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)

    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "AELAT_CONFIG_DIR")}
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    work = project / "analysis"
    work.mkdir()

    def aelat(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([venv / "bin" / "aelat", *args], cwd=work, env=env, capture_output=True, text=True)

    located = subprocess.run([python, "-c", "import aelat; print(aelat.__file__)"], cwd=work, env=env,
                             capture_output=True, text=True, check=True).stdout
    assert located.startswith(str(venv)), located
    assert aelat("--help").returncode == 0
    assert aelat("--version").stdout.strip() == f"aelat {__version__}"
    result = aelat("run", "train.epochs=1", "model.hidden=[16]", "latent_dim=2", "--method", "pca", "--of", "latent",
                   "evaluate.distribution.n_bootstrap=10", "evaluate.neighbourhood.sample_size=100")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((work / "outputs" / "latest" / artifacts.METRICS).read_text())
    assert metrics["representations"]["latent"]["dim"] == 2
    versions = metrics["versions"]
    assert "aelat_git" not in versions, "an installed aelat recorded the user's repository's commit"
    assert versions["aelat"] == __version__ and versions["aelat_source"] == artifacts.source_digest()


def test_a_checkout_records_its_commit():
    if not (ROOT / ".git").exists():
        pytest.skip("the sources are not a git checkout")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert artifacts.versions()["aelat_git"] == head
