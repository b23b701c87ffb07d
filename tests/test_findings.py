"""Findings on synthetic data whose answer is known, through the whole pipeline (`aelat run` on an npz).

(a) classes as well-separated Gaussian blobs: the data already has the structure, training adds none;
(b) classes set by a bump's position along a line of pixels, which a 1-d code can hold and one linear
    direction folds over: the trained encoder's gain over PCA is detected;
(c) one Gaussian with random labels: no representation has class structure, and every t-SNE map is
    flagged as showing groups that are not the classes;
(d) one class in twenty, shifted away from the rest: structure beyond chance, which plain accuracy
    against always guessing the big class would miss;
(e) classes on a small circle in one plane under large noise in every other direction: a linear probe
    tells them apart, nearest neighbours do not, and the untrained encoder loses what the probe found.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aelat import findings as findings_module
from aelat.cli import app

# Small evaluation samples and no N2D clustering: the findings' logic is under test, not those numbers.
EVAL_FAST = ["evaluate.distribution.n_bootstrap=20", "evaluate.distribution.n_directions=20",
             "evaluate.neighbourhood.sample_size=300", "evaluate.n2d.of=[]"]
STRUCTURE = ("knn_accuracy_10", "probe_accuracy")


def run(tmp: Path, name: str, arrays: dict, *args: str) -> tuple[dict, str]:
    path = tmp / f"{name}.npz"
    np.savez(path, **arrays)
    out = tmp / "outputs"
    argv = ["run", "dataset=npz", f"dataset.path={path}", *EVAL_FAST, *args, f"output_dir={out}"]
    result = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    run_dir = (out / "latest").resolve()
    return json.loads((run_dir / "findings.json").read_text()), (run_dir / "report.md").read_text()


def split(X: np.ndarray, y: np.ndarray, n_train: int) -> dict:
    return {"Xtr": X[:n_train].astype(np.float32), "ytr": y[:n_train], "Xte": X[n_train:].astype(np.float32),
            "yte": y[n_train:]}


def claims_by_id(findings: dict) -> dict:
    return {claim["id"]: claim for claim in findings["claims"]}


def findings_sentences(report: str) -> list[str]:
    paragraph = report.split("## Findings\n\n", 1)[1].split("\n", 1)[0]
    return [s for s in re.split(r"(?<=\.)\s+(?=[A-Z])", paragraph) if s]


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    rng = np.random.default_rng(0)
    centres = rng.uniform(0.2, 0.8, size=(4, 20))
    y = rng.integers(0, 4, 900)
    X = np.clip(centres[y] + rng.normal(scale=0.02, size=(900, 20)), 0, 1)
    return run(tmp_path_factory.mktemp("blobs"), "blobs", split(X, y, 600), "latent_dim=4", "train.epochs=15",
               "--method", "pca", "--of", "raw")


def test_blobs_the_data_already_had_it_and_training_adds_nothing(blobs):
    findings, report = blobs
    claims = claims_by_id(findings)
    assert claims["raw_vs_chance.knn_accuracy_10"]["verdict"] == "a_higher"
    assert "The raw input already separates the classes" in report
    for baseline in ("pca", "raw"):
        for metric in STRUCTURE:
            claim = claims[f"latent_vs_{baseline}.{metric}"]
            assert claim["verdict"] != "a_higher", claim["statement"]


def test_report_opens_with_four_to_eight_sentences_and_claims_carry_every_field(blobs):
    findings, report = blobs
    assert report.split("\n## ")[1].startswith("Findings")
    assert 4 <= len(findings_sentences(report)) <= 8, findings_sentences(report)
    fields = {"id", "statement", "metric", "a", "b", "difference", "ci_low", "ci_high", "test", "p_value", "verdict"}
    for claim in findings["claims"]:
        assert fields <= set(claim)
        assert claim["verdict"] in ("a_higher", "b_higher", "no_detectable_difference", "warning")
        if claim["verdict"] != "warning" and claim["corrected"]:
            # a difference called real has an interval on the side it claims
            assert claim["ci_low"] <= claim["difference"] <= claim["ci_high"]
            if claim["verdict"] == "a_higher":
                assert claim["ci_low"] > 0 and claim["p_holm"] < findings["alpha"]
            if claim["verdict"] == "b_higher":
                assert claim["ci_high"] < 0 and claim["p_holm"] < findings["alpha"]
    assert any(claim["id"] == "warning.one_seed" for claim in findings["claims"])
    gaussianity = claims_by_id(findings)["latent.gaussianity"]  # reported outside the Holm family
    assert not gaussianity["corrected"] and "outside the Holm family" in gaussianity["test"]
    tested = [c for c in findings["claims"] if c["corrected"] and c["p_value"] is not None]
    assert findings["correction"] == f"Holm over {len(tested)} comparisons"


@pytest.fixture(scope="module")
def moving_bump(tmp_path_factory):
    rng = np.random.default_rng(1)
    position = rng.uniform(2, 17, 2000)
    y = np.minimum(((position - 2) / 15 * 4).astype(int), 3)
    X = np.exp(-((np.arange(20)[None, :] - position[:, None]) ** 2) / (2 * 1.5**2))
    X = np.clip(X + rng.normal(scale=0.02, size=X.shape), 0, 1)
    return run(tmp_path_factory.mktemp("bump"), "bump", split(X, y, 1500), "latent_dim=1", "train.epochs=30",
               "--method", "pca", "--of", "raw")


def test_nonlinear_classes_the_encoders_gain_over_pca_is_detected(moving_bump):
    findings, report = moving_bump
    claim = claims_by_id(findings)["latent_vs_pca.knn_accuracy_10"]
    assert claim["verdict"] == "a_higher", claim["statement"]
    assert claim["difference"] > 0.1 and claim["p_holm"] < 0.05
    assert re.search(r"Training adds class structure beyond PCA of the same size \(1-d\): kNN@10|"
                     r"Against PCA of the same size \(1-d\), the 1-d latent is higher in kNN@10", report), report


@pytest.fixture(scope="module")
def structureless(tmp_path_factory):
    rng = np.random.default_rng(2)
    X = np.clip(0.5 + 0.1 * rng.normal(size=(900, 10)), 0, 1)
    y = rng.integers(0, 4, 900)
    return run(tmp_path_factory.mktemp("noise"), "noise", split(X, y, 600), "latent_dim=2", "train.epochs=5",
               "--method", "tsne", "--of", "all", "embed.tsne.perplexity=20")


def test_structureless_data_no_class_structure_is_claimed_and_maps_are_flagged(structureless):
    findings, report = structureless
    claims = claims_by_id(findings)
    for claim in findings["claims"]:
        if claim["b"] == "chance":
            assert claim["verdict"] != "a_higher", claim["statement"]
        if claim["metric"] in STRUCTURE and claim["verdict"] != "warning":
            assert claim["verdict"] == "no_detectable_difference", claim["statement"]
    for source in ("raw", "pca", "untrained", "latent"):
        warning = claims[f"warning.not_class_related.tsne({source})"]
        assert "not the classes" in warning["statement"]
    assert "The raw input shows no class structure beyond chance" in report


@pytest.fixture(scope="module")
def rare_class(tmp_path_factory):
    rng = np.random.default_rng(11)
    y = (rng.random(2000) < 0.05).astype(int)
    shift = np.zeros(20)
    shift[:3] = 1.6
    X = rng.normal(size=(2000, 20)) + y[:, None] * shift
    return run(tmp_path_factory.mktemp("rare"), "rare", split(X, y, 1500), "dataset.scale=standard", "latent_dim=4",
               "train.epochs=10", "--method", "pca", "--of", "raw")


def test_a_rare_class_told_apart_is_structure_beyond_chance(rare_class):
    findings, report = rare_class
    claims = claims_by_id(findings)
    assert any(claims[f"raw_vs_chance.{metric}"]["verdict"] == "a_higher" for metric in STRUCTURE)
    assert claims["raw_vs_chance.knn_accuracy_10"]["b_value"] == pytest.approx(0.5)  # 1 / 2 classes, not 0.95
    assert "The raw input shows no class structure beyond chance" not in report


@pytest.fixture(scope="module")
def linear_only(tmp_path_factory):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 2000)
    angle = y * np.pi / 2 + rng.normal(scale=0.1, size=2000)
    X = rng.normal(size=(2000, 50))
    X[:, :2] = 0.5 * np.column_stack([np.cos(angle), np.sin(angle)])
    return run(tmp_path_factory.mktemp("linear"), "linear", split(X, y, 1500), "dataset.scale=none", "latent_dim=4",
               "train.epochs=5", "--method", "pca", "--of", "raw")


def test_classes_a_probe_finds_but_neighbours_do_not_are_structure_and_the_untrained_encoder_loses_it(linear_only):
    findings, report = linear_only
    claims = claims_by_id(findings)
    assert claims["raw_vs_chance.probe_accuracy"]["verdict"] == "a_higher"
    assert claims["raw_vs_chance.knn_accuracy_10"]["verdict"] != "a_higher"
    sentences = findings_sentences(report)
    assert sentences[0].startswith("The raw input's classes are told apart beyond chance by a linear probe but not "
                                   "by their nearest neighbours"), sentences[0]
    if claims["untrained_vs_raw.probe_accuracy"]["verdict"] == "b_higher":
        assert sentences[1].startswith("A random, untrained encoder of the same shape loses part of the raw input's "
                                       "class structure: linear probe"), sentences[1]


def test_findings_quote_no_dataset_by_name():
    """The sentences are generated: the module holds no dataset's name or numbers."""
    source = Path(findings_module.__file__).read_text().lower()
    for name in ("mnist", "cifar", "fashion", "load_digits", "svhn"):
        assert name not in source


def test_warnings_name_an_undertrained_model_a_latent_as_wide_as_the_input_and_small_classes(tmp_path):
    """A 36-pixel dataset of 52 points, a 40-d latent, 2 epochs: each warning a careful colleague would give."""
    rng = np.random.default_rng(3)
    arrays = {"Xtr": rng.random((40, 6, 6)).astype(np.float32), "ytr": np.arange(40) % 3,
              "Xte": rng.random((12, 6, 6)).astype(np.float32), "yte": np.arange(12) % 3}
    findings, report = run(tmp_path, "tiny", arrays, "latent_dim=40", "train.epochs=2", "model.hidden=[32]", "train.batch_size=8",
                           "evaluate.knn.ks=[1,15]", "--method", "pca", "--of", "latent")
    ids = {claim["id"] for claim in findings["claims"] if claim["verdict"] == "warning"}
    # PCA keeps all 36 pixels, so it reconstructs exactly; 2 epochs of an autoencoder do not
    assert {"warning.latent_dim", "warning.under_trained.reconstruction", "warning.one_seed"} <= ids, ids
    assert {"warning.small_class.0", "warning.small_class.1", "warning.small_class.2"} <= ids, ids
    small = next(c for c in findings["claims"] if c["id"] == "warning.small_class.0")["statement"]
    assert "fewer train points than k = 15" in small
    assert "**Warnings**" in report and "is not smaller than what PCA can keep" in report


@pytest.mark.parametrize("fall, warned", [(0.05, True), (0.002, False)])
def test_a_test_loss_still_falling_is_flagged(blobs, tmp_path_factory, fall, warned):
    """The same run's metrics with a training log whose test loss falls by ``fall`` per epoch at the end."""
    metrics_path = next(tmp_path_factory.getbasetemp().glob("blobs*/outputs/latest/metrics.json"))
    metrics = json.loads(metrics_path.read_text())
    loss = 0.5 * (1 - fall) ** np.arange(10)
    log = np.array(list(zip(range(1, 11), loss)), dtype=[("epoch", int), ("test_loss", float)])
    findings = findings_module.run_findings(metrics, log, loss_still_falling=0.01)
    assert any(c.id == "warning.under_trained.loss" for c in findings.claims) == warned


def test_a_difference_only_holms_correction_leaves_undetected_says_so():
    """An interval (uncorrected) that excludes 0 beside "no detectable difference" is explained; an interval
    covering 0 needs no explanation."""
    def claim(low, high, p_holm):
        made = findings_module.Claim(id="latent_vs_raw.gmm_nmi", statement="", metric="gmm_nmi", a="latent", b="raw",
                                     difference=(low + high) / 2, ci_low=low, ci_high=high, test="paired bootstrap",
                                     p_value=0.01, a_value=0.5, b_value=0.5 - (low + high) / 2)
        made.p_holm = p_holm
        made.verdict = findings_module.decide(made, 0.05)
        return made

    undetected = claim(-0.006, -0.001, 0.236)
    assert undetected.verdict == findings_module.SAME
    assert "after Holm's correction" in findings_module.format_difference(undetected)
    assert "after Holm's correction" not in findings_module.format_difference(claim(-0.006, 0.002, 0.236))
    assert "after Holm's correction" not in findings_module.format_difference(claim(-0.006, -0.001, 0.001))


@pytest.mark.parametrize("low, high, verdict", [
    (-0.01, 0.03, "no detectable difference."),
    (0.02, 0.06, "higher on these points; the interval leaves out the N2D fit's own randomness (one fit)")])
def test_n2d_is_compared_with_a_mixture_on_the_latent_itself(low, high, verdict):
    versus = {"a": 0.84, "b": 0.80, "difference": 0.04, "ci_low": low, "ci_high": high, "fits": [1, 3]}
    n2d = {"accuracy": 0.84, "accuracy_ci": [0.82, 0.86], "nmi": 0.8, "nmi_ci": [0.78, 0.82],
           "settings": {"n_components": 10, "n_clusters": 10}, "versus_gmm": {"accuracy": versus}}
    text = findings_module._Writer({"latent": {"structure": {"n2d": n2d}}}, {}, "knn_accuracy_10", {}).n2d()
    assert "A Gaussian mixture on the latent itself reaches 0.800: N2D minus the mixture +0.040, 95% CI [" in text
    assert verdict in text
