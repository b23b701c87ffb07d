"""`aelat analyse` through the pipeline: dynamics, layer profile, geometry and holes for every family, checked
against independent computations, kept current by the manifest, shown in the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from aelat import artifacts
from aelat.cli import app
from aelat.config import compose
from aelat.data import load_dataset
from aelat.data.sample import draw_sample
from aelat.metrics.distribution import twonn_dimension
from aelat.models import load_checkpoint
from test_pipeline import brute_force_knn_accuracy

QUICK = ["train.epochs=4", "latent_dim=3", "analyse.geometry_points=300", "evaluate.n2d.of=[]",
         "analyse.holes.n_prior=2000", "evaluate.distribution.n_bootstrap=10", "evaluate.silhouette.sample_size=500",
         "--method", "pca", "--of", "latent"]
FAMILIES = {"mlp": ["model.hidden=[32]"], "conv": ["model=conv", "model.channels=[4,8]"],
            "vae": ["model=vae", "model.hidden=[32]"], "dae": ["model=dae", "model.hidden=[32]"]}


def invoke(out: Path, *args: str):
    result = CliRunner().invoke(app, [*args, f"output_dir={out}"], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One quick `aelat run` per model family on digits; family -> run folder."""
    out = tmp_path_factory.mktemp("analyse")
    folders = {}
    for family, overrides in FAMILIES.items():
        code, _, stderr = invoke(out, "run", *overrides, *QUICK)
        assert code == 0, stderr
        folders[family] = (out / "latest").resolve()
    return folders


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_gets_dynamics_layers_geometry_and_the_vae_its_holes(runs, family):
    run = runs[family]
    dynamics = rows(run / artifacts.DYNAMICS)
    assert [(r["representation"], r["epoch"]) for r in dynamics] == [
        ("raw", ""), ("pca", ""), ("untrained", ""), *(("latent", str(e)) for e in (0, 1, 2, 4))]
    layers = rows(run / artifacts.LAYERS)
    names = {"mlp": ["input", "dense 1", "latent"], "conv": ["input", "conv 1", "conv 2", "latent"]}
    expected = names["conv" if family == "conv" else "mlp"]
    assert [r["name"] for r in layers] == expected * 2 and [r["encoder"] for r in layers] == ["trained"] * len(
        expected) + ["untrained"] * len(expected)
    dims = {"mlp": [64, 32, 3], "conv": [64, 4 * 4 * 4, 8 * 2 * 2, 3]}["conv" if family == "conv" else "mlp"]
    assert [int(r["dim"]) for r in layers[: len(expected)]] == dims
    assert layers[len(expected) - 1]["sw_to_next"] == "" and float(layers[0]["sw_to_next"]) > 0
    geometry = rows(run / artifacts.GEOMETRY)
    assert {(r["encoder"], r["class"]) for r in geometry} == {
        (e, c) for e in ("trained", "untrained", "pca") for c in [*map(str, range(10)), "all"]}
    assert all(int(r["n"]) == 300 for r in geometry if r["class"] == "all")
    assert (run / artifacts.HOLES).exists() == (family == "vae")
    report = (run / "report.md").read_text()
    for section in ("## Training dynamics of Q", "## Layer by layer", "## Encoder geometry"):
        assert section in report
    assert ("## VAE: where Q misses the prior" in report) == (family == "vae")
    recorded = json.loads((run / artifacts.MANIFEST).read_text())["stages"]
    assert set(recorded["analyse"]["outputs"]) >= {artifacts.DYNAMICS, artifacts.LAYERS, artifacts.GEOMETRY}
    assert {"report_dynamics_maps.png", "report_dynamics_maps.gif", "report_layers.png"} <= set(recorded["report"]["outputs"])


def test_vae_holes_and_their_decodings(runs):
    holes = json.loads((runs["vae"] / artifacts.HOLES).read_text())
    latents = artifacts.read_npz(runs["vae"] / artifacts.LATENTS)
    assert holes["n_codes"] == len(latents["z_train"]) and holes["n_prior"] == 2000 and holes["quantile"] == 0.99
    assert 0 <= holes["share_low"] <= holes["share"] <= holes["share_high"] <= 1
    own = np.sort(np.linalg.norm(latents["z_train"][:, None] - latents["z_train"][None], axis=2), axis=1)[:, 1]
    assert holes["threshold"] == pytest.approx(np.quantile(own, 0.99), rel=1e-5)
    active = np.exp(latents["z_logvar_train"]).mean(axis=0) < 0.5
    assert holes["dim"] == 3 and holes["active_dimensions"] == int(active.sum())
    if active.any():
        codes = latents["z_train"][:, active]
        own = np.sort(np.linalg.norm(codes[:, None] - codes[None], axis=2), axis=1)[:, 1]
        assert holes["active"]["threshold"] == pytest.approx(np.quantile(own, 0.99), rel=1e-5)
    decodings = artifacts.read_npz(runs["vae"] / artifacts.HOLES_ARRAYS)
    assert decodings["covered_decodings"].shape[1:] == (1, 8, 8)
    assert len(decodings["hole_decodings"]) == min(8, round(holes["share"] * 2000))


def test_epoch_zero_is_the_untrained_baseline_on_the_same_sample(runs):
    run = runs["mlp"]
    dynamics = {(r["representation"], r["epoch"]): r for r in rows(run / artifacts.DYNAMICS)}
    for key, value in dynamics["latent", "0"].items():
        if key not in ("representation", "epoch"):
            assert float(value) == pytest.approx(float(dynamics["untrained", ""][key]), rel=1e-6, abs=1e-9), key
    # independently: the encode stage's untrained codes at the sample's rows
    cfg = compose([f"output_dir={run.parent}", *QUICK[:4], *FAMILIES["mlp"]])
    data = load_dataset(cfg)
    sample = draw_sample(cfg, len(data.x_train), len(data.x_test))
    latents = artifacts.read_npz(run / artifacts.LATENTS)
    Z_train, Z_test = latents["untrained_train"][sample.train], latents["untrained_test"][sample.test]
    y_train, y_test = latents["y_train"][sample.train], latents["y_test"][sample.test]
    knn = brute_force_knn_accuracy(Z_train, y_train, Z_test, y_test, 10)
    assert float(dynamics["latent", "0"]["knn_accuracy"]) == pytest.approx(knn)
    Z, y = np.concatenate([Z_train, Z_test]), np.concatenate([y_train, y_test])
    means = np.array([Z[y == c].mean(0) for c in range(10)])
    between = sum((y == c).mean() * np.sum((means[c] - Z.mean(0)) ** 2) for c in range(10))
    assert float(dynamics["latent", "0"]["between_class_variance_share"]) == pytest.approx(
        between / Z.var(0).sum(), rel=1e-5)
    assert float(dynamics["latent", "0"]["twonn_dimension"]) == pytest.approx(twonn_dimension(Z, seed=0), rel=1e-4)


def test_layer_profile_ends_where_the_dynamics_do(runs):
    """The untrained encoder's last layer is epoch 0's codes, the trained encoder's is the last epoch's."""
    run = runs["mlp"]
    dynamics = {(r["representation"], r["epoch"]): r for r in rows(run / artifacts.DYNAMICS)}
    layers = {(r["encoder"], r["name"]): r for r in rows(run / artifacts.LAYERS)}
    for encoder, epoch in (("untrained", "0"), ("trained", "4")):
        for key in ("knn_accuracy", "between_class_variance_share", "sw_between_classes", "twonn_dimension"):
            assert float(layers[encoder, "latent"][key]) == pytest.approx(float(dynamics["latent", epoch][key]),
                                                                          rel=1e-5), (encoder, key)
    same_input = {key: value for key, value in layers["untrained", "input"].items() if key != "sw_to_next"}
    assert layers["trained", "input"] == {**same_input, "encoder": "trained", "sw_to_next": layers["trained", "input"]["sw_to_next"]}
    assert float(layers["trained", "input"]["knn_accuracy"]) == pytest.approx(float(dynamics["raw", ""]["knn_accuracy"]))


def test_geometry_of_pca_is_its_projection_and_the_trained_spectrum_matches_autograd(runs):
    run = runs["mlp"]
    arrays = artifacts.read_npz(run / artifacts.GEOMETRY_ARRAYS)
    np.testing.assert_allclose(arrays["pca.singular_values"], 1.0, atol=1e-5)  # orthonormal rows
    np.testing.assert_allclose(arrays["pca.log_volume"], 0.0, atol=1e-4)
    data = load_dataset(compose([*QUICK[:4], *FAMILIES["mlp"]]))
    model = load_checkpoint(run / artifacts.MODEL, torch.device("cpu")).eval()
    for position in (0, 17, 299):
        x = data.x_train[int(arrays["index"][position])]
        J = torch.autograd.functional.jacobian(lambda v: model.encode(v[None])[0], x).reshape(3, -1)
        np.testing.assert_allclose(arrays["trained.singular_values"][position],
                                   torch.linalg.svdvals(J.double()).numpy(), rtol=1e-4)
    assert arrays["y"].tolist() == data.y_train[arrays["index"]].tolist()


def test_analyse_settings_make_it_stale_and_run_redoes_it_and_the_report(runs):
    out = runs["mlp"].parent
    before = rows(runs["mlp"] / artifacts.DYNAMICS)
    code, _, stderr = invoke(out, "run", *FAMILIES["mlp"], *QUICK, "analyse.profile.knn_k=3")
    assert code == 0, stderr
    assert "resume:" in stderr and "from analyse" in stderr
    after = rows(runs["mlp"] / artifacts.DYNAMICS)
    assert [r["probe_accuracy"] for r in after] == [r["probe_accuracy"] for r in before]
    assert [r["knn_accuracy"] for r in after] != [r["knn_accuracy"] for r in before]
    assert "| representation | epoch | kNN@3 |" in (runs["mlp"] / "report.md").read_text()
    code, stdout, stderr = invoke(out, "analyse", "--run", str(runs["mlp"]), "analyse.profile.knn_k=10")
    assert code == 0 and str(runs["mlp"] / artifacts.LAYERS) in stdout and "report: " in stderr
    assert rows(runs["mlp"] / artifacts.DYNAMICS) == before
    assert "| representation | epoch | kNN@10 |" in (runs["mlp"] / "report.md").read_text()


def test_without_snapshots_there_are_no_dynamics(tmp_path):
    code, _, stderr = invoke(tmp_path, "run", *FAMILIES["mlp"], *QUICK, "train.snapshots=[]")
    assert code == 0, stderr
    run = (tmp_path / "latest").resolve()
    assert not (run / artifacts.DYNAMICS).exists() and (run / artifacts.LAYERS).exists()
    report = (run / "report.md").read_text()
    assert "## Training dynamics" not in report and "## Layer by layer" in report



def test_the_per_point_evidence_gives_the_tables_numbers_and_the_report_its_intervals(runs):
    run = runs["conv"]
    dynamics = [r for r in rows(run / artifacts.DYNAMICS) if r["representation"] == "latent"]
    points = artifacts.read_npz(run / artifacts.DYNAMICS_POINTS)
    assert points["epochs"].tolist() == [int(r["epoch"]) for r in dynamics]
    assert points["knn_correct"].mean(axis=1) == pytest.approx([float(r["knn_accuracy"]) for r in dynamics])
    layers = rows(run / artifacts.LAYERS)
    evidence = artifacts.read_npz(run / artifacts.LAYERS_POINTS)
    assert evidence["knn_correct"].mean(axis=1) == pytest.approx([float(r["knn_accuracy"]) for r in layers])
    assert evidence["share_influence"].shape == (len(layers), points["share_influence"].shape[1])
    assert np.abs(evidence["share_influence"].mean(axis=1)).max() < 1e-9
    for row in layers:
        assert float(row["twonn_dimension_low"]) < float(row["twonn_dimension"]) < float(row["twonn_dimension_high"])
    report = (run / "report.md").read_text()
    assert "(McNemar, Holm-corrected over 3 layers, α = 0.05), kNN@10 is" in report
    assert "changed by no detectable amount over training" in report or "90 % of that change had come by epoch" in report
