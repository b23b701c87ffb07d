"""Compose, validate and hash aelat's Hydra configuration (its schema: :mod:`aelat.schema`)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import yaml

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from aelat import schema
from aelat.errors import ArtifactError, ConfigError
from aelat.reading import read_regular_bytes

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
    "analyse": ("dataset", "model", "latent_dim", "seed", "train", "analyse"),
    "report": ("dataset", "model", "latent_dim", "seed", "train", "evaluate", "analyse", "report"),
}
# Keys inside those that change how a stage runs but not what it makes.
NOT_HASHED = {"train": ("checkpoint_every",), "embed": ("cache",), "evaluate": ("cache",), "analyse": ("cache",)}


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/config.yaml`` with Hydra override strings, then validate it."""
    search_path = extra_search_path()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = hydra_compose("config", overrides=[*search_path, *overrides])
    except MissingConfigException as exc:
        group = (exc.missing_cfg_file or "").split("/")[0]
        if exc.options:
            raise ConfigError(
                f"unknown {group} '{exc.missing_cfg_file.split('/')[-1]}'; choose one of: {', '.join(exc.options)}"
            ) from None
        raise ConfigError(schema.one_line(exc)) from None
    except OverrideParseException as exc:
        raise ConfigError(unreadable_override(overrides, exc)) from None
    except (HydraException, ValueError) as exc:  # ValueError: e.g. a group given a number (evaluate=3)
        cause = f" ({schema.one_line(exc.__cause__)})" if exc.__cause__ else ""
        raise ConfigError(_unknown_key(exc) or schema.one_line(exc) + cause) from None
    except yaml.YAMLError as exc:  # an option file of the user's own (AELAT_CONFIG_DIR) that is not YAML
        raise ConfigError(_not_yaml(exc)) from None
    return validate(cfg)


def _not_yaml(exc: yaml.YAMLError) -> str:
    """One line naming the option file that is not YAML: the first under $AELAT_CONFIG_DIR that fails to
    parse (Hydra's error names no file)."""
    mark = getattr(exc, "problem_mark", None)
    problem = f"{getattr(exc, 'problem', None) or schema.one_line(exc)}" + (
        f", line {mark.line + 1} column {mark.column + 1}" if mark is not None else "")
    folder = os.environ.get(EXTRA_CONFIG_ENV)
    for path in sorted(Path(folder).rglob("*.yaml")) if folder else []:
        try:
            yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            return f"{path} is not valid YAML ({problem}); fix it or remove it from {EXTRA_CONFIG_ENV}"
        except (OSError, UnicodeDecodeError):
            continue
    return f"a config file is not valid YAML ({problem}); fix it"


def quoted(value: str) -> str:
    """``value`` as a quoted Hydra override value (a path with spaces or brackets stays one string)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def unreadable_override(overrides: Sequence[str], exc: Exception) -> str:
    """The message for an override Hydra's grammar cannot read: which one, and how to quote it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except OverrideParseException:
            key, _, value = override.partition("=")
            return (f"cannot read the override '{override}' ({schema.one_line(exc)}); put a value holding spaces or "
                    f"any of ()[]{{}}=,:'\" in quotes: \"{key}='{value}'\"")
    return schema.one_line(exc)


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
        if key in schema.sections():
            raise ConfigError(
                f"'{override}' picks another config group; drop --run so the overrides compose a new run"
            )
        if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
            raise ConfigError(f"cannot apply override '{override}': {schema.no_such_key(key)}")
        try:
            OmegaConf.update(cfg, key, OmegaConf.from_dotlist([f"v={value}"]).v, merge=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"cannot apply override '{override}': {schema.describe_error(exc)}") from None
    return validate(cfg)


def validate(cfg: DictConfig) -> DictConfig:
    """Type and range-check ``cfg`` against :mod:`aelat.schema`; make paths absolute so hashes mean one file.

    Returns the typed config (a new object); raises ConfigError with one line for the first bad value.
    """
    given = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    cfg = schema.typed(given)
    schema.check(cfg, given=given)
    if not str(cfg.output_dir).strip():  # Path("") is the working directory
        raise ConfigError("output_dir is empty (an unset shell variable?); give a folder, e.g. output_dir=outputs")
    if cfg.device == "cuda" and not _cuda_available():
        raise ConfigError("device=cuda but torch sees no CUDA device; use device=auto or device=cpu")
    for section, key in (("dataset", "path"), ("dataset", "root"), ("model", "path")):
        if cfg[section].get(key) is not None:
            cfg[section][key] = str(Path(cfg[section][key]).expanduser().resolve())
    return cfg


def load_saved(path: Path) -> DictConfig:
    """A run's saved config.yaml, checked as aelat wrote it, then typed and checked like a composed config.

    aelat writes every key, resolved, so a file that is unreadable, not a mapping, lacks keys or holds
    an interpolation (``${oc.env:...}``, never resolved into artifacts) was damaged or edited: an
    ArtifactError naming it. A value the schema refuses is a ConfigError naming the file.
    """
    path = Path(path)
    fix = "restore it, or delete the run folder and re-run `aelat run` with the run's overrides"
    try:
        loaded = yaml.safe_load(read_regular_bytes(path).decode())
    except FileNotFoundError:
        raise ArtifactError(f"{path.parent} is not an aelat run (no {path.name}); pass a folder `aelat train` made") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ArtifactError(f"{path} is unreadable ({schema.one_line(exc)}); {fix}") from None
    if not isinstance(loaded, dict) or not loaded:
        raise ArtifactError(f"{path} holds {'nothing' if not loaded else type(loaded).__name__}, not a run's config; {fix}")
    if _exceeds(loaded, budget=10_000):  # YAML aliases can expand a small file without bound
        raise ArtifactError(f"{path} holds far more values than a run's config; {fix}")
    interpolated = [(key, value) for key, value in flatten(loaded) if isinstance(value, str) and "${" in value]
    if interpolated:
        key, value = interpolated[0]
        raise ArtifactError(f"{path} sets {key}={value!r}, an interpolation: aelat saves configs resolved and never "
                            "resolves one it loads; replace it with the plain value")
    missing = _missing_keys(loaded)
    if missing:
        raise ArtifactError(f"{path} lacks {', '.join(missing[:3])}{' and more' if len(missing) > 3 else ''}; {fix}")
    try:
        return validate(OmegaConf.create(loaded))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}; an older aelat or an edit wrote it: fix the key, or re-run the "
                          "configuration with `aelat run OVERRIDES` into a new folder") from None


def flatten(tree: dict, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(dotted key, value) of every leaf of a nested mapping."""
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _exceeds(tree, budget: int) -> bool:
    """Whether ``tree`` (nested dicts and lists) holds more than ``budget`` values, counting shared ones again."""
    stack, seen = [tree], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > budget:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _missing_keys(saved: dict) -> list[str]:
    """Keys of the composed config of the saved run's dataset and model that ``saved`` lacks."""
    names = {key: saved.get(key).get("name") if isinstance(saved.get(key), dict) else None for key in ("dataset", "model")}
    if not all(isinstance(name, str) for name in names.values()):
        return [f"{key}.name" for key, name in names.items() if not isinstance(name, str)]
    reference = _reference_keys(names["dataset"], names["model"], os.environ.get(EXTRA_CONFIG_ENV))
    have = dict(flatten(saved))
    return [key for key in reference if key not in have]


@functools.lru_cache(maxsize=32)
def _reference_keys(dataset: str, model: str, extra_config_dir: str | None) -> tuple[str, ...]:
    """Every key (but output_dir) of the config composed with ``dataset`` and ``model``; none for a group aelat
    does not know now (say, of an unset AELAT_CONFIG_DIR: the schema decides).

    Composed once per process for each pair and ``extra_config_dir`` (the AELAT_CONFIG_DIR it was composed
    under): every stage a command commits checks the run's saved config, and Hydra takes ~0.5 s to compose.
    """
    try:
        reference = compose([f"dataset={dataset}", f"model={model}", *(["dataset.path=x.npz"] if dataset == "npz" else [])])
    except ConfigError:
        return ()
    return tuple(key for key, _ in flatten(OmegaConf.to_container(reference)) if key != "output_dir")


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


def _cuda_available() -> bool:
    import torch  # here, not at the top: embed and evaluate never load torch

    return torch.cuda.is_available()


def _unknown_key(exc: Exception) -> str | None:
    """For a key the config lacks, Hydra suggests ``+key=value``, which adds a key aelat never reads: name the typo."""
    if not str(exc).startswith("Could not override '"):
        return None
    key = str(exc).split("'")[1]
    return f"Could not override '{key}': {schema.no_such_key(key)}"
