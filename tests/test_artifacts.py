import json
import subprocess
import sys

import numpy as np
import pytest
import sklearn
import torch

from aelat import artifacts
from aelat.artifacts import Run
from aelat.config import compose
from aelat.data import dataset_digest
from aelat.errors import ArtifactError, StaleArtifactError


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "a.json"
    artifacts.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp file left behind


def test_npz_round_trip_and_corrupt_file(tmp_path):
    artifacts.write_npz(tmp_path / "x.npz", a=np.arange(5), names=np.array(["x", "y"]))
    back = artifacts.read_npz(tmp_path / "x.npz")
    assert back["a"].tolist() == [0, 1, 2, 3, 4] and back["names"].tolist() == ["x", "y"]
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04broken")
    with pytest.raises(ArtifactError, match="is unreadable"):
        artifacts.read_npz(tmp_path / "bad.npz")


def record(run: Run, stage: str, outputs: dict[str, str], inputs: dict[str, str] | None = None) -> None:
    """Record ``stage`` as having written ``outputs`` (name -> text)."""
    with run.making(stage, inputs or {}, started=0.0) as out:
        for name, text in outputs.items():
            out(name).write_text(text)


def test_manifest_detects_missing_stale_and_changed(tmp_path):
    cfg = compose([f"output_dir={tmp_path}"])
    run = Run(tmp_path / "r", cfg, dataset_digest)
    with pytest.raises(ArtifactError, match="model.pt is missing; make it with `aelat train`"):
        run.require("train", artifacts.MODEL)
    record(run, "train", {artifacts.MODEL: "weights"})
    digest = run.require("train", artifacts.MODEL)[artifacts.MODEL]
    assert digest == artifacts.checksum(run.file(artifacts.MODEL))
    manifest = json.loads(run.file(artifacts.MANIFEST).read_text())
    assert set(manifest["versions"]) >= {"python", "torch", "numpy", "scikit-learn", "openTSNE", "aelat_git"}
    assert manifest["stages"]["train"]["dataset"] == dataset_digest(cfg.dataset) is not None

    stale = Run(run.path, compose([f"output_dir={tmp_path}", "train.lr=0.5"]), dataset_digest)
    with pytest.raises(StaleArtifactError, match="was made under another config"):
        stale.require("train", artifacts.MODEL)
    run.file(artifacts.MODEL).write_text("tampered")
    with pytest.raises(ArtifactError, match="changed after `aelat train` wrote it"):
        run.require("train", artifacts.MODEL)


def test_latest_points_at_the_newest_run(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        artifacts.mark_latest(tmp_path / name)
    assert artifacts.latest_run(tmp_path) == (tmp_path / "b").resolve()
    with pytest.raises(ArtifactError, match="no run in .* yet"):
        artifacts.latest_run(tmp_path / "empty")


def test_versions_name_the_installed_builds_without_importing_torch():
    probe = "import sys; from aelat.artifacts import versions; v = versions(); print(v['torch'], 'torch' in sys.modules)"
    torch_version, imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                             check=True).stdout.split()
    assert torch_version == torch.__version__ and imported == "False"
    assert artifacts.versions()["scikit-learn"] == sklearn.__version__
