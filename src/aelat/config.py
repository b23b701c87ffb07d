"""Compose, validate and hash aelat's Hydra configuration."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from aelat.errors import ConfigError

if TYPE_CHECKING:
    import torch

_ABSENT = object()
# The configs ship inside the package (package data), so any install finds them; AELAT_CONFIG_DIR
# names an extra folder searched as well, for a user's own groups (e.g. dataset/mine.yaml).
CONFIG_DIR = Path(__file__).resolve().parent / "conf"
EXTRA_CONFIG_ENV = "AELAT_CONFIG_DIR"

# The config keys each stage's output depends on: a change to any of them makes that output stale.
STAGE_KEYS = {
    "train": ("dataset", "model", "latent_dim", "seed", "train"),
    "encode": ("dataset", "model", "latent_dim", "seed", "train"),
    "embed": ("dataset", "model", "latent_dim", "seed", "train", "embed"),
    "evaluate": ("dataset", "model", "latent_dim", "seed", "train", "evaluate"),
    "report": ("dataset", "model", "latent_dim", "seed", "train", "evaluate"),
}
# Keys inside those that change how a stage runs but not what it makes.
NOT_HASHED = {"train": ("checkpoint_every",), "evaluate": ("cache",)}


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/config.yaml`` with Hydra override strings, then validate it."""
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = hydra_compose("config", overrides=[*extra_search_path(), *overrides])
    except MissingConfigException as exc:
        group = (exc.missing_cfg_file or "").split("/")[0]
        if exc.options:
            raise ConfigError(
                f"unknown {group} '{exc.missing_cfg_file.split('/')[-1]}'; choose one of: {', '.join(exc.options)}"
            ) from None
        raise ConfigError(_one_line(exc)) from None
    except HydraException as exc:
        raise ConfigError(_unknown_key(exc) or _one_line(exc)) from None
    return validate(cfg)


def extra_search_path() -> list[str]:
    """The override adding ``$AELAT_CONFIG_DIR`` to Hydra's config search path (none when unset)."""
    folder = os.environ.get(EXTRA_CONFIG_ENV)
    if not folder:
        return []
    if not Path(folder).is_dir():
        raise ConfigError(f"{EXTRA_CONFIG_ENV}={folder} is not a folder; point it at a folder of config groups or unset it")
    path = str(Path(folder).resolve()).replace("\\", "\\\\").replace("'", "\\'")
    return [f"hydra.searchpath=['file://{path}']"]


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """Apply ``key=value`` overrides to an existing (saved) config; group choices cannot change here."""
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, True)
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep:
            raise ConfigError(f"override '{override}' is not key=value")
        if key in ("dataset", "model", "train", "embed", "evaluate"):
            raise ConfigError(
                f"'{override}' picks another config group; drop --run so the overrides compose a new run"
            )
        if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
            raise ConfigError(f"cannot apply override '{override}': no such config key; {_did_you_mean(key, cfg)}")
        try:
            OmegaConf.update(cfg, key, OmegaConf.from_dotlist([f"v={value}"]).v, merge=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"cannot apply override '{override}': {_one_line(exc)}") from None
    return validate(cfg)


def validate(cfg: DictConfig) -> DictConfig:
    """Check types and ranges of the values aelat uses; make paths absolute so hashes mean one file."""
    _require_int(cfg.latent_dim, "latent_dim", minimum=1)
    _require_int(cfg.seed, "seed", minimum=0)
    _require_int(cfg.train.epochs, "train.epochs", minimum=1)
    _require_int(cfg.train.batch_size, "train.batch_size", minimum=1)
    _require_positive(cfg.train.lr, "train.lr")
    _require_int(cfg.train.get("checkpoint_every", 0), "train.checkpoint_every", minimum=0)
    if not isinstance(cfg.train.get("compile", False), bool):
        raise ConfigError(f"train.compile={cfg.train.compile!r} must be true or false")
    _validate_evaluate(cfg.evaluate)
    if cfg.embed.max_points is not None:
        _require_int(cfg.embed.max_points, "embed.max_points", minimum=10)
    if not isinstance(cfg.embed.get("cache", True), bool):
        raise ConfigError(f"embed.cache={cfg.embed.cache!r} must be true or false")
    n_jobs = OmegaConf.select(cfg, "embed.tsne.n_jobs", default="auto")
    if n_jobs != "auto" and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0):
        raise ConfigError(f"embed.tsne.n_jobs={n_jobs!r} must be auto or a whole number other than 0 (-1: all cores)")
    if cfg.get("threads") is not None:
        _require_int(cfg.threads, "threads", minimum=1)
    for width in cfg.model.get("hidden", []):
        _require_int(width, "model.hidden entries", minimum=1)
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device={cfg.device!r} is not one of auto, cpu, cuda")
    if cfg.device == "cuda" and not _cuda_available():
        raise ConfigError("device=cuda but torch sees no CUDA device; use device=auto or device=cpu")
    for key in ("path", "root"):
        if cfg.dataset.get(key) is not None and not OmegaConf.is_missing(cfg.dataset, key):
            cfg.dataset[key] = str(Path(cfg.dataset[key]).expanduser().resolve())
    if cfg.dataset.name == "npz" and OmegaConf.is_missing(cfg.dataset, "path"):
        raise ConfigError("dataset=npz needs a file: add dataset.path=FILE.npz")
    return cfg


def resolve_device(cfg: DictConfig) -> torch.device:
    """The torch device named by ``cfg.device`` (auto: CUDA when present)."""
    import torch

    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def config_hash(cfg: DictConfig, stage: str) -> str:
    """Short, stable hash of the part of the config ``stage`` (e.g. "train", "embed:tsne") depends on."""
    group, *detail = stage.split(":")
    method = detail[0] if detail else None
    resolved = OmegaConf.to_container(cfg, resolve=True)
    subset = {key: resolved[key] for key in STAGE_KEYS[group]}
    for group_key, ignored in NOT_HASHED.items():
        if group_key in subset:
            subset[group_key] = {key: value for key, value in subset[group_key].items() if key not in ignored}
    if method:  # a map depends on its own method's options only, not on every method's
        subset["embed"] = {"max_points": subset["embed"]["max_points"], method: subset["embed"].get(method)}
    return hashlib.sha256(json.dumps(subset, sort_keys=True).encode()).hexdigest()[:8]


def _validate_evaluate(ev: DictConfig) -> None:
    if not isinstance(ev.get("cache", True), bool):
        raise ConfigError(f"evaluate.cache={ev.cache!r} must be true or false")
    for key in ("knn_k", "neighbourhood.k"):
        values = OmegaConf.select(ev, key)
        if not OmegaConf.is_list(values) or len(values) == 0:
            raise ConfigError(f"evaluate.{key}={values!r} must be a non-empty list such as [5, 10]")
        for k in values:
            _require_int(k, f"evaluate.{key} entries", minimum=1)
    sizes = {"probe_max_train": 10, "cluster_fit_size": 10, "silhouette_sample": 10, "neighbourhood.sample": 10}
    sizes |= {f"distribution.{key}": 2 for key in ev.distribution if key != "id_discard_fraction"}
    for key, minimum in sizes.items():
        value = OmegaConf.select(ev, key)
        if value is not None or key.startswith("distribution."):
            _require_int(value, f"evaluate.{key}", minimum=minimum)
    fraction = ev.distribution.id_discard_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise ConfigError(f"evaluate.distribution.id_discard_fraction={fraction!r} must lie in [0, 1)")


def _cuda_available() -> bool:
    import torch  # here, not at the top: embed and evaluate never load torch

    return torch.cuda.is_available()


def _require_int(value, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}={value!r} is not an integer; give a whole number >= {minimum}")
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small; it must be >= {minimum}")


def _require_positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name}={value!r} must be a positive number")


def _unknown_key(exc: Exception) -> str | None:
    """For a key the config lacks, Hydra suggests ``+key=value``, which adds a key aelat never reads: name the typo."""
    if not str(exc).startswith("Could not override '"):
        return None
    key = str(exc).split("'")[1]
    return f"Could not override '{key}': no such config key; {_did_you_mean(key, compose())}"


def _did_you_mean(key: str, cfg: DictConfig) -> str:
    known = [k for k, _ in _flat(OmegaConf.to_container(cfg, resolve=False))]
    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean '{close[0]}'?" if close else "see `aelat config` for the keys"


def _flat(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        yield f"{prefix}{key}", value
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")


def _one_line(exc: Exception) -> str:
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip() and "See https" not in line)
