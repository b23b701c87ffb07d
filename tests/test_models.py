import pytest
import torch

from aelat.data.digits import load_digits
from aelat.errors import ArtifactError, ConfigError
from aelat.models import build_model, checkpoint, load_checkpoint


@pytest.mark.parametrize("sample_shape", [(1, 8, 8), (3, 5, 4), (20,)])
@pytest.mark.parametrize("latent_dim", [1, 2, 16])
def test_mlp_shapes(sample_shape, latent_dim):
    model = build_model({"name": "mlp", "hidden": [32, 16]}, sample_shape, latent_dim)
    x = torch.rand(7, *sample_shape)
    assert model.encode(x).shape == (7, latent_dim)
    out = model(x).detach()
    assert out.shape == x.shape and 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_a_few_adam_steps_lower_the_loss():
    torch.manual_seed(0)
    model = build_model({"name": "mlp", "hidden": [64]}, (1, 8, 8), 4)
    x = load_digits(test_size=0.5, seed=0).x_train[:128]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = model.loss(x).item()
    for _ in range(20):
        optimizer.zero_grad()
        model.loss(x).backward()
        optimizer.step()
    assert model.loss(x).item() < 0.8 * before


def test_same_seed_gives_same_initial_weights():
    weights = []
    for _ in range(2):
        torch.manual_seed(5)
        weights.append(build_model({"name": "mlp", "hidden": [8]}, (4,), 2).state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_unknown_model_and_option():
    with pytest.raises(ConfigError, match="unknown model 'vae2'; choose one of: mlp"):
        build_model({"name": "vae2"}, (4,), 2)
    with pytest.raises(ConfigError, match="model=mlp: .*unexpected keyword argument 'depth'"):
        build_model({"name": "mlp", "depth": 3}, (4,), 2)


def test_checkpoint_round_trip(tmp_path):
    model = build_model({"name": "mlp", "hidden": [8]}, (1, 3, 3), 2)
    from omegaconf import OmegaConf

    torch.save(checkpoint(model, OmegaConf.create({"name": "mlp", "hidden": [8]})), tmp_path / "model.pt")
    loaded = load_checkpoint(tmp_path / "model.pt", torch.device("cpu"))
    x = torch.rand(3, 1, 3, 3)
    assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_corrupt_checkpoint_is_one_clear_error(tmp_path, damage):
    path = tmp_path / "model.pt"
    model = build_model({"name": "mlp", "hidden": [8]}, (4,), 2)
    from omegaconf import OmegaConf

    torch.save(checkpoint(model, OmegaConf.create({"name": "mlp", "hidden": [8]})), path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 100)
    else:
        torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ArtifactError, match="is not a readable aelat checkpoint .*re-run `aelat train`"):
        load_checkpoint(path, torch.device("cpu"))
