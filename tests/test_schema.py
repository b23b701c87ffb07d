"""The config schema: every key's bad value is refused at compose time, in one line naming the key."""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

import pytest
from omegaconf import OmegaConf
from typer.testing import CliRunner

from aelat import schema
from aelat.cli import app
from aelat.config import apply_overrides, compose, validate
from aelat.errors import ArtifactError, ConfigError
from aelat.models import build_model

# The option each dataset and model schema is reached through, with what it needs to compose.
OPTIONS = {
    ("dataset", schema.DigitsDataset): ["dataset=digits"],
    ("dataset", schema.NpzDataset): ["dataset=npz", "dataset.path=x.npz"],
    ("dataset", schema.TorchvisionDataset): ["dataset=mnist"],
    ("model", schema.MLPModel): ["model=mlp"],
    ("model", schema.ConvModel): ["model=conv"],
    ("model", schema.VAEModel): ["model=vae"],
    ("model", schema.DAEModel): ["model=dae"],
}


# What a setting's inclusive bound needs of the others: a map of 10 points scores neighbourhoods up to k=4.
NEEDS = {"embed.max_points": ["evaluate.neighbourhood.ks=[4]"]}


def bounded_settings():
    """(key, rules, type, overrides that reach it) for every setting with a numeric bound."""
    found = []

    def walk(cls, path, base):
        hints = get_type_hints(cls)
        for spec in dataclasses.fields(cls):
            key = f"{path}.{spec.name}" if path else spec.name
            if dataclasses.is_dataclass(hints[spec.name]):
                walk(hints[spec.name], key, base)
            elif any(bound in spec.metadata for bound in ("ge", "gt", "le", "lt")):
                found.append((key, dict(spec.metadata), schema._scalar_name(hints[spec.name]), base))

    walk(schema.Config, "", [])
    for (group, cls), base in OPTIONS.items():
        walk(cls, group, base)
    return found


def outside(rules: dict, kind: str) -> list:
    """Values just outside each bound of a setting; for a number of any range, infinity too."""
    step = 1 if kind == "int" else 0.5
    values = [] if kind == "int" else ["inf", "-inf"]
    if "ge" in rules:
        values.append(rules["ge"] - step)
    if "gt" in rules:
        values.append(rules["gt"])
    if "le" in rules:
        values.append(rules["le"] + step)
    if "lt" in rules:
        values.append(rules["lt"])
    return values


def as_override(key: str, value, is_list: bool) -> str:
    return f"{key}=[{value}]" if is_list else f"{key}={value}"


SETTINGS = bounded_settings()


def is_list(key: str, base: list) -> bool:
    """Whether the setting holds a list: its value, or for a null default (train.snapshots) its schema type."""
    value = OmegaConf.select(compose(base), key)
    if value is not None:
        return OmegaConf.is_list(value)
    cls, *parents, name = [schema.Config, *key.split(".")]
    for part in parents:
        cls = get_type_hints(cls)[part]
    return "List" in str(get_type_hints(cls)[name])


@pytest.mark.parametrize("key, rules, kind, base", SETTINGS, ids=[f"{s[0]}:{s[3][:1]}" for s in SETTINGS])
def test_every_bound_is_checked_at_compose(key, rules, kind, base):
    listed = is_list(key, base)
    for value in outside(rules, kind):
        with pytest.raises(ConfigError) as info:
            compose([*base, as_override(key, value, listed)])
        message = str(info.value)
        assert message.startswith(key) and "\n" not in message, message
    for bound in ("ge", "le"):  # an inclusive bound itself is allowed (with the settings it needs)
        if bound in rules:
            cfg = compose([*base, *NEEDS.get(key, []), as_override(key, rules[bound], listed)])
            assert OmegaConf.select(cfg, key) == ([rules[bound]] if listed else rules[bound])


@pytest.mark.parametrize("key, rules, kind, base", SETTINGS, ids=[f"{s[0]}:{s[3][:1]}" for s in SETTINGS])
def test_every_number_refuses_text(key, rules, kind, base):
    with pytest.raises(ConfigError) as info:
        compose([*base, as_override(key, "abc", is_list(key, base))])
    word = "an integer" if kind == "int" else "a number"
    assert f"'abc' is not {word}" in str(info.value) and str(info.value).startswith(key)


@pytest.mark.parametrize(
    "overrides, message",
    [
        # issue 13's tracebacks, each now one line at compose time
        (["train.weight_decay=-1"], "train.weight_decay=-1 must be >= 0"),
        (["train.weight_decay=abc"], "train.weight_decay='abc' is not a number; give a number >= 0"),
        (["dataset.test_size=0"], "dataset.test_size=0 must be in (0, 1)"),
        (["dataset.test_size=1"], "dataset.test_size=1 must be in (0, 1)"),
        (["dataset.test_size=-0.2"], "dataset.test_size=-0.2 must be in (0, 1)"),
        (["dataset.test_size=abc"], "dataset.test_size='abc' is not a number; give a number in (0, 1)"),
        (["seed=-1"], "seed=-1 is too small; it must be >= 0"),
        (["seed=4294967296"], "seed=4294967296 is too large; it must be <= 4294967295"),
        (["latent_dim=1000000000"], "latent_dim=1000000000 is too large; it must be <= 65536"),
        (["embed.tsne.perplexity=0"], "embed.tsne.perplexity=0 must be a positive number"),
        (["embed.tsne.perplexity=abc"], "embed.tsne.perplexity='abc' is not a number"),
        (["embed.tsne.metric=nope"], "embed.tsne.metric='nope' is not one of euclidean, l2, cosine"),
        (["evaluate.clustering.gmm_full_max_dim=abc"], "evaluate.clustering.gmm_full_max_dim='abc' is not an integer"),
        # the old split checks let these through to after training
        (["evaluate.distribution.discard_fraction=0"], "evaluate.distribution.discard_fraction=0 must be in (0, 1)"),
        (["evaluate.distribution.n_id_samples=2"], "evaluate.distribution.n_id_samples=2 is too small"),
        # keys that do not exist, also when added with +
        (["+train.lrr=0.5"], "cannot add 'train.lrr': no such config key; did you mean 'train.lr'?"),
        (["+dataset.path=x.npz"], "cannot add 'dataset.path': no such key in this dataset; only dataset=npz has it"),
        (["model.noise=mask"], "Could not override 'model.noise': no such key in this model; only model=dae has it"),
        # types, choices, lists and sections
        (["train.compile=maybe"], "train.compile='maybe' is not true or false; give true or false"),
        (["latent_dim=null"], "latent_dim=null is not allowed; give a whole number >= 1"),
        (["evaluate.knn.ks=[]"], "evaluate.knn.ks=[] must list at least one value >= 1"),
        (["evaluate.knn.ks=[1,a]"], "evaluate.knn.ks[1]='a' is not an integer; give a whole number >= 1"),
        (["evaluate.knn=3"], "evaluate.knn=3 is a section, not a value; set its keys, e.g. evaluate.knn.ks=..."),
        (["embed.umap.init=pca2"], "embed.umap.init='pca2' is not one of spectral, pca, random, tswspectral"),
        (["model=dae", "model.noise=mask", "model.noise_level=1.5"], "model.noise_level=1.5 must be in [0, 1] for"),
        (["model=vae", "model.beta=-1"], "model.beta=-1 must be >= 0; see aelat/conf/model/vae.yaml"),
        (["model.hidden=[64,0]"], "model.hidden entries=0 is too small; it must be >= 1; see aelat/conf/model/mlp"),
        (["train.lr=inf"], "train.lr=inf is infinite; give a finite number"),
        (["output_dir="], "output_dir is empty (an unset shell variable?); give a folder, e.g. output_dir=outputs"),
        (["embed.max_points=20"], "embed.max_points=20 leaves a map too few points for evaluate.neighbourhood.ks "
                                  "(k=10 needs more than 20); raise embed.max_points above 20 or lower the ks"),
    ],
)
def test_bad_value_is_one_line_naming_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        compose(overrides)
    assert message in str(info.value) and "\n" not in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "override",
    ["dataset.path=/data/my file (1).npz", "dataset.path=/data/[old]/x.npz", "dataset.path=~/a b.npz"],
)
def test_an_unreadable_override_says_how_to_quote_it(override):
    with pytest.raises(ConfigError) as info:
        compose(["dataset=npz", override])
    key, _, value = override.partition("=")
    assert f"cannot read the override '{override}'" in str(info.value)
    assert f"\"{key}='{value}'\"" in str(info.value)
    quoted = compose(["dataset=npz", f"{key}='{value}'"])
    assert quoted.dataset.path.endswith(value.rsplit("/", 1)[-1])


def test_values_are_converted_to_their_types():
    cfg = compose(["train.lr=1", "embed.tsne.perplexity=12", "train.compile=true"])
    assert isinstance(cfg.train.lr, float) and cfg.train.lr == 1.0
    assert cfg.embed.tsne.perplexity == 12.0 and cfg.train.compile is True


def test_every_config_section_feeds_its_function_by_name():
    """No renaming table: each evaluate section's keys are arguments of the metric it is named after."""
    import inspect

    from aelat.metrics.distribution import distribution_metrics
    from aelat.metrics.neighbourhood import neighbourhood_scores_of_maps
    from aelat.metrics.structure import clustering_scores, knn_accuracy, linear_probe_accuracy, silhouette

    functions = {"knn": knn_accuracy, "probe": linear_probe_accuracy, "clustering": clustering_scores,
                 "silhouette": silhouette, "neighbourhood": neighbourhood_scores_of_maps,
                 "distribution": distribution_metrics}
    evaluate = compose().evaluate
    for section, function in functions.items():
        assert set(evaluate[section]) <= set(inspect.signature(function).parameters), section
    from aelat.findings import run_findings
    from aelat.metrics.n2d import n2d_clustering
    from aelat.metrics.paired import compare, summarize_points
    from aelat.metrics.shape import gmm_bic, intrinsic_dimension_draws

    def arguments(*fns):
        return set().union(*(inspect.signature(fn).parameters for fn in fns))

    assert set(evaluate.shape.intrinsic_dimension) <= arguments(intrinsic_dimension_draws)
    assert set(evaluate.shape.bic) <= arguments(gmm_bic)
    assert set(evaluate.n2d) - {"of"} <= arguments(n2d_clustering)  # of: which representations
    assert set(evaluate.confidence) <= arguments(compare, summarize_points)
    assert set(evaluate.findings) <= arguments(run_findings)
    assert set(evaluate) == {*functions, "shape", "n2d", "confidence", "findings", "cache"}


def test_tsne_and_umap_metrics_are_ones_the_libraries_accept():
    """openTSNE searches exactly (scikit-learn) below 1000 points and approximately above; umap its own list."""
    import warnings

    from openTSNE import nearest_neighbors

    exact, approx = nearest_neighbors.Sklearn.VALID_METRICS, nearest_neighbors.NNDescent.VALID_METRICS
    assert all(metric in exact and metric in approx for metric in schema.TSNE_METRICS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from umap.distances import named_distances
    assert all(metric in named_distances for metric in schema.UMAP_METRICS)


def test_build_model_checks_options_given_in_python():
    with pytest.raises(ConfigError, match=r"^model.noise_level=-0.1 must be >= 0 for noise=gaussian$"):
        build_model({"name": "dae", "noise_level": -0.1}, (1, 8, 8), 2)
    with pytest.raises(ConfigError, match=r"^model.hidden='wide' is not"):
        build_model({"name": "mlp", "hidden": "wide"}, (64,), 2)


def test_a_saved_config_is_typed_and_checked_too(tmp_path):
    cfg = OmegaConf.to_container(compose())
    cfg["train"]["lr"] = "0.5"  # a hand-edited config.yaml: converted like an override
    assert validate(OmegaConf.create(cfg)).train.lr == 0.5
    cfg["evaluate"]["knn_k"] = [1, 5]  # a key of an older aelat
    with pytest.raises(ConfigError, match=r"cannot add 'evaluate.knn_k': no such config key; did you mean"):
        validate(OmegaConf.create(cfg))
    with pytest.raises(ConfigError, match=r"^seed=-5 is too small; it must be >= 0$"):
        apply_overrides(compose(), ["seed=-5"])
    with pytest.raises(ConfigError, match=r"^cannot apply override 'train.lr=abc': train.lr='abc' is not a number"):
        apply_overrides(compose(), ["train.lr=abc"])


def test_a_run_folder_of_an_older_aelat_names_its_config(tmp_path):
    from aelat.pipeline import open_run

    saved = OmegaConf.to_container(compose())
    saved["evaluate"]["knn_k"] = [1, 5]
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(saved))
    with pytest.raises(ConfigError) as info:
        open_run(tmp_path, [])
    assert str(info.value).startswith(f"{tmp_path / 'config.yaml'}: cannot add 'evaluate.knn_k'")


def test_a_saved_config_is_checked_against_one_compose_per_process(tmp_path, monkeypatch):
    """Each stage a command commits re-reads config.yaml; what it is checked against is composed once."""
    import aelat.config as config

    composed = []
    monkeypatch.setattr(config, "compose", lambda overrides=(): composed.append(overrides) or compose(overrides))
    monkeypatch.delenv("AELAT_CONFIG_DIR", raising=False)
    config._reference_keys.cache_clear()
    saved = OmegaConf.to_container(compose(["latent_dim=3"]))
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(saved))
    assert [config.load_saved(tmp_path / "config.yaml").latent_dim for _ in range(3)] == [3, 3, 3]
    assert len(composed) == 1
    del saved["train"]["lr"]  # a damaged file is still named, against the remembered keys
    (tmp_path / "config.yaml").write_text(OmegaConf.to_yaml(saved))
    with pytest.raises(ArtifactError, match=r"config.yaml lacks train.lr; restore it"):
        config.load_saved(tmp_path / "config.yaml")
    assert len(composed) == 1


def test_leaf_keys_cover_every_option():
    keys = schema.leaf_keys()
    assert {"latent_dim", "train.lr", "evaluate.knn.ks", "dataset.path", "dataset.test_size", "model.noise"} <= {*keys}
    assert "evaluate" not in keys and "dataset" not in keys


@pytest.mark.parametrize("override", ["train.weight_decay=-1", "+train.lrr=0.5", "embed.tsne.metric=nope",
                                      "dataset.test_size=1"])
def test_the_cli_refuses_before_any_work(override, tmp_path):
    out = tmp_path / "outputs"
    result = CliRunner().invoke(app, ["run", override, f"output_dir={out}"])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("aelat: error:") and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_aelat_config_prints_the_composed_config():
    result = CliRunner().invoke(app, ["config", "latent_dim=3", "evaluate.knn.ks=[7]"])
    assert result.exit_code == 0, result.stderr
    printed = OmegaConf.create(result.stdout)
    assert printed == OmegaConf.create(OmegaConf.to_yaml(compose(["latent_dim=3", "evaluate.knn.ks=[7]"])))
    assert printed.latent_dim == 3 and list(printed.evaluate.knn.ks) == [7]
    bad = CliRunner().invoke(app, ["config", "latent_dim=0"])
    assert bad.exit_code == 1 and bad.stderr.strip() == "aelat: error: latent_dim=0 is too small; it must be >= 1"


def test_a_users_own_option_files_are_checked_like_the_shipped_ones(tmp_path, monkeypatch):
    (tmp_path / "dataset").mkdir()
    (tmp_path / "train").mkdir()
    (tmp_path / "dataset" / "mine.yaml").write_text("name: npz\npath: features.npz\nscale: standard\n")
    (tmp_path / "train" / "quick.yaml").write_text("epochs: 2\nbatch_size: 16\n")
    (tmp_path / "train" / "broken.yaml").write_text("epochs: 2\nlr: -1\n")
    (tmp_path / "dataset" / "typo.yaml").write_text("name: npz\npath: x.npz\nsacle: standard\n")
    monkeypatch.setenv("AELAT_CONFIG_DIR", str(tmp_path))
    cfg = compose(["dataset=mine", "train=quick"])
    assert cfg.dataset.scale == "standard" and cfg.dataset.path.endswith("features.npz")
    assert cfg.train.epochs == 2 and cfg.train.lr == 0.001  # the rest from the defaults
    with pytest.raises(ConfigError, match=r"^train.lr=-1 must be a positive number$"):
        compose(["train=broken"])
    with pytest.raises(ConfigError, match=r"^cannot add 'dataset.sacle': no such config key; did you mean 'dataset.scale'\?"):
        compose(["dataset=typo"])


@pytest.mark.parametrize("text", ["name: broken\npath: [a, b\n", "name: evil\npath: !!python/object/apply:os.system [echo]\n"])
def test_a_users_option_file_that_is_not_yaml_is_named(tmp_path, monkeypatch, text):
    """Not an aelat bug: the user's own file, named, with the parser's problem; a python tag is never run."""
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "mine.yaml").write_text(text)
    monkeypatch.setenv("AELAT_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'dataset' / 'mine.yaml'} is not valid YAML \(.*line \d+ "
                                          r"column \d+\); fix it or remove it from AELAT_CONFIG_DIR$"):
        compose(["dataset=mine"])
