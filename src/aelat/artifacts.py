"""The contract between stages: run folders, artifact names and keys, the manifest, atomic writes.

A run folder holds one configuration's artifacts::

    outputs/<dataset>-<model>-d<latent_dim>-s<seed>-<hash>/
        config.yaml            resolved config (written by every stage that changes it)
        run.json               manifest: per stage, config hash, upstream checksums, outputs' checksums, timing
        model.pt               train: {"state_dict", "model" (name + config), "sample_shape", "latent_dim", ...}
        train_log.csv          train: epoch, train_loss, test_loss (the objective), test_recon_mse, seconds
        snapshots.npz          train (unless train.snapshots=[]): the codes of a fixed seeded sample at each snapshot
                               epoch: epochs (int64, (s,), ascending; 0 = untrained), train_index, test_index (int64:
                               rows of the train and test sets), y_train, y_test (int64, their labels), train, test
                               (float32, (s, n, latent_dim): codes; a VAE's posterior mean), recon_mse (float64, (s,):
                               per-pixel reconstruction MSE of the sample's test points)
        checkpoint.pt          train, while it runs: every train.checkpoint_every epochs {"train_hash", "epoch",
                               "rows", "snapshots", "model", "optimizer", "order_rng", "torch_rng", "cuda_rng"}; an
                               interrupted `aelat train` resumes from it; removed once model.pt is recorded
        latents.npz            encode: per representation <key>_train, <key>_test (float32, (n, d)),
                               y_train, y_test (int64), class_names (str), recon_mse_<rep> (float64 scalars),
                               examples_index (int64, test rows), examples_input and examples_<pca|untrained|latent>
                               (float32, (m, *sample_shape): those rows and their reconstructions);
                               for a VAE also z_logvar_train, z_logvar_test (posterior log-variance; z_* is its mean);
                               pca_components (float32, (k, D)) and pca_mean (float32, (D,)): pca = (raw - mean) @ components.T
        embedding_<method>.npz embed: map of the latent: train, test (float32, (n, 2)), y_train, y_test,
                               train_index (int64: rows of the train set the map was fitted on)
        embedding_<method>.png embed: scatter coloured by class
        embedding_<method>_<source>.npz/.png   the same for a baseline (raw, pca, untrained)
        metrics.json           evaluate: representation -> metric -> value, and the config
        moments.npz            evaluate: per representation <rep>.classes, <rep>.counts (int64), <rep>.means (k, d),
                               <rep>.covariances (k, d, d), <rep>.mean (d,), <rep>.covariance (d, d) (float32)
        dynamics.csv           analyse (with snapshots.npz): one row per representation and epoch on the sample:
                               representation (raw, pca, untrained: baselines, epoch empty; latent: one row per
                               snapshot epoch), epoch, knn_accuracy (kNN@analyse.profile.knn_k, train -> test
                               sample), probe_accuracy, between_class_variance_share, sw_between_classes (mean normalised
                               sliced W2 between classes), twonn_dimension, gmm_nmi, recon_mse (test sample)
        dynamics_maps.npz      analyse (with snapshots.npz): aligned 2-D maps of every snapshot: epochs (int64, (s,)),
                               train, test (float32, (s, n, 2)), y_train, y_test (int64)
        layers.csv             analyse: one row per encoder (trained, untrained) and layer (0 = raw input, last =
                               latent): encoder, layer, name, dim, twonn_dimension, knn_accuracy,
                               between_class_variance_share, sw_between_classes, sw_to_next (normalised sliced W2 to
                               the next layer's distribution; empty on the last)
        geometry.csv           analyse: the Jacobian of g at analyse.geometry_points sample points, one row per encoder
                               (trained, untrained, pca) and class (and "all"): encoder, class, n, log_volume (mean of
                               sum log sigma_i over the latent_dim largest), stretch_same, stretch_other (geometric
                               means of |J u| towards the nearest same-class / other-class neighbour), stretch_ratio
                               (other / same) with its 95% interval stretch_ratio_low, stretch_ratio_high
        geometry.npz           analyse: per encoder <encoder>.singular_values (float64, (n, r), descending),
                               <encoder>.log_volume, <encoder>.stretch_same, <encoder>.stretch_other (float64, (n,));
                               y (int64, (n,)), index (int64: train rows of the points)
        holes.json             analyse, model=vae: share of N(0, I) draws farther from every encoded train point than
                               the hole_quantile of the encoded points' nearest-neighbour distances, its 95% interval,
                               the threshold, the held-out test codes' share beyond it, sample sizes, dim; "active":
                               the same in the active_dimensions (mean posterior variance < active_variance)
        holes.npz              analyse, model=vae: hole_decodings, covered_decodings (float32, (m, *sample_shape)):
                               decoded prior draws from holes and from covered regions
    outputs/latest -> the newest run folder
    outputs/.cache/scores/<hash>.json  evaluate's scores of one representation, keyed by its content,
                               settings and code (see aelat.score_cache); shared by the runs in outputs/
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import re
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from omegaconf import DictConfig, OmegaConf

from aelat import __version__
from aelat.config import config_hash
from aelat.errors import ArtifactError, StaleArtifactError

CONFIG = "config.yaml"
MANIFEST = "run.json"
MODEL = "model.pt"
CHECKPOINT = "checkpoint.pt"
TRAIN_LOG = "train_log.csv"
LATENTS = "latents.npz"
METRICS = "metrics.json"
MOMENTS = "moments.npz"
SNAPSHOTS = "snapshots.npz"
DYNAMICS = "dynamics.csv"
DYNAMICS_MAPS = "dynamics_maps.npz"
LAYERS = "layers.csv"
GEOMETRY = "geometry.csv"
GEOMETRY_ARRAYS = "geometry.npz"
HOLES = "holes.json"
HOLES_ARRAYS = "holes.npz"
LATEST = "latest"

_UMASK = os.umask(0)
os.umask(_UMASK)

# Representations the encode stage writes, and the key prefix of each in latents.npz.
REPRESENTATIONS = {"raw": "raw", "pca": "pca", "untrained": "untrained", "latent": "z"}


def maker(stage: str) -> str:
    """The command that makes a stage's artifacts, for "missing" and "stale" messages."""
    group, *detail = stage.split(":")
    if group == "embed":
        return f"aelat embed --method {detail[0]}" + (f" --of {detail[1]}" if len(detail) > 1 else "")
    return f"aelat {group}"


def embedding_stem(method: str, source: str = "latent") -> str:
    """``embedding_<method>`` for the latent's map, ``embedding_<method>_<source>`` for a baseline's."""
    return f"embedding_{method}" if source == "latent" else f"embedding_{method}_{source}"


def embedding_stage(method: str, source: str = "latent") -> str:
    """The manifest entry of a map: ``embed:<method>`` or ``embed:<method>:<source>``."""
    return f"embed:{method}" if source == "latent" else f"embed:{method}:{source}"


def run_name(cfg: DictConfig) -> str:
    """Readable, deterministic folder name: dataset, model, latent size, seed, hash of what training read."""
    dataset = cfg.dataset.name if cfg.dataset.name != "npz" else Path(cfg.dataset.path).name
    return f"{dataset}-{cfg.model.name}-d{cfg.latent_dim}-s{cfg.seed}-{config_hash(cfg, 'train')}"


def run_dir_for(cfg: DictConfig) -> Path:
    return Path(cfg.output_dir) / run_name(cfg)


def latest_run(output_dir: str | Path) -> Path:
    """The run folder ``outputs/latest`` points at."""
    link = Path(output_dir) / LATEST
    if not link.exists():
        raise ArtifactError(f"no run in {output_dir} yet; start one with `aelat train` or `aelat run`")
    return link.resolve()


def mark_latest(run_dir: Path) -> None:
    """Point ``<output_dir>/latest`` at ``run_dir`` (atomically, via a temporary symlink)."""
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(tmp, link)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder; on success it replaces ``path`` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give artifacts the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def read_npz(path: Path, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Load the arrays ``keys`` (default: all) of an .npz artifact; a damaged file is an ArtifactError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in (data.files if keys is None else keys)}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{path} is unreadable ({exc}); delete it and re-run the stage that makes it") from None


def checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of what produced a run: python, the numeric libraries, aelat and its git commit."""
    import openTSNE
    import sklearn

    return {
        "python": platform.python_version(),
        "torch": _torch_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "openTSNE": openTSNE.__version__,
        "aelat": __version__,
        "aelat_git": _git_commit(),
    }


def _torch_version() -> str:
    """``torch.__version__`` (with its build label, e.g. +cu130) read from torch/version.py: importing
    torch takes ~2 s, which embed and evaluate would otherwise spend only on this string."""
    origin = importlib.util.find_spec("torch").origin
    found = re.search(r"^__version__ = '([^']+)'", (Path(origin).parent / "version.py").read_text(), re.MULTILINE)
    return found.group(1) if found else importlib.import_module("torch").__version__


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


class Run:
    """A run folder and its manifest: what each stage read and wrote."""

    def __init__(self, path: Path, cfg: DictConfig):
        self.path = Path(path)
        self.cfg = cfg

    def file(self, name: str) -> Path:
        return self.path / name

    def manifest(self) -> dict:
        path = self.file(MANIFEST)
        if not path.exists():
            return {"stages": {}}
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            raise ArtifactError(f"{path} is corrupt; delete the run folder and re-run `aelat run`") from None

    def save_config(self) -> None:
        write_text(self.file(CONFIG), OmegaConf.to_yaml(self.cfg, resolve=True))

    def record(self, stage: str, outputs: list[str], inputs: dict[str, str], seconds: float) -> None:
        """Record a finished stage: its config hash, the checksums it read and wrote, its timing."""
        manifest = self.manifest()
        manifest["stages"][stage] = {
            "config_hash": config_hash(self.cfg, stage),
            "inputs": inputs,
            "outputs": {name: checksum(self.file(name)) for name in outputs},
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        manifest["versions"] = versions()
        write_json(self.file(MANIFEST), manifest)

    def require(self, stage: str, name: str) -> dict[str, str]:
        """Check that ``stage`` made ``name`` under the current config and that it is intact.

        Returns ``{name: checksum}`` for the reading stage to record as its input.
        """
        command = maker(stage)
        entry = self.manifest()["stages"].get(stage)
        path = self.file(name)
        if entry is None or not path.exists():
            raise ArtifactError(f"{path} is missing; make it with `{command}` for this run")
        if entry["config_hash"] != config_hash(self.cfg, stage):
            raise StaleArtifactError(
                f"{path} was made under another config; re-run `{command}` with the same overrides"
            )
        digest = checksum(path)
        if entry["outputs"].get(name) != digest:
            raise ArtifactError(f"{path} changed after `{command}` wrote it; re-run `{command}`")
        return {name: digest}
