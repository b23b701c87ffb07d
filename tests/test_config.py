import pytest

from aelat import artifacts
from aelat.config import apply_overrides, compose, config_hash
from aelat.errors import ConfigError


def test_defaults_compose_to_the_offline_dataset_and_mlp():
    cfg = compose()
    assert cfg.dataset.name == "digits"
    assert cfg.model.name == "mlp" and list(cfg.model.hidden) == [512, 256]
    assert cfg.latent_dim == 16 and cfg.device == "auto"


def test_overrides_pick_groups_and_values(tmp_path):
    cfg = compose(["dataset=npz", f"dataset.path={tmp_path}/x.npz", "latent_dim=8", "train.epochs=5"])
    assert cfg.dataset.name == "npz" and cfg.dataset.path == str(tmp_path / "x.npz")
    assert cfg.latent_dim == 8 and cfg.train.epochs == 5


@pytest.mark.parametrize(
    "override, message",
    [
        ("dataset=nope", "unknown dataset 'nope'; choose one of: cifar10, digits, fashion_mnist, kmnist, mnist, npz"),
        ("model=nope", "unknown model 'nope'; choose one of: conv, dae, mlp, vae"),
        ("latent_dim=0", "latent_dim=0 is too small; it must be >= 1"),
        ("latent_dim=-3", "latent_dim=-3 is too small"),
        ("latent_dim=abc", "latent_dim='abc' is not an integer"),
        ("latent_dim=2.5", "latent_dim=2.5 is not an integer"),
        ("train.epochs=0", "train.epochs=0 is too small"),
        ("train.lr=0", "train.lr=0 must be a positive number"),
        ("device=tpu", "device='tpu' is not one of auto, cpu, cuda"),
        ("latent_dimm=3", "Could not override 'latent_dimm'"),
        ("dataset=npz", "dataset=npz needs a file: add dataset.path=FILE.npz"),
    ],
)
def test_bad_values_raise_one_line(override, message):
    with pytest.raises(ConfigError) as info:
        compose([override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_hash_covers_what_each_stage_reads():
    base = compose()
    assert config_hash(base, "train") == config_hash(compose(), "train")  # stable across compositions
    assert config_hash(compose(["latent_dim=8"]), "train") != config_hash(base, "train")
    # a map's options change the map's hash but not training's, nor another method's
    other = compose(["embed.tsne.perplexity=10"])
    assert config_hash(other, "train") == config_hash(base, "train")
    assert config_hash(other, "embed:tsne") != config_hash(base, "embed:tsne")
    assert config_hash(other, "embed:pca") == config_hash(base, "embed:pca")
    # where outputs go and which device computes them are not part of the result
    assert config_hash(compose(["output_dir=/elsewhere", "device=cpu"]), "train") == config_hash(base, "train")


def test_run_name_is_readable_and_deterministic():
    cfg = compose(["latent_dim=8", "seed=3"])
    name = artifacts.run_name(cfg)
    assert name.startswith("digits-mlp-d8-s3-") and name == artifacts.run_name(compose(["latent_dim=8", "seed=3"]))
    assert name != artifacts.run_name(compose(["latent_dim=8", "seed=3", "train.lr=0.01"]))


def test_apply_overrides_on_a_saved_config():
    cfg = apply_overrides(compose(), ["embed.tsne.perplexity=12"])
    assert cfg.embed.tsne.perplexity == 12
    with pytest.raises(ConfigError, match="picks another config group; drop --run"):
        apply_overrides(compose(), ["dataset=mnist"])
    with pytest.raises(ConfigError, match="latent_dim=0 is too small"):
        apply_overrides(compose(), ["latent_dim=0"])
