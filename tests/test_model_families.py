"""The conv, vae and dae families (and mlp beside them): shapes, training, the VAE's KL, the DAE's noise."""

import re

import pytest
import torch
from omegaconf import OmegaConf
from torch.distributions import Normal

from aelat.data.digits import load_digits
from aelat.errors import ConfigError
from aelat.models import MODELS, build_model, checkpoint, load_checkpoint
from aelat.models.vae import kl_divergence

# Small widths keep every test fast; the structure is that of the shipped configs.
FAMILIES = {
    "mlp": {"name": "mlp", "hidden": [32, 16]},
    "conv": {"name": "conv", "channels": [8, 16]},
    "vae-mlp": {"name": "vae", "backbone": "mlp", "hidden": [32, 16], "beta": 1.0},
    "vae-conv": {"name": "vae", "backbone": "conv", "channels": [8, 16], "beta": 1.0},
    "dae-mlp": {"name": "dae", "backbone": "mlp", "hidden": [32, 16], "noise": "gaussian", "noise_level": 0.2},
    "dae-conv": {"name": "dae", "backbone": "conv", "channels": [8, 16], "noise": "mask", "noise_level": 0.3},
}
IMAGE_SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 7, 9)]
FLAT_FAMILIES = [family for family, cfg in FAMILIES.items() if "hidden" in cfg]


def _cases():
    for family in FAMILIES:
        for shape in IMAGE_SHAPES + ([(20,)] if family in FLAT_FAMILIES else []):
            yield pytest.param(family, shape, id=f"{family}-{'x'.join(map(str, shape))}")


@pytest.fixture(scope="module")
def digits():
    return load_digits(test_size=0.5, seed=0).x_train[:128]


def test_registry_names_the_four_families():
    assert set(MODELS) == {"mlp", "conv", "vae", "dae"}


@pytest.mark.parametrize("family, shape", list(_cases()))
def test_encode_and_forward_shapes(family, shape):
    model = build_model(FAMILIES[family], shape, 3)
    x = torch.rand(5, *shape)
    assert model.encode(x).shape == (5, 3)
    out = model(x).detach()
    assert out.shape == x.shape and 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert tuple(model.sample_shape) == shape and model.latent_dim == 3


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 5, 3), (1, 2, 2), (1, 15, 16), (4, 9, 7), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("channels", [[4], [4, 8], [4, 8, 8]])
def test_conv_decoder_gives_back_the_exact_input_shape(shape, channels):
    model = build_model({"name": "conv", "channels": channels}, shape, 2)
    assert model.decoder(torch.zeros(3, 2)).shape == (3, *shape)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_thirty_adam_steps_lower_the_loss(family, digits):
    torch.manual_seed(0)
    model = build_model(FAMILIES[family], (1, 8, 8), 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def seeded_loss():  # the vae and dae losses draw noise: compare them under the same draws
        torch.manual_seed(1)
        return model.loss(digits).item()

    before = seeded_loss()
    for _ in range(30):
        optimizer.zero_grad()
        model.loss(digits).backward()
        optimizer.step()
    after = seeded_loss()
    assert after < 0.8 * before, f"{family}: loss {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_gives_same_initial_weights(family):
    weights = []
    for _ in range(2):
        torch.manual_seed(5)
        weights.append(build_model(FAMILIES[family], (1, 8, 8), 2).state_dict())
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_checkpoint_round_trip(family, tmp_path):
    shape = (1, 7, 9)
    model = build_model(FAMILIES[family], shape, 3)
    torch.save(checkpoint(model, OmegaConf.create(FAMILIES[family])), tmp_path / "model.pt")
    loaded = load_checkpoint(tmp_path / "model.pt", torch.device("cpu"))
    assert type(loaded) is type(model)
    x = torch.rand(4, *shape)
    assert torch.equal(loaded(x), model(x)) and torch.equal(loaded.encode(x), model.encode(x))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_held_out_losses_are_the_objective_and_the_mse_of_separate_passes(family, digits):
    torch.manual_seed(0)
    model = build_model(FAMILIES[family], (1, 8, 8), 4).eval()
    with torch.no_grad():
        torch.manual_seed(3)  # the vae's objective draws z: give both computations the same draw
        objective, mse = model.held_out_losses(digits)
        torch.manual_seed(3)
        assert torch.equal(objective, model.loss(digits))
        assert torch.equal(mse, ((model(digits) - digits) ** 2).mean())


def test_held_out_scores_weigh_batches_by_their_size(digits):
    from aelat.models.inference import held_out_scores, reconstruction_mse

    torch.manual_seed(0)
    model = build_model(FAMILIES["mlp"], (1, 8, 8), 4)
    objective, mse = held_out_scores(model, digits, batch_size=50)  # 128 rows: batches of 50, 50, 28
    with torch.no_grad():
        whole = float(((model(digits) - digits) ** 2).mean())
    assert objective == pytest.approx(whole, rel=1e-6) and mse == pytest.approx(whole, rel=1e-6)
    assert mse == pytest.approx(reconstruction_mse(model, digits), rel=1e-6)


# --- VAE ---------------------------------------------------------------------------------------


def test_kl_divergence_matches_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(50, 6, generator=generator, dtype=torch.float64) * 2
    logvar = torch.randn(50, 6, generator=generator, dtype=torch.float64) * 2
    expected = torch.distributions.kl_divergence(Normal(mean, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    assert kl_divergence(mean, logvar).shape == (50,)
    torch.testing.assert_close(kl_divergence(mean, logvar), expected)


def test_kl_divergence_is_exactly_zero_at_the_prior():
    assert torch.equal(kl_divergence(torch.zeros(4, 3), torch.zeros(4, 3)), torch.zeros(4))


@pytest.mark.parametrize("family", ["vae-mlp", "vae-conv"])
def test_vae_encode_is_the_deterministic_posterior_mean(family):
    model = build_model(FAMILIES[family], (1, 8, 8), 3).train()
    x = torch.rand(6, 1, 8, 8)
    mean, logvar = model.posterior(x)
    assert mean.shape == logvar.shape == (6, 3)
    assert torch.equal(model.encode(x), mean) and torch.equal(model.encode(x), model.encode(x))
    assert torch.equal(model(x), model.decode(mean))


def test_beta_scales_the_kl_term(digits):
    models = {}
    for beta in (1.0, 2.0):
        torch.manual_seed(0)
        models[beta] = build_model({**FAMILIES["vae-mlp"], "beta": beta}, (1, 8, 8), 4)
    x = digits[:32]
    losses = {}
    for beta, model in models.items():
        torch.manual_seed(3)
        losses[beta] = model.loss(x)
    kl = kl_divergence(*models[1.0].posterior(x)).mean()
    assert kl > 0
    torch.testing.assert_close(losses[2.0] - losses[1.0], kl)


def test_vae_loss_is_the_negative_elbo_of_a_bernoulli_decoder(digits):
    torch.manual_seed(0)
    model = build_model(FAMILIES["vae-mlp"], (1, 8, 8), 4)
    x = digits[:16]
    torch.manual_seed(3)
    loss = model.loss(x)
    torch.manual_seed(3)
    mean, logvar = model.posterior(x)
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    decoder = torch.distributions.Bernoulli(logits=model.decoder(z), validate_args=False)  # pixels in [0, 1]
    log_likelihood = decoder.log_prob(x).sum(dim=(1, 2, 3))
    torch.testing.assert_close(loss, (kl_divergence(mean, logvar) - log_likelihood).mean(), rtol=1e-4, atol=1e-3)


# --- DAE ---------------------------------------------------------------------------------------


def test_dae_adds_noise_in_training_mode_only(digits):
    model = build_model(FAMILIES["dae-mlp"], (1, 8, 8), 4)
    x = digits[:32]
    assert torch.equal(model.train()(x), model(x))  # forward is clean even in training mode
    clean = torch.nn.functional.mse_loss(model(x), x)
    assert torch.equal(model.eval().loss(x), clean)
    assert not torch.equal(model.train().loss(x), clean)


@pytest.mark.parametrize("level", [0.1, 0.5])
def test_mask_noise_zeroes_about_noise_level_of_pixels(level):
    model = build_model({**FAMILIES["dae-conv"], "noise_level": level}, (1, 28, 28), 2)
    x = 0.5 + 0.5 * torch.rand(100, 1, 28, 28)  # no zero pixels before masking
    noisy = model.corrupt(x)
    share = float((noisy == 0).float().mean())
    assert abs(share - level) < 0.01, f"masked share {share:.4f}, expected {level}"
    assert torch.equal(noisy[noisy != 0], x[noisy != 0])


def test_gaussian_noise_has_noise_level_std_and_stays_in_unit_range():
    model = build_model(FAMILIES["dae-mlp"], (1, 28, 28), 2)
    x = torch.full((100, 1, 28, 28), 0.5)
    noisy = model.corrupt(x)
    assert 0.0 <= float(noisy.min()) and float(noisy.max()) <= 1.0
    assert abs(float((noisy - x).std()) - 0.2) < 0.01  # 0.5 +- 2.5 std: clipping is negligible


# --- configuration errors ----------------------------------------------------------------------


def test_conv_on_flat_samples_names_the_fix():
    message = (
        "model=conv needs images of shape (C, H, W) but the dataset gives flat samples of shape (64,); "
        "use model=mlp, or give the npz images as (n, H, W) or (n, H, W, C)"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        build_model({"name": "conv", "channels": [4]}, (64,), 2)


@pytest.mark.parametrize("name", ["vae", "dae"])
def test_conv_backbone_on_flat_samples_names_the_fix(name):
    with pytest.raises(ConfigError, match=rf"^model={name} with backbone=conv needs images .* use model.backbone=mlp"):
        build_model({"name": name, "backbone": "conv"}, (64,), 2)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_unknown_key_names_the_key_and_the_config_file(family):
    name = FAMILIES[family]["name"]
    with pytest.raises(ConfigError) as caught:
        build_model({**FAMILIES[family], "depth": 3}, (1, 8, 8), 2)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"model={name}: unexpected keyword argument 'depth'")
    assert f"aelat/conf/model/{name}.yaml" in message


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"name": "vae", "backbone": "resnet"}, r"^model.backbone='resnet' is not one of mlp, conv; .*/vae.yaml$"),
        ({"name": "dae", "backbone": "resnet"}, r"^model.backbone='resnet' is not one of mlp, conv; .*/dae.yaml$"),
        ({"name": "vae", "beta": -1.0}, r"^model.beta=-1.0 must be >= 0"),
        ({"name": "dae", "noise": "salt"}, r"^model.noise='salt' is not one of gaussian, mask"),
        ({"name": "dae", "noise": "mask", "noise_level": 1.5}, r"^model.noise_level=1.5 must be in \[0, 1\] for"),
        ({"name": "dae", "noise_level": -0.1}, r"^model.noise_level=-0.1 must be >= 0 for noise=gaussian$"),
        ({"name": "conv", "channels": []}, r"^model.channels=\[\] must list at least one width >= 1"),
    ],
)
def test_bad_option_values_are_one_clear_error(cfg, match):
    with pytest.raises(ConfigError, match=match):
        build_model(cfg, (1, 8, 8), 2)


@pytest.mark.parametrize("name", ["mlp", "conv", "vae", "dae"])
def test_shipped_yaml_builds_its_model(name):
    cfg = OmegaConf.load(f"{__file__.rsplit('/tests/', 1)[0]}/src/aelat/conf/model/{name}.yaml")
    assert cfg.name == name
    assert type(build_model(cfg, (1, 8, 8), 2)) is MODELS[name]
