"""aelat's config schema: every key with its type, default and allowed range, checked at compose time.

Hydra composes ``conf/config.yaml``. Its first default, ``aelat_schema``, holds :class:`Config`'s
defaults, stored in Hydra's ConfigStore with those of the groups ``train``, ``embed``,
``evaluate``, ``analyse`` and ``report`` (option ``default``): their keys, defaults and ranges live
only here. ``dataset`` and ``model`` take their values from ``conf/dataset/<option>.yaml`` and ``conf/model/<option>.yaml``
(or a user's folder, see ``AELAT_CONFIG_DIR``), plus the keys every option has (:class:`DatasetConfig`:
scale, class_names); their schema is chosen by the section's ``name``, so a user's own option
file is checked like a shipped one.

:func:`typed` re-types a composed (or saved) config against the schema: an unknown key (also one
added with ``+key=value``) or a value of the wrong type is a ConfigError. :func:`check` then tests
every value against its :func:`setting` range and each section's ``cross_check``. Each error is one
line naming the key, the value and the fix.

Config keys are the argument names of the functions they feed, so a section passes on as keyword
arguments with no renaming table between YAML and code, e.g.
``knn_accuracy(Z_train, y_train, Z_test, y_test, **cfg.evaluate.knn)``.

Adding a key
------------
1. Add a field to its section's dataclass, named as the argument it feeds, with a comment::

       snapshots: Optional[List[int]] = setting(None, ge=0)   # epochs whose codes are saved; null: none

   ``setting(default, ge=, gt=, le=, lt=, choices=, min_items=)`` bounds a number (each entry of a
   list), restricts a string to ``choices`` and a list to ``min_items`` entries. The field's type is
   enforced (``int``, ``float``, ``bool``, ``str``, ``Optional[...]`` admits null, ``List[...]``).
   Use ``MISSING`` as the default for a dataset or model key whose value the option's YAML gives.
2. A rule between keys (``noise_level <= 1`` when ``noise=mask``): a ``cross_check(node, path)``
   staticmethod on the dataclass that raises ConfigError; it runs after the per-key checks.
3. A new section: a dataclass, a field ``section(TheConfig)`` in :class:`Config` (it becomes the
   group ``<section>`` with the option ``default``), and ``- <section>: default`` in
   ``conf/config.yaml``'s defaults list.
   A new dataset or model option: a dataclass (subclass of DatasetConfig, ModelConfig) in
   DATASETS or MODELS, and its YAML in ``conf/``.
4. If the key changes what a stage makes, it is hashed with its section (``config.STAGE_KEYS``);
   a key that changes only how a stage runs goes in ``config.NOT_HASHED``.
5. A test: a bad value raises ConfigError at compose (``tests/test_schema.py`` covers every
   setting's bounds automatically; add a case for a ``cross_check``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, List, Optional, Union, get_args, get_origin, get_type_hints

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from aelat.errors import ConfigError

MAX_WIDTH = 65536  # widest latent or layer aelat builds; beyond it a model does not fit in memory
MAX_SEED = 2**32 - 1  # numpy's legacy seeding and scikit-learn's random_state take seeds up to 2**32 - 1
# Metrics openTSNE (scikit-learn's exact search below 1000 points, Annoy or pynndescent above) and
# umap-learn both accept without extra parameters; a test checks them against the libraries' lists.
TSNE_METRICS = ("euclidean", "l2", "cosine", "manhattan", "l1", "chebyshev", "canberra", "braycurtis")
UMAP_METRICS = (*TSNE_METRICS, "correlation")
SCALES = ("unit", "minmax", "standard", "none")  # dataset.scale


def setting(default: Any = MISSING, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None, choices: tuple[str, ...] | None = None, min_items: int | None = None,
            item: str = "value", missing: str | None = None) -> Any:
    """A dataclass field with its allowed range (see the module docstring).

    ``item`` names a list's entries in messages ("width"); ``missing`` is the message when the
    key is left without a value (``???``).
    """
    rules = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "min_items": min_items,
             "item": item, "missing": missing}
    metadata = {key: value for key, value in rules.items() if value is not None}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def section(cls: type) -> Any:
    """A field holding a nested section with its defaults."""
    return field(default_factory=cls)


# --- dataset: values in conf/dataset/<option>.yaml ----------------------------------------------


@dataclass
class DatasetConfig:
    name: str = MISSING
    scale: str = setting("unit", choices=SCALES)  # unit: pixels to [0, 1]; minmax, standard: scikit-learn's
    # scalers fitted on the train split; none: the values as they are
    class_names: Optional[List[str]] = None  # one name per class in label order; null: from the data


@dataclass
class DigitsDataset(DatasetConfig):
    test_size: float = setting(MISSING, gt=0, lt=1)  # share held out for test (stratified, split by seed)


@dataclass
class NpzDataset(DatasetConfig):
    path: str = setting(MISSING, missing="dataset=npz needs a file: add dataset.path=FILE.npz")


@dataclass
class TorchvisionDataset(DatasetConfig):
    root: str = MISSING  # folder holding torchvision's files
    download: bool = MISSING  # true fetches them (needs internet)


DATASETS = {"digits": DigitsDataset, "npz": NpzDataset, "mnist": TorchvisionDataset,
            "fashion_mnist": TorchvisionDataset, "kmnist": TorchvisionDataset, "cifar10": TorchvisionDataset}


# --- model: values in conf/model/<option>.yaml; keys are the model class's arguments ---------------

WIDTHS = {"ge": 1, "le": MAX_WIDTH, "item": "width"}


@dataclass
class ModelConfig:
    name: str = MISSING


@dataclass
class MLPModel(ModelConfig):
    hidden: List[int] = setting(MISSING, **WIDTHS)


@dataclass
class ConvModel(ModelConfig):
    channels: List[int] = setting(MISSING, min_items=1, **WIDTHS)


@dataclass
class BackboneModel(ModelConfig):
    backbone: str = setting(MISSING, choices=("mlp", "conv"))
    hidden: List[int] = setting(MISSING, **WIDTHS)
    channels: List[int] = setting(MISSING, min_items=1, **WIDTHS)


@dataclass
class VAEModel(BackboneModel):
    beta: float = setting(MISSING, ge=0)


@dataclass
class DAEModel(BackboneModel):
    noise: str = setting(MISSING, choices=("gaussian", "mask"))
    noise_level: float = MISSING  # its range depends on noise: see cross_check

    @staticmethod
    def cross_check(node: DictConfig, path: str) -> None:
        level, mask = node.noise_level, node.noise == "mask"
        if not 0 <= level <= (1 if mask else math.inf):
            limit = "in [0, 1] for noise=mask" if mask else ">= 0 for noise=gaussian"
            raise ConfigError(f"{path}.noise_level={level} must be {limit}")


@dataclass
class ExternalModel(ModelConfig):  # embeddings made outside aelat; only `aelat score FILE.npz` sets it
    path: str = MISSING  # the .npz with z_train, y_train, z_test, y_test


MODELS = {"mlp": MLPModel, "conv": ConvModel, "vae": VAEModel, "dae": DAEModel, "external": ExternalModel}


# --- train, embed, evaluate: the groups' defaults are these dataclasses -------------------------


@dataclass
class TrainConfig:
    epochs: int = setting(30, ge=1)
    batch_size: int = setting(128, ge=1)
    lr: float = setting(0.001, gt=0)  # Adam
    weight_decay: float = setting(0.0, ge=0)  # Adam
    checkpoint_every: int = setting(5, ge=0)  # epochs between saves of checkpoint.pt (0: never); resumed from
    compile: bool = False  # torch.compile the training step (on CPU it needs a C compiler); see bench/RESULTS.md
    deterministic: bool = False  # same bits on any machine of this CPU/GPU type: deterministic torch ops, one CPU thread (slower)
    # Training dynamics: the epochs at which the codes of one fixed seeded sample are saved (snapshots.npz)
    # for `aelat analyse`; null: 0, 1, 2, 4, 8, ... and the last epoch; []: none; 0 is the untrained net.
    snapshots: Optional[List[int]] = setting(None, ge=0, item="epoch")
    snapshot_train: Optional[int] = setting(None, ge=1)  # train points in that sample; null: 5000, or all when fewer
    snapshot_test: Optional[int] = setting(None, ge=1)  # test points in it; null: 2000, or all when fewer

    @staticmethod
    def cross_check(node: DictConfig, path: str) -> None:
        late = [epoch for epoch in node.snapshots or [] if epoch > node.epochs]
        if late:
            raise ConfigError(f"{path}.snapshots has epoch {late[0]} but training stops after {path}.epochs="
                              f"{node.epochs}; drop it or raise {path}.epochs")


@dataclass
class TSNEConfig:  # openTSNE.TSNE's arguments
    perplexity: float = setting(30, gt=0)  # openTSNE lowers one too high for the points, with a warning
    initialization: str = setting("pca", choices=("pca", "spectral", "random"))
    metric: str = setting("euclidean", choices=TSNE_METRICS)
    n_jobs: Union[int, str] = "auto"  # threads; auto = aelat's `threads`, one below 5000 points; -1 = all cores
    early_exaggeration_iter: int = setting(250, ge=0)  # iterations of the early exaggeration phase
    n_iter: int = setting(500, ge=1)  # iterations after it
    exaggeration: Optional[float] = setting(None, gt=0)  # exaggeration after the early phase; null = none (1)
    dof: float = setting(1.0, gt=0)  # degrees of freedom of the t-distribution; < 1 makes tighter clusters

    @staticmethod
    def cross_check(node: DictConfig, path: str) -> None:
        n_jobs = node.n_jobs
        if n_jobs != "auto" and (not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0):
            raise ConfigError(f"{path}.n_jobs={n_jobs!r} must be auto or a whole number other than 0 (-1: all cores)")


@dataclass
class UMAPConfig:  # umap.UMAP's arguments (umap-learn); seeded, so single-threaded and reproducible
    n_neighbors: int = setting(15, ge=2)  # local neighbourhood; larger = more global structure (lowered to n-1)
    min_dist: float = setting(0.1, ge=0)  # how tightly points may pack in the map, 0..spread (1.0)
    metric: str = setting("euclidean", choices=UMAP_METRICS)
    init: str = setting("spectral", choices=("spectral", "pca", "random", "tswspectral"))
    n_epochs: Optional[int] = setting(None, ge=1)  # null = umap's default (500 below 10000 points, else 200)


@dataclass
class EmbedConfig:
    max_points: Optional[int] = setting(None, ge=10)  # cap on the training points a map is fitted on; null = all
    cache: bool = True  # reuse a map of the same points, parameters and seed from any run in output_dir (.cache/maps)
    tsne: TSNEConfig = section(TSNEConfig)
    umap: UMAPConfig = section(UMAPConfig)


# What `aelat evaluate` measures on every representation. Each section holds the keyword arguments of
# one aelat.metrics function. Sample sizes bound time and memory at MNIST scale (70,000 points);
# every sample is drawn with the run's seed.


@dataclass
class KNNConfig:  # metrics.structure.knn_accuracy: fitted on train, scored on test
    ks: List[int] = setting([1, 5, 10], ge=1, min_items=1)


@dataclass
class ProbeConfig:  # metrics.structure.linear_probe_accuracy
    max_train: Optional[int] = setting(None, ge=10)  # train points it is fitted on; null = all (a cap favours low-dimensional inputs)


@dataclass
class ClusteringConfig:  # metrics.structure.clustering_scores: k-means and a Gaussian mixture
    fit_size: Optional[int] = setting(10000, ge=10)  # points they are fitted and scored on, per seed; null = all
    gmm_full_max_dim: int = setting(64, ge=0)  # full mixture covariances up to this dimension, diagonal above
    n_seeds: int = setting(5, ge=1)  # fits (seeds seed, seed+1, ...); metrics.json holds their mean and sd


@dataclass
class SilhouetteConfig:  # metrics.structure.silhouette
    sample_size: Optional[int] = setting(5000, ge=10)  # points it is computed on; null = all


@dataclass
class NeighbourhoodConfig:  # metrics.neighbourhood.neighbourhood_scores_of_maps: 2-D maps vs their source
    ks: List[int] = setting([5, 10], ge=1, min_items=1)  # trustworthiness, continuity, kNN preservation at these k
    sample_size: Optional[int] = setting(2000, ge=10)  # query points (standard error < 0.003); null = all, O(n^2)


@dataclass
class DistributionConfig:  # metrics.distribution.distribution_metrics, for representations of >= 2 dimensions
    n_pair_samples: int = setting(1000, ge=2)  # points for the between/within-class distance ratio
    n_gaussianity_samples: int = setting(500, ge=4)  # points per Gaussianity test, apart from those fitting the Gaussian
    n_moments: int = setting(6000, ge=4)  # points whose mean and covariance define that fitted Gaussian
    n_bootstrap: int = setting(200, ge=1)  # parametric-bootstrap data sets for its p-value (smallest p: 1/201)
    gaussianity_max_dim: int = setting(32, ge=1)  # above this dimension, test the top principal subspace of this size
    n_id_samples: int = setting(3000, ge=3)  # points for the intrinsic-dimension estimates
    k: int = setting(20, ge=2)  # neighbours of the Levina-Bickel estimator
    discard_fraction: float = setting(0.1, gt=0, lt=1)  # largest ratios TwoNN discards
    n_directions: int = setting(1000, ge=2)  # random directions (orthonormal frames) of sliced Wasserstein; s.e. ~0.002 on MNIST
    n_per_class: int = setting(2000, ge=1)  # points per class for sliced Wasserstein


@dataclass
class IntrinsicDimensionConfig:  # metrics.shape.intrinsic_dimension_draws (k, discard_fraction: evaluate.distribution's)
    n_samples: int = setting(1000, ge=3)  # points per draw
    n_draws: int = setting(5, ge=2)  # disjoint draws; their spread gives the interval


@dataclass
class BICConfig:  # metrics.shape.gmm_bic, up to evaluate.clustering.gmm_full_max_dim dimensions
    sample_size: Optional[int] = setting(5000, ge=10)  # points the mixtures are fitted on; null = all


@dataclass
class ShapeConfig:  # the shape of Q for raw, PCA, untrained and latent (not the maps)
    intrinsic_dimension: IntrinsicDimensionConfig = section(IntrinsicDimensionConfig)
    bic: BICConfig = section(BICConfig)


@dataclass
class N2DConfig:  # metrics.n2d.n2d_clustering: UMAP to n_components dimensions, then a Gaussian mixture
    of: List[str] = setting(["latent"])  # representations clustered this way; [] for none (about 2 min per 70,000 points)
    n_components: int = setting(10, ge=1)  # dimensions of the UMAP map
    n_neighbors: int = setting(10, ge=2)  # UMAP's neighbourhood size
    min_dist: float = setting(0.0, ge=0)  # UMAP's minimum distance


@dataclass
class ConfidenceConfig:  # intervals and paired comparisons (metrics.confidence, metrics.paired)
    level: float = setting(0.95, gt=0, lt=1)  # confidence level of every interval
    n_resamples: int = setting(200, ge=10)  # paired bootstrap replicates (clustering scores, silhouette)
    silhouette_sample: Optional[int] = setting(2000, ge=10)  # points of the silhouette comparisons; null = all (O(n^2))


@dataclass
class FindingsConfig:  # findings.run_findings: what report.md's Findings state
    alpha: float = setting(0.05, gt=0, lt=1)  # family-wise error rate of the comparisons stated (Holm)
    min_trustworthiness: float = setting(0.9, gt=0, lt=1)  # a 2-D map below this trustworthiness is flagged
    loss_still_falling: float = setting(0.01, gt=0, lt=1)  # relative fall of the test loss per epoch (last 3) flagged


@dataclass
class EvaluateConfig:
    knn: KNNConfig = section(KNNConfig)
    probe: ProbeConfig = section(ProbeConfig)
    clustering: ClusteringConfig = section(ClusteringConfig)
    silhouette: SilhouetteConfig = section(SilhouetteConfig)
    neighbourhood: NeighbourhoodConfig = section(NeighbourhoodConfig)
    distribution: DistributionConfig = section(DistributionConfig)
    shape: ShapeConfig = section(ShapeConfig)
    n2d: N2DConfig = section(N2DConfig)
    confidence: ConfidenceConfig = section(ConfidenceConfig)
    findings: FindingsConfig = section(FindingsConfig)
    cache: bool = True  # reuse scores of identical representations across runs in output_dir (.cache/scores)


# What `aelat analyse` measures on train's seeded sample (train.snapshot_train + train.snapshot_test
# points): dynamics.csv, layers.csv, geometry.csv and, for model=vae, holes.json.


@dataclass
class ProfileConfig:  # metrics.profile.separation_profile: each snapshot (dynamics.csv) and each layer (layers.csv)
    knn_k: int = setting(10, ge=1)  # kNN@k, fitted on the sample's train points, scored on its test points
    n_directions: int = setting(1000, ge=2)  # directions (orthonormal frames) of the sliced W2 between classes, as evaluate
    id_samples: int = setting(3000, ge=3)  # points of the TwoNN intrinsic dimension
    id_resamples: int = setting(200, ge=10)  # bootstrap draws of its 95 % interval (layers.csv)


@dataclass
class LayerDistanceConfig:  # metrics.layers.layer_distance: sliced W2 from each layer to the next
    n_components: int = setting(64, ge=1)  # principal components two layers are compared in
    n_directions: int = setting(100, ge=1)  # random directions of the sliced W2
    n_samples: int = setting(3000, ge=3)  # points the comparison uses


@dataclass
class HolesConfig:  # metrics.holes.prior_holes (model=vae)
    n_prior: int = setting(10000, ge=1)  # draws from N(0, I)
    quantile: float = setting(0.99, gt=0, lt=1)  # of the codes' nearest-neighbour distances: beyond it, a hole


@dataclass
class AnalyseConfig:
    # sample train points where the Jacobian of g is taken; null: 1000, or all when fewer
    geometry_points: Optional[int] = setting(None, ge=1)
    profile: ProfileConfig = section(ProfileConfig)
    layer_distance: LayerDistanceConfig = section(LayerDistanceConfig)
    holes: HolesConfig = section(HolesConfig)
    cache: bool = True  # reuse measurements of identical inputs across runs in output_dir (.cache/profiles)


@dataclass
class ReportConfig:  # report.md and report.html (aelat.report, aelat.explorer)
    max_points: Optional[int] = setting(5000, ge=1)  # test points in each map of report.html (seeded sample); null = all


@dataclass
class Config:
    dataset: Any = field(default=MISSING, metadata={"schemas": DATASETS, "base": DatasetConfig})  # by dataset.name
    model: Any = field(default=MISSING, metadata={"schemas": MODELS, "base": ModelConfig})  # by model.name
    train: TrainConfig = section(TrainConfig)
    embed: EmbedConfig = section(EmbedConfig)
    evaluate: EvaluateConfig = section(EvaluateConfig)
    analyse: AnalyseConfig = section(AnalyseConfig)
    report: ReportConfig = section(ReportConfig)
    latent_dim: int = setting(16, ge=1, le=MAX_WIDTH)  # size of the autoencoder's code
    seed: int = setting(0, ge=0, le=MAX_SEED)  # fixes the split, the initial weights, batch order, maps, samples
    device: str = setting("auto", choices=("auto", "cpu", "cuda"))  # auto: CUDA when present
    threads: Optional[int] = setting(None, ge=1)  # CPU threads of torch, BLAS, openTSNE, numba; null = the cores it may use
    # Worker processes in which a run computes its single-threaded t-SNE maps, and the scores of its
    # representations, while it goes on with analyse; auto = `threads` over the threads one map uses
    # (one below 5000 points), so none where a map takes every core; 1 = all in this process. Same numbers.
    jobs: Union[int, str] = "auto"
    output_dir: str = "outputs"  # one folder per configuration is made inside

    @staticmethod
    def cross_check(node: DictConfig, path: str) -> None:
        jobs = node.jobs
        if jobs != "auto" and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
            raise ConfigError(f"jobs={jobs!r} must be auto or a whole number >= 1 (1: no worker processes)")
        cap, largest_k = node.embed.max_points, max(node.evaluate.neighbourhood.ks)
        if cap is not None and cap <= 2 * largest_k:  # each map's neighbourhoods are scored on its points
            raise ConfigError(f"embed.max_points={cap} leaves a map too few points for evaluate.neighbourhood.ks "
                              f"(k={largest_k} needs more than {2 * largest_k}); raise embed.max_points above "
                              f"{2 * largest_k} or lower the ks")


def register() -> None:
    """Store the defaults of the root and of each section's group (train, embed, evaluate, ...) in Hydra's ConfigStore.

    They are stored as plain values, not typed nodes: Hydra composes them with the overrides as
    written, and :func:`typed` and :func:`check` judge the result in one place (a message shows
    ``train.lr=0`` as given, not as converted).
    """
    store = ConfigStore.instance()
    root = OmegaConf.to_container(OmegaConf.structured(Config))
    for spec in dataclasses.fields(Config):  # dataset, model: the keys every option has, with their defaults
        if "base" in spec.metadata:
            common = OmegaConf.to_container(OmegaConf.structured(spec.metadata["base"]))
            root[spec.name] = {key: value for key, value in common.items() if value != MISSING}
    store.store(name="aelat_schema", node=root)
    for group in sections():
        if group not in _options(Config):
            store.store(group=group, name="default", node=root[group])


def sections() -> list[str]:
    """The config groups: dataset, model (options by name) and every section with its own dataclass."""
    hints = get_type_hints(Config)
    return [f.name for f in dataclasses.fields(Config) if "schemas" in f.metadata or dataclasses.is_dataclass(hints[f.name])]


# --- typing and checking ------------------------------------------------------------------------


def typed(cfg: DictConfig | dict, cls: type = Config, path: str = "") -> DictConfig:
    """``cfg`` merged into the schema ``cls``: values converted to their types, unknown keys refused.

    A section typed ``Any`` with ``schemas`` metadata (dataset, model) gets the schema its ``name`` picks.
    """
    plain = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    if not isinstance(plain, dict):
        raise ConfigError(f"{path or 'the config'} must be a mapping of keys to values, not {plain!r}")
    by_name = _options(cls)
    _require_sections(plain, cls, path)
    node = OmegaConf.structured(cls)
    try:
        node = OmegaConf.merge(node, {key: value for key, value in plain.items() if key not in by_name})
    except OmegaConfBaseException as exc:
        raise ConfigError(describe_error(exc, cls, path, plain)) from None
    for key, schemas in by_name.items():
        if key in plain:
            sub = _join(path, key)
            node[key] = typed(plain[key], schema_for(plain[key], schemas, sub), sub)
    return node


def _require_sections(plain: dict, cls: type, path: str) -> None:
    """Refuse a value where the schema has a section (``evaluate.knn=3``), which OmegaConf words obscurely."""
    hints = get_type_hints(cls)
    for key, value in plain.items():
        if dataclasses.is_dataclass(hints.get(key)):
            if not isinstance(value, dict):
                first = leaf_keys(hints[key], _join(path, key))[0]
                raise ConfigError(f"{_join(path, key)}={value!r} is a section, not a value; "
                                  f"set its keys, e.g. {first}=...")
            _require_sections(value, hints[key], _join(path, key))


def schema_for(values: Any, schemas: dict[str, type], path: str) -> type:
    """The schema of a dataset or model section, by its ``name``."""
    name = values.get("name") if isinstance(values, dict) else None
    if name not in schemas:
        raise ConfigError(f"{path}.name={name!r} is not one of {', '.join(schemas)}")
    return schemas[name]


def check(node: DictConfig, cls: type = Config, path: str = "", where: str = "", given: Any = None) -> None:
    """Check every value of a typed ``node`` against its setting, then the section's cross_check.

    ``where`` ends each message about a single value (the option file of a dataset or model);
    ``given``, the values before typing, shows a value as it was written (0, not 0.0).
    """
    hints = get_type_hints(cls)
    given = given if isinstance(given, dict) else {}
    for spec in dataclasses.fields(cls):
        key = _join(path, spec.name)
        if OmegaConf.is_missing(node, spec.name):
            raise ConfigError(spec.metadata.get("missing") or f"{key} has no value; set {key}=VALUE{where}")
        try:
            value = node[spec.name]
        except OmegaConfBaseException as exc:  # an interpolation that does not resolve to its type
            raise ConfigError(f"{key}: {one_line(exc)}") from None
        if "schemas" in spec.metadata:
            option = schema_for({"name": value.name}, spec.metadata["schemas"], key)
            check(value, option, key, f"; see aelat/conf/{key}/{value.name}.yaml", given.get(spec.name))
        elif dataclasses.is_dataclass(hints[spec.name]):
            check(value, hints[spec.name], key, where, given.get(spec.name))
        elif value is not None:
            written = given.get(spec.name)
            _check_value(key, value, spec.metadata, where, written if type(written) in (int, float) else value)
    if hasattr(cls, "cross_check"):
        cls.cross_check(node, path)


def checked_options(section: str, values: dict) -> dict:
    """A dataset or model section given in Python (e.g. to ``build_model``), typed and checked like a composed one."""
    cls = schema_for(values, _options(Config)[section], section)
    node = typed(values, cls, section)
    check(node, cls, section, f"; see aelat/conf/{section}/{values['name']}.yaml", values)
    return OmegaConf.to_container(node)


def _options(cls: type) -> dict[str, dict[str, type]]:
    """The sections of ``cls`` whose schema their ``name`` picks: section -> {name: schema}."""
    return {f.name: f.metadata["schemas"] for f in dataclasses.fields(cls) if "schemas" in f.metadata}


def _check_value(key: str, value: Any, rules: dict, where: str = "", shown: Any = None) -> None:
    if isinstance(value, ListConfig):
        if len(value) < rules.get("min_items", 0):
            count = {1: "one"}.get(rules["min_items"], rules["min_items"])
            bound = f" >= {rules['ge']}" if "ge" in rules else ""
            raise ConfigError(f"{key}={list(value)} must list at least {count} {rules['item']}{bound}{where}")
        for entry in value:
            _check_value(f"{key} entries", entry, rules, where)
        return
    if "choices" in rules and value not in rules["choices"]:
        raise ConfigError(f"{key}={value!r} is not one of {', '.join(rules['choices'])}{where}")
    if isinstance(value, float) and math.isinf(value):  # no setting means anything at infinity
        raise ConfigError(f"{key}={value if shown is None else shown} is infinite; give a finite number{where}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not _in_range(value, rules):
        shown = value if shown is None else shown
        if isinstance(value, int) and "ge" in rules and value < rules["ge"]:
            raise ConfigError(f"{key}={shown} is too small; it must be >= {rules['ge']}{where}")
        if isinstance(value, int) and "le" in rules and value > rules["le"]:
            raise ConfigError(f"{key}={shown} is too large; it must be <= {rules['le']}{where}")
        bounds = _bounds(rules)
        raise ConfigError(f"{key}={shown!r} must be {'a positive number' if bounds == '> 0' else bounds}{where}")


def _in_range(value: float, rules: dict) -> bool:
    return not (
        math.isnan(value)
        or ("ge" in rules and value < rules["ge"]) or ("gt" in rules and value <= rules["gt"])
        or ("le" in rules and value > rules["le"]) or ("lt" in rules and value >= rules["lt"])
    )


def _bounds(rules: dict) -> str:
    """">= 1", "> 0", "in (0, 1)", ... for a setting's bounds ("" when it has none)."""
    low = ("[", rules["ge"]) if "ge" in rules else ("(", rules["gt"]) if "gt" in rules else None
    high = ("]", rules["le"]) if "le" in rules else (")", rules["lt"]) if "lt" in rules else None
    if low and high:
        return f"in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {low[1]:g}"
    if high:
        return f"{'<=' if high[0] == ']' else '<'} {high[1]:g}"
    return ""


def describe_error(exc: OmegaConfBaseException, cls: type = Config, path: str = "", given: Any = None) -> str:
    """One line for an OmegaConf error raised while typing or overriding a config under ``cls``.

    ``given``: the values being typed, to quote the offending one.
    """
    key = _join(path, exc.full_key or "")
    if isinstance(exc, (ConfigKeyError, ConfigAttributeError)):
        return f"cannot add '{key}': {no_such_key(key)}"
    rules, kind = _field_rules(cls, exc.full_key or "")
    if kind == "value" and dataclasses.is_dataclass(exc.object_type):  # a key under a dataset or model section
        rules, kind = _field_rules(exc.object_type, (exc.full_key or "").split(".")[-1])
    found = re.match(r"Value '(.*)' (?:of type '([\w.]+)' could not be converted to|is not a valid bool)", str(exc))
    if found:
        shown = found.group(1) if found.group(2) not in (None, "str") else repr(found.group(1))
        return f"{key}={shown} " + "; ".join(_type_text(kind, rules))
    if "is not a ListConfig, list or tuple" in str(exc):
        value = OmegaConf.select(OmegaConf.create(given or {}), exc.full_key or "", default="that value")
        return f"{key}={value!r} is not a list; give a list such as [1, 2]"
    if "is not Optional" in str(exc) or str(exc).startswith("Incompatible value 'None'"):
        return f"{key}=null is not allowed; {_type_text(kind, rules)[1]}"
    return f"{key}: {one_line(exc)}" if key else one_line(exc)


def _type_text(kind: str, rules: dict) -> tuple[str, str]:
    """(what is wrong, the fix) for a value that is not of type ``kind``."""
    bounds = f" {_bounds(rules)}" if _bounds(rules) else ""
    if kind == "int":  # the lower bound only: a too large integer is rare, and says so when given
        lower = f" >= {rules['ge']}" if "ge" in rules else ""
        return "is not an integer", f"give a whole number{lower}"
    if kind == "float":
        return "is not a number", f"give a number{bounds}"
    if kind == "bool":
        return "is not true or false", "give true or false"
    return f"is not a {kind}", f"give a {kind}"


def _field_rules(cls: type, full_key: str) -> tuple[dict, str]:
    """The rules and the scalar type name ("int", "float", ...) of the field at ``full_key`` under ``cls``."""
    parts = [part for part in re.sub(r"\[\d+\]", "", full_key).split(".") if part]
    for index, part in enumerate(parts):
        specs = {spec.name: spec for spec in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if part not in specs:
            break
        hint = get_type_hints(cls)[part]
        if index < len(parts) - 1:
            cls = hint
            continue
        return dict(specs[part].metadata), _scalar_name(hint)
    return {}, "value"


def _scalar_name(hint: Any) -> str:
    while get_origin(hint) in (Union, list, List):
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    return getattr(hint, "__name__", str(hint))


def leaf_keys(cls: type = Config, path: str = "") -> list[str]:
    """Every dotted key of a value in the schema ``cls`` (dataset and model: the keys of every option)."""
    found: list[str] = []
    hints = get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        key = _join(path, spec.name)
        subs = list(dict.fromkeys(spec.metadata.get("schemas", {}).values()))
        if dataclasses.is_dataclass(hints[spec.name]):
            subs.append(hints[spec.name])
        for sub in subs:
            found += [k for k in leaf_keys(sub, key) if k not in found]
        if not subs:
            found.append(key)
    return found


def no_such_key(key: str) -> str:
    """Why ``key`` is not in the config, and the fix: the options that have it, or the closest key."""
    group, _, rest = key.partition(".")
    owners = [name for name, cls in _options(Config).get(group, {}).items() if rest in leaf_keys(cls)]
    if owners:
        return f"no such key in this {group}; only {group}={'|'.join(owners)} has it"
    return f"no such config key; {did_you_mean(key, leaf_keys())}"


def did_you_mean(key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1)
    return f"did you mean '{close[0]}'?" if close else "see `aelat config` for the keys"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path and key else path or key


def one_line(exc: Exception) -> str:
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip() and "See https" not in line)


register()
