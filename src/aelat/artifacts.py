"""The contract between stages: run folders, artifact names and keys, the manifest, atomic writes.

A run folder holds one configuration's artifacts::

    outputs/<dataset>-<model>-d<latent_dim>-s<seed>-<hash>/
        config.yaml            resolved config (written with every stage's outputs; never with interpolations)
        run.json               manifest: per stage, config hash, the dataset's digest, the checksums of its inputs
                               and outputs, timing, environment (CPU, thread pools, torch device:
                               artifacts.environment) (see Run); versions; config_checksums (config.yaml's
                               SHA-256 as aelat wrote it: another one means it was edited by hand)
        model.pt               train: {"state_dict", "model" (name + config), "sample_shape", "latent_dim",
                               "unit_range" (decoder ends in a sigmoid), ...}
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
                               `aelat score FILE` (model external, no model.pt or train_log.csv): z_*, y_*, class_names
                               from FILE; raw_*, pca_* (also pca_components, pca_mean), recon_mse_raw, recon_mse_pca
                               only with --raw; no examples_*
        embedding_<method>.npz embed: map of the latent: train, test (float32, (n, 2)), y_train, y_test,
                               train_index (int64: rows of the train set the map was fitted on)
        embedding_<method>.png embed: scatter coloured by class
        embedding_<method>_<source>.npz/.png   the same for a baseline (raw, pca, untrained)
        metrics.json           evaluate: "representations": representation -> metric -> value (a test accuracy
                               <metric> has its 95% interval beside it as <metric>_ci = [low, high]; clustering
                               keys hold the mean over evaluate.clustering.n_seeds seeds, <key>_sd the spread,
                               clustering_runs the per-seed values; distribution's gaussianity (mmd2, mmd2_se,
                               p_value, p_floor, ...: metrics.distribution.gaussianity_mmd), sliced_wasserstein
                               (matrix, matrix_se, mean, mean_se), intrinsic_dimension (mle is MacKay-Ghahramani,
                               mle_levina_bickel the mean of per-point estimates; mle_variant));
                               "comparisons": "<a> vs <b>" -> {"a", "b", "points", "metrics": metric ->
                               {"a", "b", "difference", "ci_low", "ci_high", "p_value", "test", ...}};
                               "data": sizes and class counts; "config"; "versions" (with the environment)
        predictions.npz        evaluate: what the comparisons (and report.html's votes and clusters) are made
                               of, per representation:
                               <rep>.knn_accuracy_<k>, <rep>.probe_accuracy (int64, (n_test,): predicted labels),
                               <rep>.kmeans, <rep>.gmm (int, (n_seeds, n_points): each seed's clusters of train
                               then test points), <rep>.n2d (the same, for the representations of evaluate.n2d.of)
        findings.json          report: one object per claim of report.md's Findings (see aelat.findings)
        moments.npz            evaluate: per representation <rep>.classes, <rep>.counts (int64), <rep>.means (k, d),
                               <rep>.covariances (k, d, d), <rep>.mean (d,), <rep>.covariance (d, d) (float32)
        dynamics.csv           analyse (with snapshots.npz): one row per representation and epoch on the sample:
                               representation (raw, pca, untrained: baselines, epoch empty; latent: one row per
                               snapshot epoch), epoch, knn_accuracy (kNN@analyse.profile.knn_k, train -> test
                               sample), probe_accuracy, between_class_variance_share, sw_between_classes (mean normalised
                               sliced W2 between classes), twonn_dimension, gmm_nmi, recon_mse (test sample)
        dynamics_maps.npz      analyse (with snapshots.npz): aligned 2-D maps of every snapshot: epochs (int64, (s,)),
                               train, test (float32, (s, n, 2)), y_train, y_test (int64)
        dynamics_points.npz    analyse (with snapshots.npz): per snapshot the sample's per-point evidence for paired
                               comparisons of two epochs: epochs (int64, (s,)), knn_correct (bool, (s, n_test)),
                               share_influence (float64, (s, n): influence on the between-class variance share)
        layers.csv             analyse: one row per encoder (trained, untrained) and layer (0 = raw input, last =
                               latent): encoder, layer, name, dim, knn_accuracy, between_class_variance_share,
                               sw_between_classes, twonn_dimension with its interval twonn_dimension_low,
                               twonn_dimension_high (95 %), sw_to_next (normalised sliced W2 to
                               the next layer's distribution; empty on the last)
        layers_points.npz      analyse: knn_correct, share_influence as in dynamics_points.npz, one row per row of
                               layers.csv
        geometry.csv           analyse: the Jacobian of g at analyse.geometry_points sample points, one row per encoder
                               (trained, untrained, pca) and class (and "all"): encoder, class, n, log_volume (mean of
                               sum log sigma_i over the latent_dim largest), stretch_same, stretch_other (geometric
                               means of |J u| towards the nearest same-class / other-class neighbour), stretch_ratio
                               (other / same) with its 95% interval stretch_ratio_low, stretch_ratio_high
        geometry.npz           analyse: per encoder <encoder>.singular_values (float64, (n, r), descending),
                               <encoder>.log_volume, <encoder>.stretch_same, <encoder>.stretch_other (float64, (n,));
                               y (int64, (n,)), index (int64: train rows of the points)
        holes.json             analyse, model=vae: share (share_low, share_high: 95% interval) of n_prior N(0, I)
                               draws farther from every one of the n_codes encoded train points than the quantile
                               (analyse.holes.quantile) of their nearest-neighbour distances (threshold);
                               held_out_share: the test codes beyond it; dim; "active": the same in the
                               active_dimensions (mean posterior variance < active_variance), null when none
        holes.npz              analyse, model=vae: hole_decodings, covered_decodings (float32, (m, *sample_shape)):
                               decoded prior draws from holes and from covered regions
        report.md, report.html report: tables, generated text and figures (report_*.png: maps by representation,
                               sliced W₂ heatmaps, training curve, reconstructions, report_latent_marginals.png,
                               report_latent_corner.png, report_gaussianity.png; with analyse's artifacts also
                               report_dynamics.png, report_dynamics_maps.png/.gif, report_layers.png,
                               report_geometry.png, report_vae_holes.png); report.html is the interactive,
                               standalone Bokeh page (linked maps of the test points; see aelat.explorer)
        tensorboard/           `aelat export --tensorboard`: TensorBoard projector files (see aelat.export)
        .<name>.aelat-tmp-<8 characters>   a file being written (atomic_path, Run.making); never read, and the
                               only hidden files aelat deletes (a killed writer's leftovers; see aelat.locking)
    outputs/<raw file>-<embeddings file>-d<d>-s<seed>-<hash>/   `aelat score FILE --raw RAW` (without --raw:
                               <embeddings file>-d<d>-...): a run folder as above, from encode on
    outputs/latest -> the newest run folder (a symlink; aelat never replaces anything else of that name)
    <first folder>/summary/     `aelat summarize`: summary.csv, summary.md (opening with the sweep's Findings),
                               summary_seeds.csv (per family, latent size, representation and metric: seeds,
                               mean, std, ci_low, ci_high of the 95% t interval), findings.json (the sweep's
                               claims, as a run's), per-family overview figures and summary.json (what was
                               summarised; see aelat.summarize)
    outputs/.cache/scores/<hash>.json  evaluate's scores of one representation, keyed by its content,
                               settings and code (see aelat.score_cache); shared by the runs in outputs/;
                               <hash>.npz beside it: that representation's arrays for predictions.npz,
                               bound to the entry by their checksum
    outputs/.cache/maps/<hash>.npz     embed's 2-D map (train, test) of one input, keyed by its points, the method's
                               parameters as run, the seed and the code (see aelat.stages.embed); shared likewise.
    outputs/.cache/profiles/<hash>.json  one of analyse's measurements (a row of dynamics.csv or layers.csv, a
                               layer distance), keyed by its points, parameters, seed and code (see
                               aelat.stages.analyse); shared likewise.
                               The caches keep their entries intact through aelat.content_store
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import re
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from omegaconf import DictConfig, OmegaConf

from aelat import __version__
from aelat.config import STAGE_KEYS, config_hash, flatten, load_saved
from aelat.errors import ArtifactError, ConfigError, StaleArtifactError
from aelat.reading import read_regular_bytes

CONFIG = "config.yaml"
CONFIG_RECORD = "config_checksums"  # run.json's key: checksums of config.yaml as aelat wrote it
MANIFEST = "run.json"
MODEL = "model.pt"
CHECKPOINT = "checkpoint.pt"
TRAIN_LOG = "train_log.csv"
LATENTS = "latents.npz"
METRICS = "metrics.json"
MOMENTS = "moments.npz"
PREDICTIONS = "predictions.npz"
FINDINGS = "findings.json"
SNAPSHOTS = "snapshots.npz"
DYNAMICS = "dynamics.csv"
DYNAMICS_MAPS = "dynamics_maps.npz"
DYNAMICS_POINTS = "dynamics_points.npz"
LAYERS = "layers.csv"
LAYERS_POINTS = "layers_points.npz"
GEOMETRY = "geometry.csv"
GEOMETRY_ARRAYS = "geometry.npz"
HOLES = "holes.json"
HOLES_ARRAYS = "holes.npz"
LATEST = "latest"
# Marks the files aelat is writing: ``.<name>.aelat-tmp-<8 characters>`` (tempfile's random names).
TEMPORARY = ".aelat-tmp-"
_TEMPORARY_NAME = re.compile(r"\..+" + re.escape(TEMPORARY) + r"[a-z0-9_]{8}")

_UMASK = os.umask(0)
os.umask(_UMASK)

# Representations the encode stage writes, and the key prefix of each in latents.npz.
REPRESENTATIONS = {"raw": "raw", "pca": "pca", "untrained": "untrained", "latent": "z"}
# Order of the stage groups: each reads what the groups before it made.
STAGE_ORDER = ("train", "encode", "embed", "analyse", "evaluate", "report")


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


def embedding_of(stage: str) -> tuple[str, str]:
    """(method, source) of a map's manifest entry: the inverse of :func:`embedding_stage`."""
    _, method, *source = stage.split(":")
    return method, source[0] if source else "latent"


def run_name(cfg: DictConfig) -> str:
    """Readable, deterministic folder name: dataset, model, latent size, seed, hash of what training read.

    A long dataset file name is shortened (the hash covers the whole path), so the name fits the file system.
    Embeddings made outside aelat (model ``external``) are named by their file (and the raw input's).
    """
    dataset = cfg.dataset.name if cfg.dataset.name != "npz" else Path(cfg.dataset.path).name[:100]
    model = f"-{cfg.model.name}"
    if cfg.model.name == "external":
        model = "" if cfg.model.path == cfg.dataset.get("path") else f"-{Path(cfg.model.path).stem[:100]}"
    return f"{dataset}{model}-d{cfg.latent_dim}-s{cfg.seed}-{config_hash(cfg, 'train')}"


def run_dir_for(cfg: DictConfig) -> Path:
    return Path(cfg.output_dir) / run_name(cfg)


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of the temporaries aelat writes artifacts through (see :data:`TEMPORARY`)."""
    return _TEMPORARY_NAME.fullmatch(name) is not None


def check_latest(output_dir: str | Path) -> None:
    """Refuse an ``<output_dir>/latest`` that is not a link: aelat replaces only the link it keeps."""
    link = Path(output_dir) / LATEST
    try:
        mode = os.lstat(link).st_mode
    except OSError:  # absent, or a path that cannot exist: writing there says why
        return
    if not stat.S_ISLNK(mode):
        kind = "folder" if stat.S_ISDIR(mode) else "file"
        raise ArtifactError(
            f"{link} is a {kind}, not the link aelat keeps to the newest run; rename or move it "
            "(aelat never replaces it), or give another output_dir=DIR"
        )


def latest_run(output_dir: str | Path) -> Path:
    """The run folder ``outputs/latest`` points at."""
    link = Path(output_dir) / LATEST
    check_latest(output_dir)
    if not link.is_symlink():
        raise ArtifactError(f"no run in {output_dir} yet; start one with `aelat train` or `aelat run`")
    target = Path(os.path.realpath(link))  # realpath, not resolve: a link loop is "gone", not an exception
    if not target.is_dir():
        raise ArtifactError(f"{link} points at {target}, which is gone; pass --run DIR or start a run with `aelat run`")
    return target


def mark_latest(run_dir: Path) -> None:
    """Point ``<output_dir>/latest`` at ``run_dir`` (atomically, via a temporary symlink); only a link is replaced."""
    check_latest(run_dir.parent)
    with atomic_path(run_dir.parent / LATEST) as tmp:
        tmp.unlink()  # the temporary's unique name, now for a link
        tmp.symlink_to(run_dir.name, target_is_directory=True)


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` instead of aelat's temporary (or nothing), so the CLI's line says what failed."""
    if exc.filename is not None and not is_temporary(Path(str(exc.filename)).name):
        return exc
    return OSError(exc.errno, exc.strerror, str(path))


def _temporary(path: Path) -> Path:
    """A new empty temporary beside ``path``, with the permissions of a file made by ``open``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TEMPORARY}")
        os.close(fd)
        os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes 0600; give artifacts the usual permissions
    except OSError as exc:
        raise _naming(exc, path) from None
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder; on success it replaces ``path`` in one rename.

    On any error the temporary is deleted and ``path`` is untouched; an OSError (a full disk, a
    read-only folder) names ``path``, not the temporary.
    """
    path = Path(path)
    tmp = _temporary(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise _naming(exc, path) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


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


def npz_keys(path: Path) -> list[str]:
    """The array names an .npz artifact holds, read from its index without loading the arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return list(data.files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{path} is unreadable ({exc}); delete it and re-run the stage that makes it") from None


def representations_in(path: Path) -> list[str]:
    """The representations (raw, pca, untrained, latent) a latents.npz holds."""
    keys = npz_keys(path)
    return [name for name, key in REPRESENTATIONS.items() if f"{key}_train" in keys]


def checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def versions() -> dict:
    """Versions of what produced a run: python, the numeric libraries and aelat, and the
    :func:`environment` the numbers depend on.

    aelat is named by its version and a digest of its source files (``aelat_source``, which an
    uncommitted edit changes), and in a git checkout of aelat also by the commit (``aelat_git``).
    """
    import openTSNE
    import sklearn

    found = {
        "python": platform.python_version(),
        "torch": _torch_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "openTSNE": openTSNE.__version__,
        "aelat": __version__,
        "aelat_source": source_digest(),
        "environment": environment(),
    }
    commit = _aelat_commit()
    return found | ({"aelat_git": commit} if commit else {})


def code_versions() -> dict:
    """What cached results (scores, maps) are keyed by: :func:`versions` without the environment, whose
    thread counts move results by round-off only."""
    return {k: v for k, v in versions().items() if k != "environment"}


def source_digest() -> str:
    """A hash of aelat's own Python source files (the installed copy, whatever installed it)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.relative_to(Path(__file__).parent).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def environment() -> dict:
    """What a result depends on besides its inputs and library versions.

    Floating-point sums are not associative, so the same seed gives the same bits only with the
    same kernels summing in the same order: the CPU (its instruction set picks BLAS kernels), the
    thread counts of the BLAS/OpenMP pools and of torch (they split the sums), torch's build and
    device, and whether torch's deterministic algorithms were on. torch's entries appear when this
    process has loaded torch (train, encode); evaluate and embed never do.
    """
    from threadpoolctl import threadpool_info

    found = {
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        # sorted: the order threadpoolctl lists them in is the order the libraries happened to load
        "thread_pools": sorted(
            ({key: pool.get(key) for key in ("internal_api", "version", "architecture", "threading_layer", "num_threads")}
             for pool in threadpool_info()),
            key=lambda pool: json.dumps(pool, sort_keys=True),
        ),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        cuda = torch.cuda.is_available()
        found["torch"] = {
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "mkl": torch.backends.mkl.is_available(),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if cuda else None,
            "gpu": torch.cuda.get_device_name() if cuda else None,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        }
    return found


def _cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else what ``platform`` knows)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _torch_version() -> str:
    """``torch.__version__`` (with its build label, e.g. +cu130) read from torch/version.py: importing
    torch takes ~2 s, which embed and evaluate would otherwise spend only on this string."""
    origin = importlib.util.find_spec("torch").origin
    found = re.search(r"^__version__ = '([^']+)'", (Path(origin).parent / "version.py").read_text(), re.MULTILINE)
    return found.group(1) if found else importlib.import_module("torch").__version__


@functools.cache
def _aelat_commit() -> str | None:
    """The commit of the git checkout aelat runs from; None for an installed copy.

    An installed copy may lie inside someone else's repository (a venv in a project folder):
    only a checkout that tracks aelat's own files is aelat's.
    """
    package = Path(__file__).parent
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", Path(__file__).name], cwd=package,
                                 capture_output=True, timeout=5)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() if tracked.returncode == 0 and head.returncode == 0 else None


class Outputs:
    """A stage's outputs while it writes them: one temporary beside each final name (see :meth:`Run.making`)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: dict[str, Path] = {}

    def __call__(self, name: str) -> Path:
        """Where to write the output ``name``; it takes that name when the stage is recorded."""
        if name not in self.files:
            self.files[name] = _temporary(self.folder / name)
        return self.files[name]

    def discard(self) -> None:
        for tmp in self.files.values():
            with contextlib.suppress(OSError):
                tmp.unlink()

    def naming(self, exc: OSError) -> OSError:
        """``exc`` naming the output whose temporary (or the temporary's own temporary) failed."""
        failed = Path(str(exc.filename)).name if exc.filename is not None else None
        for name, tmp in self.files.items():
            if failed is not None and failed.startswith(tmp.name):
                return OSError(exc.errno, exc.strerror, str(self.folder / name))
        return _naming(exc, self.folder)


class Run:
    """A run folder and its manifest: what each stage read and wrote.

    ``run.json`` holds, per stage: ``config_hash`` (the part of the config it read), ``dataset``
    (the digest of the dataset's files, :func:`aelat.data.dataset_digest`), ``inputs`` (checksums of
    the artifacts it read), ``outputs`` (checksums of what it wrote), ``seconds`` and ``finished``.
    :meth:`require` checks all of them, through every stage upstream; :meth:`making` writes a
    stage's outputs, config.yaml and its entry as one change.

    Parameters
    ----------
    path : Path
        The run folder.
    cfg : DictConfig
        The config the command works under.
    dataset_digest : callable(dataset config) -> str or None
        The digest of the dataset's current content (None when its files are absent).
    """

    def __init__(self, path: Path, cfg: DictConfig, dataset_digest: Callable[[DictConfig], str | None]):
        self.path = Path(path)
        self.cfg = cfg
        self._dataset_digest = dataset_digest
        self._digest: str | None = None
        self._checksums: dict[tuple, str] = {}
        self._making: frozenset[str] = frozenset()
        self._saved: tuple[bytes, DictConfig | None] | None = None

    def file(self, name: str) -> Path:
        return self.path / name

    def dataset_digest(self) -> str | None:
        """The digest of the data's current content (kept for the command once known): the dataset's
        files and, for embeddings made outside aelat with their raw input apart, the embeddings file."""
        if self._digest is None:
            self._digest = self._dataset_digest(self.cfg.dataset)
            embeddings = embeddings_apart(self.cfg)
            if self._digest is not None and embeddings is not None:  # None too when the embeddings file is gone
                self._digest = (hashlib.sha256(f"{self._digest} {checksum(embeddings)}".encode()).hexdigest()
                                if embeddings.is_file() else None)
        return self._digest

    def _maker(self, stage: str) -> str:
        """:func:`maker`, but for embeddings made outside aelat ``aelat score``, which imports them."""
        return self._remake() if stage == "encode" and self.cfg.model.name == "external" else maker(stage)

    def _remake(self) -> str:
        """The command that makes every stage again: ``aelat run``, or ``aelat score`` for embeddings made
        outside aelat."""
        if self.cfg.model.name != "external":
            return "aelat run"
        raw = f" --raw {self.cfg.dataset.path}" if embeddings_apart(self.cfg) else ""
        return f"aelat score {self.cfg.model.path}{raw}"

    def checksum(self, name: str) -> str:
        """``checksum`` of a file of the run, computed once per state of the file (inode, size, times)."""
        path = self.file(name)
        state = os.stat(path)
        key = (name, state.st_ino, state.st_size, state.st_mtime_ns, state.st_ctime_ns)
        if key not in self._checksums:
            self._checksums[key] = checksum(path)
        return self._checksums[key]

    def manifest(self) -> dict:
        """run.json's content, after checking its structure (a missing run.json records no stage)."""
        path = self.file(MANIFEST)
        try:
            manifest = json.loads(read_regular_bytes(path))
        except FileNotFoundError:
            return {"stages": {}}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ArtifactError(f"{path} is unreadable ({_first_line(exc)}); {_MANIFEST_FIX}") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise ArtifactError(f"{path} is damaged ({problem}); {_MANIFEST_FIX}")
        return manifest

    def saved_config(self) -> DictConfig | None:
        """The run's config.yaml, or None when there is none or it is unreadable (the command rewrites it)."""
        try:
            key = read_regular_bytes(self.file(CONFIG))  # each stage rewrites the file, mostly as it was
        except OSError:
            return None
        if self._saved is None or self._saved[0] != key:
            try:
                self._saved = key, load_saved(self.file(CONFIG))
            except (ArtifactError, ConfigError):
                self._saved = key, None
        return self._saved[1]

    def will_make(self, stages: Iterable[str]) -> None:
        """Declare the stages the command makes, and refuse, before anything is computed or written, a
        one-off setting that would leave another artifact out of date with the config.yaml it writes.

        Raises
        ------
        ConfigError
            When an override changes the settings of a map (or other artifact) of the run that the
            command does not make again; the message names them and the fix.
        """
        self._making = frozenset(stages)
        self._refuse_conflicts(self._making)

    def _refuse_conflicts(self, making: frozenset[str]) -> None:
        """The siblings of the stages made (the other maps of an embed) must keep their config hash.

        Earlier stages are the command's inputs (a changed one is reported as stale when read); later
        ones are made from what the command makes, so the next command that reads them makes them again.
        """
        saved = self.saved_config()
        if saved is None or not making:
            return
        levels = {_order(stage) for stage in making}
        conflicts = [
            stage for stage, entry in self.manifest()["stages"].items()
            if stage not in making and _order(stage) in levels
            and entry["config_hash"] == config_hash(saved, stage) != config_hash(self.cfg, stage)
        ]
        if not conflicts:
            return
        changes = sorted({change for stage in conflicts for change in _changes(saved, self.cfg, stage)})
        files = [next(iter(self.manifest()["stages"][stage]["outputs"]), stage) for stage in conflicts]
        methods = sorted({stage.split(":")[1] for stage in conflicts if stage.startswith("embed:")})
        remake = [f"`aelat embed --method {m} --of all`" for m in methods] or [f"`{maker(s)}`" for s in conflicts]
        raise ConfigError(
            f"{', '.join(changes)} would leave {', '.join(files)} of {self.path.name} out of date with the run's "
            f"config: a setting tried on one artifact must not change the others; make them all with it "
            f"({', '.join(dict.fromkeys(remake))} with the same overrides) or leave it out"
        )

    @contextlib.contextmanager
    def making(self, stage: str, inputs: dict[str, str], started: float, save_config: bool = True
               ) -> Iterator[Outputs]:
        """Write a stage's outputs as one change.

        The stage writes each output to ``outputs(name)``, a temporary. When the block ends without
        error: the temporaries are checksummed, the stage's old entry is dropped from run.json, the
        files (and config.yaml) are renamed into place, then run.json gets the new entry. On any
        error (a full disk, a bad value) the temporaries are deleted and nothing changes. So run.json
        never records a file other than the one in the folder, and a killed command leaves the
        stage recorded whole or not at all.
        """
        outputs = Outputs(self.path)
        try:
            yield outputs
            self._commit(stage, outputs, inputs, time.perf_counter() - started, save_config)
        except OSError as exc:
            raise outputs.naming(exc) from None
        finally:
            outputs.discard()

    def _commit(self, stage: str, outputs: Outputs, inputs: dict[str, str], seconds: float, save_config: bool) -> None:
        written = {name: checksum(tmp) for name, tmp in outputs.files.items()}
        if save_config:
            self._refuse_conflicts(self._making | {stage})
            write_text(outputs(CONFIG), OmegaConf.to_yaml(self.cfg, resolve=True))
        manifest = self.manifest()
        current = versions()
        entry = {
            "config_hash": config_hash(self.cfg, stage),
            "dataset": self.dataset_digest(),
            "inputs": inputs,
            "outputs": written,
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            # per stage: training's torch threads and device must survive the later stages' records
            "environment": current["environment"],
        }
        before = {name: value for name, value in manifest["stages"].items() if name != stage}
        # config.yaml's checksum as written: a config.yaml with another one was edited by hand
        earlier = manifest.get(CONFIG_RECORD, [])
        config = [_config_checksum(outputs.files[CONFIG])] if save_config else earlier
        write_json(outputs(MANIFEST), {**manifest, "stages": {**manifest["stages"], stage: entry}, "versions": current,
                                       CONFIG_RECORD: config})
        if stage in manifest["stages"] or config != earlier:
            # until the renames are done, run.json records nothing of this stage, and either config.yaml
            write_json(self.file(MANIFEST), {**manifest, "stages": before,
                                             CONFIG_RECORD: list(dict.fromkeys([*earlier, *config]))})
        for name, tmp in outputs.files.items():  # run.json last
            os.replace(tmp, self.file(name))

    def config_edited(self) -> bool:
        """Whether config.yaml differs from every version of it run.json records aelat writing (False when
        run.json records none: no stage yet, or an older aelat made the run)."""
        recorded = self.manifest().get(CONFIG_RECORD)
        try:
            return bool(recorded) and _config_checksum(self.file(CONFIG)) not in recorded
        except OSError:
            return False  # missing or unreadable: the command that reads it says so

    def restore_config(self) -> bool:
        """Write config.yaml again from this run's settings, when it was edited (:meth:`config_edited`);
        for a run whose every stage is current under those settings. Returns whether it wrote it.

        As a stage's outputs: run.json first accepts both versions, then the file is renamed into
        place, then run.json records only the new one, so a killed command leaves no false alarm.
        """
        if not self.config_edited():
            return False
        manifest = self.manifest()
        outputs = Outputs(self.path)
        try:
            write_text(outputs(CONFIG), OmegaConf.to_yaml(self.cfg, resolve=True))
            written = _config_checksum(outputs.files[CONFIG])
            write_json(self.file(MANIFEST), {**manifest, CONFIG_RECORD: [*manifest[CONFIG_RECORD], written]})
            os.replace(outputs.files[CONFIG], self.file(CONFIG))
            write_json(self.file(MANIFEST), {**manifest, CONFIG_RECORD: [written]})
        except OSError as exc:
            raise outputs.naming(exc) from None
        finally:
            outputs.discard()
        return True

    def require(self, stage: str, name: str) -> dict[str, str]:
        """Check that ``stage`` made ``name`` under the current config, from the current dataset and from
        inputs that are the current files (so, through them, every stage upstream), and that it is intact.

        Returns ``{name: checksum}`` for the reading stage to record as its input.

        Raises
        ------
        ArtifactError
            ``name`` is missing or changed since it was written.
        StaleArtifactError
            It was made under another config, from other data, or from inputs made again since.
        """
        if stage == "train" and self.cfg.model.name == "external":
            raise ConfigError(f"{self.path} holds embeddings made outside aelat (model=external): it has no network "
                              "(model.pt) to train, encode or analyse; embed, evaluate, report or export it, or "
                              "score the embeddings again with `aelat score`")
        self._check(stage, name, self.manifest()["stages"], set())
        return {name: self.checksum(name)}

    def _check(self, stage: str, name: str, stages: dict, checked: set[str]) -> None:
        command = self._maker(stage)
        path = self.file(name)
        entry = stages.get(stage)
        if not path.is_file():
            raise ArtifactError(f"{path} is missing; make it with `{command}` for this run")
        if entry is None or name not in entry["outputs"]:
            raise ArtifactError(f"{path} is not recorded in {MANIFEST} (made by another command, or run.json was "
                                f"replaced); make it again with `{command}` for this run")
        if entry["config_hash"] != config_hash(self.cfg, stage):
            if self.config_edited():
                raise ArtifactError(
                    f"{self.file(CONFIG)} was edited after aelat wrote it, so {name} no longer matches it: undo the "
                    f"edit, or run `{self._remake()}` with this run's overrides, which writes it again; a setting to "
                    "try goes in an override (`aelat run key=value`), which makes a run of its own")
            raise StaleArtifactError(f"{path} was made under another config; re-run `{command}` with the same overrides")
        if self.checksum(name) != entry["outputs"][name]:
            raise ArtifactError(f"{path} changed after `{command}` wrote it; re-run `{command}`")
        if stage in checked:
            return
        for source, digest in entry["inputs"].items():
            producer = next((s for s, e in stages.items() if source in e["outputs"]), None)
            if producer is None:
                raise StaleArtifactError(f"{path} was made from {source}, which run.json no longer records; "
                                         f"re-run `{self._remake()}` to remake the run's artifacts")
            self._check(producer, source, stages, checked)  # upstream first: the message names the earliest stage
            if self.checksum(source) != digest:
                raise StaleArtifactError(f"{path} was made from an earlier {source} (made again or changed since); "
                                         f"re-run `{command}`")
        if entry.get("dataset") is None or entry["dataset"] != self.dataset_digest():
            raise StaleArtifactError(
                f"{path} was made from other data: {_dataset_label(self.cfg)} changed since `{command}` read it "
                f"(or is missing); re-run `{command}`"
                + ("" if command == self._remake() else f", or `{self._remake()}` to remake every stage")
            )
        checked.add(stage)


def _config_checksum(path: Path) -> str:
    return hashlib.sha256(read_regular_bytes(path)).hexdigest()


_MANIFEST_FIX = "delete it (every stage is then made again by `aelat run`) or restore it"


def _manifest_problem(manifest) -> str | None:
    """What is wrong with run.json's structure, or None."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stages"), dict):
        return "no 'stages' mapping"
    for stage, entry in manifest["stages"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("config_hash"), str):
            return f"stage '{stage}' has no config_hash"
        if stage.split(":")[0] not in STAGE_ORDER:
            return f"unknown stage '{stage}'"
        for key in ("inputs", "outputs"):
            files = entry.get(key)
            if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
                return f"stage '{stage}' has no {key} checksums"
        if not all(name and "/" not in name and name not in (".", "..") for name in (*entry["inputs"], *entry["outputs"])):
            return f"stage '{stage}' names a file outside the run folder"
    config = manifest.get(CONFIG_RECORD, [])
    if not isinstance(config, list) or not all(isinstance(value, str) for value in config):
        return f"'{CONFIG_RECORD}' is not a list of checksums"
    for stage, entry in manifest["stages"].items():  # each input is made by an earlier stage: no cycle
        for name in entry["inputs"]:
            makers = [other for other, e in manifest["stages"].items() if name in e["outputs"]]
            if any(_order(other) >= _order(stage) for other in makers):
                return f"stage '{stage}' reads {name}, which a later stage makes"
    return None


def _order(stage: str) -> int:
    return STAGE_ORDER.index(stage.split(":")[0])


def _changes(saved: DictConfig, cfg: DictConfig, stage: str) -> list[str]:
    """``key=new (was old)`` for the settings ``stage`` depends on that differ between two configs."""
    group, *detail = stage.split(":")
    keys = ("embed.max_points", f"embed.{detail[0]}") if group == "embed" else STAGE_KEYS[group]
    old, new = (dict(flatten(OmegaConf.to_container(c, resolve=True))) for c in (saved, cfg))
    return [f"{key}={new.get(key)} (was {old.get(key)})" for key in sorted(old.keys() | new.keys())
            if any(key == k or key.startswith(f"{k}.") for k in keys) and old.get(key) != new.get(key)]


def embeddings_apart(cfg: DictConfig) -> Path | None:
    """The embeddings file of a run of embeddings made outside aelat, when it is not the dataset's file."""
    if cfg.model.name != "external" or cfg.model.path == cfg.dataset.get("path"):
        return None
    return Path(cfg.model.path)


def _dataset_label(cfg: DictConfig) -> str:
    embeddings = embeddings_apart(cfg)
    if embeddings is not None:
        return f"the embeddings file {embeddings} or dataset.path={cfg.dataset.path}"
    if cfg.dataset.get("path"):
        return f"dataset.path={cfg.dataset.path}"
    if cfg.dataset.get("root"):
        return f"the {cfg.dataset.name} files under {cfg.dataset.root}"
    return f"the {cfg.dataset.name} dataset"
